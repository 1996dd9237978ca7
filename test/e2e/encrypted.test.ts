// Encrypted pastes in a real browser: created in the form, opened from the link in a fresh
// browser (its own cookies and storage), with and without a password; a missing or wrong key;
// burn after reading; fork; and interop with the command-line client both ways.
import { readFile } from 'node:fs/promises'
import type { Page, Request } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { runRedbin } from '../helpers/cli.js'
import { PHONE, pageWidths, screenshot, seriousAxeViolations, useSite } from './harness.js'

const site = useSite({ MAX_PASTE_BYTES: '4096' })

const ENCRYPTED_URL = /\/[A-Za-z0-9_-]{10}#[A-Za-z0-9_-]{43}$/
const PYTHON = 'import os\n\n\ndef secret_plan(x):\n    """Nobody may read this."""\n    return os.environ["KEY"] * x\n'

/** Every URL a page asked the server for: the key must never be in one. */
function recordRequests(page: Page): string[] {
  const urls: string[] = []
  page.on('request', (request: Request) => urls.push(request.url()))
  return urls
}

async function createEncrypted(fields: { content: string; title?: string; language?: string; password?: string; burn?: boolean }): Promise<string> {
  const page = await site.newPage()
  const requests = recordRequests(page)
  await page.goto(`${site.url}/`)
  if (fields.title) await page.fill('#title', fields.title)
  if (fields.language) await page.selectOption('#language', fields.language)
  await page.fill('#content', fields.content)
  if (fields.burn) await page.check('#burn')
  await page.check('#encrypt')
  if (fields.password) await page.fill('#encrypt-password', fields.password)
  await page.click('#submit-btn')
  await page.waitForURL(ENCRYPTED_URL)
  const url = page.url()
  const key = url.slice(url.indexOf('#') + 1)
  expect(requests.filter((u) => u.includes(key))).toEqual([])
  return url
}

const decryptedText = (page: Page) => page.evaluate<string>(`[...document.querySelectorAll('#code code > span[id]')].map((el) => el.textContent).join('\\n')`)

async function expectAccessible(page: Page) {
  expect(await seriousAxeViolations(page), `axe on ${page.url()}`).toEqual([])
}

describe('an encrypted paste made in the form', () => {
  it('opens from its link in a fresh browser: decrypted, highlighted as on the server, with Raw, Copy and Download', async () => {
    const url = await createEncrypted({ content: PYTHON, title: 'plan.py', language: 'python' })
    const context = await site.newContext({ acceptDownloads: true })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url })
    const page = await context.newPage()
    const requests = recordRequests(page)
    await page.goto(url)
    await page.waitForSelector('#code code > span')
    expect(await page.locator('#paste-title').textContent()).toBe('plan.py')
    expect(await page.title()).toBe('plan.py · redbin')
    expect(await page.locator('#paste-language').textContent()).toBe('Python')
    expect(await page.locator('#paste-lines').textContent()).toBe('6 lines')
    expect(await page.locator('#code .hljs-keyword').count()).toBeGreaterThan(2)
    expect(await decryptedText(page)).toBe(PYTHON.replace(/\n$/, ''))
    expect(await page.isVisible('#decrypt-status')).toBe(false)
    await expectAccessible(page)
    await screenshot(page, 'encrypted-paste')

    await page.click('#decrypted-copy-btn')
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(PYTHON)
    await page.click('#decrypted-copy-link-btn')
    await expect.poll(() => page.evaluate<string>('navigator.clipboard.readText()')).toBe(url)

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#decrypted-download-btn')])
    const id = new URL(url).pathname.slice(1)
    expect(download.suggestedFilename()).toBe(`${id}.py`)
    expect(await readFile((await download.path())!, 'utf8')).toBe(PYTHON)

    const [raw] = await Promise.all([context.waitForEvent('page'), page.click('#decrypted-raw-btn')])
    await raw.waitForLoadState()
    expect(raw.url()).toMatch(/^blob:/)
    expect(await raw.evaluate<string>(`document.querySelector('pre').textContent`)).toBe(PYTHON)

    const key = url.slice(url.indexOf('#') + 1)
    expect(requests.length).toBeGreaterThan(3)
    expect(requests.filter((u) => u.includes(key))).toEqual([])
  })

  it('reads well on a phone in the dark: accessible, and only the code block scrolls sideways', async () => {
    const url = await createEncrypted({ content: `${'x = 1  # a long line that must scroll inside its block, never the page '.repeat(4)}\n`, title: 'wide', language: 'python' })
    const page = await site.newPage({ viewport: PHONE, colorScheme: 'dark' })
    await page.goto(url)
    await page.waitForSelector('#code code > span')
    await expectAccessible(page)
    const { scrollWidth, clientWidth } = await pageWidths(page)
    expect(scrollWidth).toBeLessThanOrEqual(clientWidth)
    await screenshot(page, 'encrypted-dark-phone')
  })

  it('keeps line links beside the key: #<key>/L2-L4 selects them, and clicking a line keeps the key', async () => {
    const url = await createEncrypted({ content: PYTHON, language: 'python' })
    const page = await site.newPage()
    await page.goto(`${url}/L2-L4`)
    await page.waitForSelector('#code code > span')
    await expect.poll(() => page.evaluate<number[]>(`[...document.querySelectorAll('#code code > span.hl')].map((el) => Number(el.id.slice(1)))`)).toEqual([2, 3, 4])
    await page.click('#L5 > a')
    expect(page.url()).toBe(`${url}/L5`)
    await page.click('#L6 > a', { modifiers: ['Shift'] })
    expect(page.url()).toBe(`${url}/L5-L6`)
    // The link still opens the paste.
    const again = await site.newPage()
    await again.goto(page.url())
    await again.waitForSelector('#L6.hl')
  })

  it('with a password: asks for it, says when it is wrong, and decrypts with the right one', async () => {
    const url = await createEncrypted({ content: 'the password protects me\n', title: 'Locked', password: 'correct horse' })
    const page = await site.newPage()
    await page.goto(url)
    await page.waitForSelector('#password-form:not([hidden])')
    expect(await page.locator('#decrypt-status').textContent()).toMatch(/protected with a password/)
    expect(await page.isVisible('#code-box')).toBe(false)
    await expectAccessible(page)

    await page.fill('#paste-password', 'battery staple')
    await page.click('#password-form button')
    await expect.poll(() => page.locator('#decrypt-status').textContent()).toMatch(/not the right one for this paste\. Try again/)
    expect(await page.getAttribute('#decrypt-status', 'class')).toBe('alert alert-error')
    await expectAccessible(page)
    await screenshot(page, 'encrypted-wrong-password')

    await page.fill('#paste-password', 'correct horse')
    await page.click('#password-form button')
    await page.waitForSelector('#code code > span')
    expect(await page.locator('#paste-title').textContent()).toBe('Locked')
    expect(await decryptedText(page)).toBe('the password protects me')
    expect(await page.isVisible('#password-form')).toBe(false)
  })

  it('says the key is missing, or wrong, on the page', async () => {
    const url = await createEncrypted({ content: 'keyed\n' })
    const page = await site.newPage()
    await page.goto(url.replace(/#.*/, ''))
    await expect.poll(() => page.locator('#decrypt-status').textContent()).toMatch(/the link has no key/)
    expect(await page.getAttribute('#decrypt-status', 'role')).toBe('alert')
    await expectAccessible(page)
    await screenshot(page, 'encrypted-missing-key')

    const wrong = await site.newPage()
    await wrong.goto(url.replace(/#.*/, `#${'A'.repeat(43)}`))
    await expect.poll(() => wrong.locator('#decrypt-status').textContent()).toMatch(/does not open this paste/)
    const cut = await site.newPage()
    await cut.goto(url.slice(0, -4))
    await expect.poll(() => cut.locator('#decrypt-status').textContent()).toMatch(/incomplete or altered/)
  })

  it('burns after reading: the link shows the warning, revealing decrypts it once', async () => {
    const url = await createEncrypted({ content: 'read me once\n', title: 'Ephemeral', burn: true })
    const page = await site.newPage()
    await page.goto(url)
    expect(await page.locator('h1').textContent()).toMatch(/burns after reading/)
    await page.click('.burn-form button')
    await page.waitForSelector('#code code > span')
    expect(page.url()).toMatch(/\/reveal#[A-Za-z0-9_-]{43}$/)
    expect(await page.locator('#paste-title').textContent()).toBe('Ephemeral')
    expect(await decryptedText(page)).toBe('read me once')
    // Its link is dead now: nothing offers to share or fork it; Copy and Download still work here.
    expect(await page.locator('#decrypted-copy-link-btn, #decrypted-fork-btn').count()).toBe(0)
    expect(await page.isEnabled('#decrypted-copy-btn')).toBe(true)
    await expectAccessible(page)
    const later = await site.newPage()
    const res = await later.goto(url.replace(/#.*/, ''))
    expect(res?.status()).toBe(404)
  })

  it('forks in the browser: the decrypted text fills the form and is encrypted again under a new key', async () => {
    const url = await createEncrypted({ content: PYTHON, title: 'original.py', language: 'python' })
    const page = await site.newPage()
    const requests = recordRequests(page)
    await page.goto(url)
    await page.waitForSelector('#code code > span')
    await page.click('#decrypted-fork-btn')
    await page.waitForURL(`${site.url}/`)
    expect(await page.inputValue('#content')).toBe(PYTHON)
    expect(await page.inputValue('#title')).toBe('Fork of original.py')
    expect(await page.inputValue('#language')).toBe('python')
    expect(await page.isChecked('#encrypt')).toBe(true)
    expect(await page.locator('.notice').textContent()).toMatch(/Forking encrypted paste/)
    await expectAccessible(page)
    await page.fill('#content', `${PYTHON}# forked\n`)
    await page.click('#submit-btn')
    await page.waitForURL(ENCRYPTED_URL)
    const fork = page.url()
    expect(fork.slice(fork.indexOf('#'))).not.toBe(url.slice(url.indexOf('#')))
    await page.waitForSelector('#code code > span')
    expect(await page.locator('#paste-title').textContent()).toBe('Fork of original.py')
    expect(await decryptedText(page)).toBe(`${PYTHON}# forked`)
    // Neither the text nor the keys went to the server in the clear.
    for (const key of [url, fork].map((u) => u.slice(u.indexOf('#') + 1))) expect(requests.filter((u) => u.includes(key))).toEqual([])
  })

  it('says so in the form, and keeps the text, when the encrypted paste would be too large', async () => {
    const page = await site.newPage()
    const requests = recordRequests(page)
    await page.goto(`${site.url}/`)
    const text = 'x'.repeat(4070)
    await page.fill('#content', text)
    await page.check('#encrypt')
    await page.click('#submit-btn')
    await page.waitForSelector('.alert-error')
    expect(await page.locator('.alert-error').textContent()).toMatch(/^Your paste was not created\. Encrypted, it would be 4\d{3} bytes; the limit is 4096 bytes\.$/)
    expect(await page.inputValue('#content')).toBe(text)
    expect(requests.filter((u) => u.includes('/api/'))).toEqual([])
    await expect.poll(() => page.isEnabled('#submit-btn')).toBe(true)
  })
  it('encrypts on Ctrl+Enter in a browser without requestSubmit (Safari before 16): the text never leaves in the clear', async () => {
    const context = await site.newContext()
    await context.addInitScript('delete HTMLFormElement.prototype.requestSubmit')
    const page = await context.newPage()
    const bodies: string[] = []
    page.on('request', (request: Request) => bodies.push(request.postData() ?? ''))
    await page.goto(`${site.url}/`)
    expect(await page.evaluate<string>('typeof document.forms[0].requestSubmit')).toBe('undefined')
    await page.fill('#content', PYTHON)
    await page.check('#encrypt')
    await page.focus('#content')
    await page.keyboard.press('Control+Enter')
    await page.waitForURL(ENCRYPTED_URL)
    expect(bodies.filter((b) => b.includes('secret_plan'))).toEqual([])
    expect(bodies.some((b) => b.includes('"envelope"'))).toBe(true)
  })
})

describe('decrypted text on the page', () => {
  it('is only ever text: a title and content full of markup stay inert', async () => {
    const payload = '<img src=x onerror="document.title=1"><script>document.title=2</script>'
    const made = await runRedbin(site.url, ['paste', '-', '--encrypt', '--title', payload, '--language', 'html'], { input: `${payload}\n` })
    expect(made.code, made.stderr).toBe(0)
    const page = await site.newPage()
    await page.goto(made.stdout.trim())
    await page.waitForSelector('#code code > span')
    expect(await page.locator('#paste-title').textContent()).toBe(payload)
    expect(await decryptedText(page)).toBe(payload)
    expect(await page.locator('#encrypted-paste img, #encrypted-paste #code script').count()).toBe(0)
    expect(await page.title()).toBe(`${payload} · redbin`)
  })
})

describe('interop with the command-line client', () => {
  it('a paste encrypted by redbin opens and decrypts in Chromium', async () => {
    const made = await runRedbin(site.url, ['paste', '-', '--encrypt', '--title', 'from the cli', '--language', 'rust'], { input: 'fn main() {}\n' })
    expect(made.code, made.stderr).toBe(0)
    const page = await site.newPage()
    await page.goto(made.stdout.trim())
    await page.waitForSelector('#code code > span')
    expect(await page.locator('#paste-title').textContent()).toBe('from the cli')
    expect(await page.locator('#paste-language').textContent()).toBe('Rust')
    expect(await decryptedText(page)).toBe('fn main() {}')

    const locked = await runRedbin(site.url, ['paste', '-', '--password'], { input: 'cli secret\n', env: { REDBIN_PASSWORD: 'from the cli' } })
    await page.goto(locked.stdout.trim())
    await page.fill('#paste-password', 'from the cli')
    await page.click('#password-form button')
    await page.waitForSelector('#code code > span')
    expect(await decryptedText(page)).toBe('cli secret')
  })

  it('a paste encrypted in Chromium decrypts with redbin get', async () => {
    const plain = await createEncrypted({ content: PYTHON, title: 'x' })
    expect(await runRedbin(site.url, ['get', plain])).toEqual({ code: 0, stdout: PYTHON, stderr: '' })
    const locked = await createEncrypted({ content: 'browser secret\n', password: 'pässwörd' })
    expect(await runRedbin(site.url, ['get', locked], { env: { REDBIN_PASSWORD: 'pässwörd' } })).toEqual({ code: 0, stdout: 'browser secret\n', stderr: '' })
    const wrong = await runRedbin(site.url, ['get', locked], { env: { REDBIN_PASSWORD: 'password' } })
    expect(wrong.code).toBe(4)
  })
})
