// Editing an encrypted paste in a real browser: created in the form (with and without a
// password), edited from its page's Edit link (decrypted into the form, encrypted again under
// the same key), the new revision opened from the same link in a fresh browser, and revision 1
// opened from the history with its old text. Neither the key nor the text ever reaches the
// server; the harness fails the test on any console error or CSP violation.
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { screenshot, seriousAxeViolations, useSite } from './harness.js'

const site = useSite({ MAX_PASTE_BYTES: '4096' })

const ENCRYPTED_URL = /\/[A-Za-z0-9_-]{10}#[A-Za-z0-9_-]{43}$/
const FIRST = 'def greet(name):\n    return "hello " + name\n'
const SECOND = 'def greet(name):\n    return f"hello, {name}!"\n\nprint(greet("world"))\n'

/** Everything the page sent the server: URLs and bodies. The key and the texts must be in none. */
function recordTraffic(page: Page): string[] {
  const sent: string[] = []
  page.on('request', (request) => sent.push(request.url(), request.postData() ?? ''))
  return sent
}

const decryptedText = (page: Page) => page.evaluate<string>(`[...document.querySelectorAll('#code code > span[id]')].map((el) => el.textContent).join('\\n')`)

/** Waits for the page to decrypt, answering the password prompt when there is one. */
async function decrypt(page: Page, password: string | undefined) {
  if (password) {
    await page.waitForSelector('#password-form:not([hidden])')
    await page.fill('#paste-password', password)
    await page.click('#password-form button[type="submit"]')
  }
}

describe.each([
  { name: 'without a password', password: undefined },
  { name: 'with a password', password: 'correct horse battery' },
])('editing an encrypted paste $name', ({ password }) => {
  it('decrypts into the edit form, saves under the same link, and keeps revision 1 readable from the history', async () => {
    const page = await site.newPage()
    const traffic = recordTraffic(page)
    await page.goto(`${site.url}/`)
    await page.fill('#title', 'greet.py')
    await page.selectOption('#language', 'python')
    await page.fill('#content', FIRST)
    await page.check('#encrypt')
    if (password) await page.fill('#encrypt-password', password)
    await page.click('#submit-btn')
    await page.waitForURL(ENCRYPTED_URL)
    const link = page.url()
    const id = new URL(link).pathname.slice(1)
    const key = link.slice(link.indexOf('#') + 1)
    await decrypt(page, password)
    await page.waitForSelector('#code code > span')

    // The creator's Edit link carries the key over to the edit page.
    await page.click('.toolbar-dynamic a.btn:text("Edit")')
    await page.waitForURL(`${site.url}/${id}/edit#${key}`)
    await decrypt(page, password)
    const editor = page.locator('#content')
    await expect.poll(() => editor.inputValue()).toBe(FIRST)
    expect(await page.locator('#title').inputValue()).toBe('greet.py')
    expect(await page.locator('#language').inputValue()).toBe('python')
    expect(await page.isDisabled('#submit-btn')).toBe(false)
    await expect.poll(() => page.locator('#byte-count').textContent()).toMatch(/ of 4 KiB$/)
    // Even a submit that bypassed the script could post none of the private fields.
    expect(await page.evaluate<string[]>(`[...new FormData(document.getElementById('paste-form')).keys()]`)).toEqual(['revision'])
    expect(await seriousAxeViolations(page), 'axe on the edit page').toEqual([])
    await screenshot(page, `encrypted-edit${password ? '-password' : ''}`)

    await editor.fill(SECOND)
    await page.fill('#title', 'greet.py v2')
    await page.click('#submit-btn')
    await page.waitForURL(`${site.url}/${id}#${key}`)
    await decrypt(page, password)
    await page.waitForSelector('#code code > span')
    expect(await decryptedText(page)).toBe(SECOND.replace(/\n$/, ''))
    expect(await page.locator('#paste-title').textContent()).toBe('greet.py v2')
    expect(await page.locator('.paste-revision').textContent()).toContain('Revision 2 of 2')

    // The link shared before the edit opens the new revision in a fresh browser.
    const reader = await site.newPage()
    const readerTraffic = recordTraffic(reader)
    await reader.goto(link)
    await decrypt(reader, password)
    await reader.waitForSelector('#code code > span')
    expect(await decryptedText(reader)).toBe(SECOND.replace(/\n$/, ''))

    // From the history, revision 1 opens with the same key, and shows the old text.
    await reader.click('.paste-revision a:text("History")')
    await reader.waitForURL(`${site.url}/${id}/revisions#${key}`)
    expect(await reader.locator('.revision-item').count()).toBe(2)
    expect(await reader.locator('.revision-diff').count()).toBe(0)
    await reader.click('.revision-link:text("Revision 1")')
    await reader.waitForURL(`${site.url}/${id}/r/1#${key}`)
    await decrypt(reader, password)
    await reader.waitForSelector('#code code > span')
    expect(await decryptedText(reader)).toBe(FIRST.replace(/\n$/, ''))
    expect(await reader.locator('#paste-title').textContent()).toBe('greet.py')
    expect(await reader.locator('.paste-revision').textContent()).toContain('Revision 1 of 2')

    for (const sent of [traffic, readerTraffic]) {
      expect(sent.length).toBeGreaterThan(5)
      for (const secret of [key, 'hello', 'greet', ...(password ? [password] : [])]) {
        expect(sent.filter((s) => s.includes(secret)), secret).toEqual([])
      }
    }
  })
})

describe('the edit page of an encrypted paste', () => {
  it('says so when the link has no key, and keeps the form disabled', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    await page.fill('#content', FIRST)
    await page.check('#encrypt')
    await page.click('#submit-btn')
    await page.waitForURL(ENCRYPTED_URL)
    const id = new URL(page.url()).pathname.slice(1)
    await page.goto(`${site.url}/${id}/edit`)
    await expect.poll(() => page.locator('#decrypt-status').textContent()).toMatch(/the link has no key/)
    expect(await page.isDisabled('#content')).toBe(true)
    expect(await page.isDisabled('#submit-btn')).toBe(true)
    expect(await page.locator('#content').inputValue()).toBe('')
  })
})
