// The new-paste form's details: remembered choices, the live byte count, Tab in the editor,
// and the warning before pasting something that looks like a secret.
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { screenshot, useSite } from './harness.js'

const site = useSite({ MAX_PASTE_BYTES: '2048' })

const PASTE_URL = /\/[A-Za-z0-9_-]{10}$/
const activeId = (page: Page) => page.evaluate<string>('document.activeElement ? document.activeElement.id : ""')

describe('the new-paste form', () => {
  it('remembers the last chosen expiry and visibility', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    expect(await page.inputValue('#expires')).toBe('never')
    expect(await page.isChecked('#visibility-unlisted')).toBe(true)

    await page.fill('#content', 'remember my choices\n')
    await page.selectOption('#expires', '1d')
    await page.check('#visibility-public')
    await page.click('#submit-btn')
    await page.waitForURL(PASTE_URL)

    await page.goto(`${site.url}/`)
    expect(await page.inputValue('#expires')).toBe('1d')
    expect(await page.isChecked('#visibility-public')).toBe(true)
  })

  it('shows the size limit and a live count of UTF-8 bytes', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    const count = page.locator('#byte-count')
    expect(await count.textContent()).toBe('0 B of 2 KiB')

    await page.fill('#content', 'héllo 🌍')
    await expect.poll(() => count.textContent()).toBe('11 B of 2 KiB')

    await page.fill('#content', 'x'.repeat(2049))
    await expect.poll(() => count.textContent()).toBe('2 KiB of 2 KiB — 1 B too large')
    expect(await page.getAttribute('#content', 'aria-invalid')).toBe('true')
  })

  it('indents with Tab, and lets Esc then Tab leave the editor', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    await page.focus('#content')
    await page.keyboard.type('if x:')
    await page.keyboard.press('Enter')
    await page.keyboard.press('Tab')
    await page.keyboard.type('pass')
    expect(await page.inputValue('#content')).toBe('if x:\n\tpass')
    expect(await activeId(page)).toBe('content')

    // A selection of lines is indented and dedented as a block.
    await page.keyboard.press('Control+A')
    await page.keyboard.press('Tab')
    expect(await page.inputValue('#content')).toBe('\tif x:\n\t\tpass')
    await page.keyboard.press('Shift+Tab')
    expect(await page.inputValue('#content')).toBe('if x:\n\tpass')

    await page.keyboard.press('Escape')
    await page.keyboard.press('Tab')
    expect(await activeId(page)).toBe('expires')
    expect(await page.inputValue('#content')).toBe('if x:\n\tpass')
  })

  it('shows the form again, with the reason and the text, when the server refuses a paste', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    const text = 'too long\n'.repeat(300)
    await page.fill('#title', 'my notes')
    await page.fill('#content', text)
    await page.click('#submit-btn')
    await page.waitForSelector('.alert-error')

    expect(await page.locator('.alert-error').textContent()).toMatch(/not created/)
    expect(await page.inputValue('#content')).toBe(text)
    expect(await page.inputValue('#title')).toBe('my notes')
    expect(await page.locator('#byte-count').textContent()).toMatch(/too large$/)
    expect(await page.isEnabled('#submit-btn')).toBe(true)
    await screenshot(page, 'refused-light-desktop')
  })

  it('warns before submitting what looks like a private key, and only warns', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    await page.fill('#content', '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n')

    let warning = ''
    page.once('dialog', (dialog) => {
      warning = dialog.message()
      void dialog.dismiss()
    })
    await page.click('#submit-btn')
    expect(warning).toMatch(/looks like it contains a private key/)
    expect(page.url()).toBe(`${site.url}/`)
    expect(await activeId(page)).toBe('content')

    page.once('dialog', (dialog) => void dialog.accept())
    await page.click('#submit-btn')
    await page.waitForURL(PASTE_URL)
    expect(await page.locator('#L1').textContent()).toBe('-----BEGIN OPENSSH PRIVATE KEY-----')
  })

  it('names each kind of token it recognises, and says nothing about ordinary text', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    const messages: string[] = []
    page.on('dialog', (dialog) => {
      messages.push(dialog.message())
      void dialog.dismiss()
    })
    await page.fill('#content', `aws_access_key_id = AKIA${'ABCDEFGHIJKLMNOP'}\ntoken: ghp_${'a1B2'.repeat(9)}\n`)
    await page.click('#submit-btn')
    expect(messages).toEqual([expect.stringMatching(/an AWS access key ID and a GitHub token/)])

    await page.fill('#content', 'The key to a good paste is a clear title.\n')
    await page.click('#submit-btn')
    await page.waitForURL(PASTE_URL)
    expect(messages).toHaveLength(1)
  })
})
