// Revisions in a real browser: create, edit twice through the edit form (its editor keeps the
// create form's shortcuts and size counter), open the history, open a diff, and follow a
// fork's "diff against origin". The harness fails the test on any console error or CSP violation.
import { describe, expect, it } from 'vitest'
import { pageWidths, PHONE, screenshot, seriousAxeViolations, useSite } from './harness.js'

const site = useSite({ MAX_PASTE_BYTES: '4096' })

const PASTE_URL = /\/[A-Za-z0-9_-]{10}$/

describe('revisions in the browser', () => {
  it('creates, edits twice, opens the history and a diff, and follows a fork to its origin diff', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    await page.fill('#content', 'def area(r):\n    return 3.14 * r * r\n')
    await page.selectOption('#language', 'python')
    await page.click('#submit-btn')
    await page.waitForURL(PASTE_URL)
    const id = new URL(page.url()).pathname.slice(1)

    for (const [i, line] of ['    # a circle', '    # pi, roughly'].entries()) {
      // Edit sits beside Delete, for the creator (the cookie) only.
      await page.click('.toolbar-dynamic a.btn:text("Edit")')
      await page.waitForURL(`${site.url}/${id}/edit`)
      const editor = page.locator('#content')
      expect(await editor.inputValue()).toContain('return 3.14 * r * r')
      // The create form's editor: the live byte count, and Ctrl+Enter saves.
      await expect.poll(() => page.locator('#byte-count').textContent()).toMatch(/ of 4 KiB$/)
      await editor.focus()
      await page.keyboard.press('Control+End')
      await page.keyboard.type(line)
      await page.keyboard.press('Control+Enter')
      await page.waitForURL(`${site.url}/${id}`)
      expect(await page.locator('.paste-revision').textContent()).toContain(`Revision ${i + 2} of ${i + 2}`)
    }
    await screenshot(page, 'revision-latest')

    await page.click('.paste-revision a:text("History")')
    await page.waitForURL(`${site.url}/${id}/revisions`)
    expect(await page.locator('.revision-item').count()).toBe(3)
    await screenshot(page, 'revision-history')

    await page.click('.revision-item:first-child .revision-diff')
    await page.waitForURL(`${site.url}/${id}/diff?from=2&to=3`)
    expect(await page.locator('tr.d-add').count()).toBe(1)
    expect(await page.locator('tr.d-add').textContent()).toContain('# pi, roughly')
    await screenshot(page, 'revision-diff')

    // A fork of revision 2 remembers it, and links to the diff against it.
    await page.goto(`${site.url}/${id}/r/2`)
    await page.click('a.btn:text("Fork")')
    await page.waitForURL(/\?fork=/)
    await page.locator('#content').focus()
    await page.keyboard.press('Control+End')
    await page.keyboard.type('\nprint(area(2))\n')
    await page.click('#submit-btn')
    await page.waitForURL(PASTE_URL)
    expect(await page.locator('.paste-fork').textContent()).toContain(`Forked from ${id} (revision 2)`)
    await page.click('a.fork-diff')
    await page.waitForURL(new RegExp(`/diff/${id}/[A-Za-z0-9_-]{10}\\?from=2$`))
    expect(await page.locator('tr.d-add').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('print(area(2))')]))
  })
})

describe('the revision pages', () => {
  it('pass axe in light and dark, and only the diff scrolls sideways on a phone', async () => {
    const paste = await site.createPaste({ content: 'const a = 1\n', language: 'javascript' })
    const res = await fetch(`${site.url}/api/pastes/${paste.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${paste.deleteToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: `const a = 2\nconst long = "${'x'.repeat(300)}"\n` }),
    })
    expect(res.status).toBe(200)
    const urls = [`/${paste.id}`, `/${paste.id}/r/1`, `/${paste.id}/revisions`, `/${paste.id}/diff`, `/${paste.id}/edit`]
    for (const colorScheme of ['light', 'dark'] as const) {
      const page = await site.newPage({ viewport: PHONE, colorScheme })
      for (const url of urls) {
        await page.goto(`${site.url}${url}`)
        expect(await seriousAxeViolations(page), `${url} (${colorScheme})`).toEqual([])
        const { scrollWidth, clientWidth } = await pageWidths(page)
        expect(scrollWidth, `${url} scrolls sideways`).toBeLessThanOrEqual(clientWidth)
      }
    }
  })
})
