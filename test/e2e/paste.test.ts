// A paste's life in a real browser: created through the form, read, linked by line, copied,
// forked, deleted by its creator, and burned after reading.
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { DESKTOP, screenshot, useSite } from './harness.js'

const site = useSite()

const PASTE_URL = /\/[A-Za-z0-9_-]{10}$/

const PYTHON = [
  'import sys',
  '',
  '',
  'def greet(name: str) -> str:',
  '    """Says hello."""',
  '    return f"Hello, {name}!"',
  '',
  '',
  'class Counter:',
  '    def __init__(self) -> None:',
  '        self.count = 0',
  '',
  'if __name__ == "__main__":',
  '    print(greet(sys.argv[1]))',
  '',
].join('\n')

/** Tabs, non-ASCII text, an emoji and a trailing newline: what a copy must keep exactly. */
const TRICKY = 'fn main() {\n\tlet s = "héllo, 世界 🌍";\n\t\tprintln!("{s}\\t→ done");\n}\n'

/** N numbered lines, so that a line far down the page exists. */
const manyLines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}: value = ${i * i}`).join('\n') + '\n'

async function createThroughForm(page: Page, fields: { content: string; title?: string; language?: string; burn?: boolean }) {
  await page.goto(`${site.url}/`)
  if (fields.title) await page.fill('#title', fields.title)
  if (fields.language) await page.selectOption('#language', fields.language)
  await page.fill('#content', fields.content)
  if (fields.burn) await page.check('#burn')
  await page.click('#submit-btn')
  await page.waitForURL(PASTE_URL)
  return page.url().slice(site.url.length + 1)
}

/** The numbers of the highlighted lines. */
const highlightedLines = (page: Page) =>
  page.evaluate<number[]>(`[...document.querySelectorAll('#code code > span.hl')].map((el) => Number(el.id.slice(1)))`)

describe('creating a paste through the form', () => {
  it('lands on the paste page with highlighted code and line numbers', async () => {
    const page = await site.newPage()
    await createThroughForm(page, { content: PYTHON, title: 'greet.py' })

    await expect.poll(() => page.locator('#code .hljs-keyword').count()).toBeGreaterThan(3)
    expect(await page.locator('h1.paste-title').textContent()).toBe('greet.py')
    expect(await page.locator('.paste-meta .lang-tag').textContent()).toBe('Python')
    expect(await page.locator('#code code > span').count()).toBe(14)
    // Line numbers are drawn by CSS (a counter the code element resets and each line counts), so
    // copying the code by hand never copies them, and line n shows n.
    const numbering = await page.evaluate<string[]>(`[getComputedStyle(document.querySelector('#code code')).counterReset, getComputedStyle(document.querySelector('#L9')).counterIncrement, getComputedStyle(document.querySelector('#L9 > a'), '::before').content, String([...document.querySelector('#code code').children].indexOf(document.querySelector('#L9')) + 1)]`)
    expect(numbering).toEqual(['line 0', 'line 1', 'counter(line)', '9'])
    expect(await page.locator('#L9').textContent()).toBe('class Counter:')
  })

  it.each(['Control+Enter', 'Meta+Enter'])('submits with %s from the editor', async (keys) => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    await page.fill('#content', `sent with ${keys}\n`)
    await page.press('#content', keys)
    await page.waitForURL(PASTE_URL)
    expect(await page.locator('#L1').textContent()).toBe(`sent with ${keys}`)
  })
})

describe('line links', () => {
  it('puts #L5 in the URL on a click and #L5-L9 on a shift-click, highlighting the range', async () => {
    const { id } = await site.createPaste({ content: manyLines(20) })
    const page = await site.newPage()
    await page.goto(`${site.url}/${id}`)

    await page.click('#L5 > a')
    expect(new URL(page.url()).hash).toBe('#L5')
    expect(await highlightedLines(page)).toEqual([5])

    await page.click('#L9 > a', { modifiers: ['Shift'] })
    expect(new URL(page.url()).hash).toBe('#L5-L9')
    expect(await highlightedLines(page)).toEqual([5, 6, 7, 8, 9])
    // Shift-click selects lines, not text.
    expect(await page.evaluate<string>('String(getSelection())')).toBe('')
  })

  it('highlights the range of an opened #L80-L84 link and scrolls it into view', async () => {
    const { id } = await site.createPaste({ content: manyLines(200) })
    const page = await site.newPage()
    await page.goto(`${site.url}/${id}#L80-L84`)

    await expect.poll(() => highlightedLines(page)).toEqual([80, 81, 82, 83, 84])
    for (const line of ['#L80', '#L84']) {
      const box = await page.locator(line).boundingBox()
      expect(box).not.toBeNull()
      expect(box!.y).toBeGreaterThanOrEqual(0)
      expect(box!.y + box!.height).toBeLessThanOrEqual(DESKTOP.height)
    }
  })
})

describe('copying', () => {
  it('puts the exact content on the clipboard: tabs, unicode and the trailing newline', async () => {
    const context = await site.newContext()
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url })
    const page = await context.newPage()
    // Through the form, whose textarea the browser sends with CRLF line breaks.
    await createThroughForm(page, { content: TRICKY, language: 'rust' })

    await page.click('#copy-btn')
    await expect.poll(() => page.locator('#copy-btn').textContent()).toBe('Copied!')
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(TRICKY)
    expect(await page.locator('#copy-status').textContent()).toBe('Copied!')
  })

  it('copies the paste\'s link with one click', async () => {
    const { id } = await site.createPaste({ content: 'a link worth sharing\n' })
    const context = await site.newContext()
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url })
    const page = await context.newPage()
    await page.goto(`${site.url}/${id}#L1`)

    await page.click('#copy-link-btn')
    await expect.poll(() => page.locator('#copy-link-btn').textContent()).toBe('Copied!')
    expect(await page.evaluate<string>('navigator.clipboard.readText()')).toBe(`${site.url}/${id}`)
  })
})

describe('reading', () => {
  it('shows relative times with the absolute time on hover', async () => {
    const { id } = await site.createPaste({ content: 'soon gone\n', expires: '1h' })
    const page = await site.newPage()
    await page.goto(`${site.url}/${id}`)

    const created = page.locator('.paste-dates time').first()
    const expires = page.locator('.paste-dates time').nth(1)
    await expect.poll(() => created.textContent()).toBe('just now')
    expect(await expires.textContent()).toBe('in 1 hour')
    // The hover title is a full local date and time, e.g. "Jan 5, 2026, 6:21 AM".
    expect(await created.getAttribute('title')).toMatch(/\d{4}.*\d{1,2}:\d{2}/)
  })

  it('wraps long lines on demand and remembers the choice', async () => {
    const { id } = await site.createPaste({ content: `short\n${'wrap-me '.repeat(80)}\n` })
    const page = await site.newPage()
    await page.goto(`${site.url}/${id}`)
    const codeScrolls = () => page.evaluate<boolean>(`(() => { const el = document.getElementById('code'); return el.scrollWidth > el.clientWidth })()`)

    expect(await page.getAttribute('#wrap-btn', 'aria-pressed')).toBe('false')
    expect(await codeScrolls()).toBe(true)
    await page.click('#wrap-btn')
    expect(await page.getAttribute('#wrap-btn', 'aria-pressed')).toBe('true')
    expect(await codeScrolls()).toBe(false)

    await page.reload()
    expect(await page.getAttribute('#wrap-btn', 'aria-pressed')).toBe('true')
    expect(await codeScrolls()).toBe(false)
  })
})

describe('forking', () => {
  it('pre-fills the form with the paste\'s content, title and language', async () => {
    const { id } = await site.createPaste({ content: TRICKY, title: 'main.rs', language: 'rust' })
    const page = await site.newPage()
    await page.goto(`${site.url}/${id}`)
    await page.click('a.btn:text-is("Fork")')
    await page.waitForURL(`${site.url}/?fork=${id}`)

    expect(await page.inputValue('#content')).toBe(TRICKY)
    expect(await page.inputValue('#title')).toBe('Fork of main.rs')
    expect(await page.inputValue('#language')).toBe('rust')
    // The notice links the revision the fork starts from.
    expect(await page.locator('.notice a').getAttribute('href')).toBe(`/${id}/r/1`)
  })
})

describe('deleting', () => {
  it('lets the creator\'s browser delete the paste, after a confirmation; nobody else sees Delete', async () => {
    const page = await site.newPage()
    const id = await createThroughForm(page, { content: 'mine to delete\n' })
    const deleteButton = page.locator('.delete-form button')
    expect(await deleteButton.textContent()).toBe('Delete')

    const stranger = await site.newPage()
    await stranger.goto(`${site.url}/${id}`)
    expect(await stranger.locator('#code code > span[id]').first().textContent()).toBe('mine to delete')
    expect(await stranger.locator('.delete-form').count()).toBe(0)

    // Dismissing the confirmation keeps the paste.
    page.once('dialog', (dialog) => void dialog.dismiss())
    await deleteButton.click()
    expect(page.url()).toBe(`${site.url}/${id}`)

    let question = ''
    page.once('dialog', (dialog) => {
      question = dialog.message()
      void dialog.accept()
    })
    await deleteButton.click()
    await page.waitForURL(`${site.url}/?deleted=1`)
    expect(question).toMatch(/Delete this paste permanently/)
    expect(await page.locator('[role="status"]').first().textContent()).toMatch(/deleted/i)
    await screenshot(page, 'deleted-light-desktop')

    const gone = await page.goto(`${site.url}/${id}`)
    expect(gone?.status()).toBe(404)
  })
})

describe('burn after reading', () => {
  it('shows a warning first, the paste on Reveal, and a 404 page on the next visit', async () => {
    const page = await site.newPage()
    const id = await createThroughForm(page, { content: 'the launch code is 0000\n', burn: true })

    expect(await page.locator('h1').textContent()).toBe('This paste burns after reading')
    expect(await page.locator('body').textContent()).not.toContain('launch code')
    await screenshot(page, 'burn-light-desktop')
    // Looking again (a link preview, a reload) never burns it.
    await page.reload()
    expect(await page.locator('h1').textContent()).toBe('This paste burns after reading')

    await page.click('button:text-is("Reveal and delete")')
    await page.waitForSelector('#code')
    expect(await page.locator('#L1').textContent()).toBe('the launch code is 0000')
    expect(await page.locator('.alert-warn').textContent()).toMatch(/has been deleted/)

    const next = await page.goto(`${site.url}/${id}`)
    expect(next?.status()).toBe(404)
    expect(await page.locator('h1').textContent()).toBe('Paste not found')
  })
})
