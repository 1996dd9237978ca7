// Judges of quality on every kind of page, light and dark, desktop and phone: axe-core finds no
// serious or critical accessibility problem, and the page never scrolls sideways (only a code
// block may). Screenshots of each go to test-results/screenshots/ for a person to look at.
// UPDATE_DOCS_SCREENSHOTS=1 also refreshes docs/paste-light.png and docs/paste-dark.png.
import { copyFile } from 'node:fs/promises'
import type { BrowserContextOptions, Page } from 'playwright-core'
import { beforeAll, describe, expect, it } from 'vitest'
import { DESKTOP, PHONE, pageWidths, screenshot, seriousAxeViolations, useSite, type CreatedPaste } from './harness.js'

const site = useSite()

const TOKEN_BUCKET = `"""A token bucket: allow \`rate\` requests a second, in bursts of up to \`capacity\`."""
import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    capacity: int
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.capacity)

    def allow(self, cost: int = 1) -> bool:
        """Takes \`cost\` tokens if there are enough; never blocks."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True


if __name__ == "__main__":
    bucket = TokenBucket(rate=5, capacity=10)
    allowed = sum(bucket.allow() for _ in range(100))
    print(f"{allowed} of 100 requests allowed")  # 10: the burst, then the rate
`

const OTHERS = [
  { title: 'nginx.conf', language: 'nginx', content: 'server {\n    listen 80;\n    server_name example.com;\n    return 301 https://$host$request_uri;\n}\n' },
  { title: 'useDebounce.ts', language: 'typescript', content: 'export function useDebounce<T>(value: T, ms = 300): T {\n  return value\n}\n' },
  { title: 'migrations/0042_add_index.sql', language: 'sql', content: 'CREATE INDEX CONCURRENTLY orders_created_at ON orders (created_at);\n' },
  { title: '', language: 'json', content: '{\n  "name": "redbin",\n  "private": true\n}\n' },
  { title: 'deploy.sh', language: 'bash', content: '#!/usr/bin/env bash\nset -euo pipefail\nrsync -az dist/ web:/srv/app/\n' },
]

/** A very long line and a very long unbroken title: the page must still not scroll sideways. */
const LONG_TITLE = 'services/billing/internal/reconciliation/adapters/postgres/ledger_entries_repository_test.go'
const LONG_LINE = `const payload = ${JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, sku: `SKU-${i}`, qty: i % 3 })) })}\n`

let realistic: CreatedPaste
let longLine: CreatedPaste

beforeAll(async () => {
  for (const other of OTHERS) await site.createPaste({ ...other, visibility: 'public' })
  longLine = await site.createPaste({ content: `// fixtures\n${LONG_LINE}`, title: LONG_TITLE, language: 'javascript', visibility: 'public' })
  realistic = await site.createPaste({ content: TOKEN_BUCKET, title: 'token_bucket.py', language: 'python', visibility: 'public', expires: '1w' })
})

async function expectNoSidewaysScroll(page: Page) {
  const { scrollWidth, clientWidth } = await pageWidths(page)
  expect(scrollWidth, `${page.url()} scrolls sideways`).toBeLessThanOrEqual(clientWidth)
}

async function expectAccessible(page: Page) {
  expect(await seriousAxeViolations(page), `axe on ${page.url()}`).toEqual([])
}

const schemes = ['light', 'dark'] as const
const devices = [
  { device: 'desktop', options: { viewport: DESKTOP } },
  { device: 'phone', options: { viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 } },
] satisfies { device: string; options: BrowserContextOptions }[]

describe.each(schemes)('%s', (scheme) => {
  describe.each(devices)('$device', ({ device, options }) => {
    const open = async (path: string) => {
      const page = await site.newPage({ ...options, colorScheme: scheme })
      const response = await page.goto(`${site.url}${path}`)
      return { page, status: response?.status() }
    }
    // A phone's first screen, and its whole page. Chromium drops touch emulation while it
    // captures beyond the viewport, so the whole-page shot shows what a hover:none rule hides.
    const shoot = async (page: Page, name: string) => {
      const path = await screenshot(page, `${name}-${scheme}-${device}`, device === 'desktop')
      if (device === 'phone') await screenshot(page, `${name}-${scheme}-${device}-full`, true)
      return path
    }

    it('home page: accessible, and never scrolls sideways', async () => {
      const { page } = await open('/')
      await expectAccessible(page)
      await expectNoSidewaysScroll(page)
      await shoot(page, 'home')
    })

    it('paste page: accessible, and only the code block scrolls sideways', async () => {
      // A highlighted range, so that its colours are judged too.
      const { page } = await open(`/${realistic.id}#L16-L24`)
      await expect.poll(() => page.locator('#code code > span.hl').count()).toBe(9)
      expect(await page.locator('#code .hljs-keyword').count()).toBeGreaterThan(0)
      await expectAccessible(page)
      await expectNoSidewaysScroll(page)
      const path = await shoot(page, 'paste')
      if (device === 'desktop' && process.env.UPDATE_DOCS_SCREENSHOTS === '1') await copyFile(path, `docs/paste-${scheme}.png`)

      await page.goto(`${site.url}/${longLine.id}`)
      await expectAccessible(page)
      await expectNoSidewaysScroll(page)
      const code = await page.evaluate<{ scrollWidth: number; clientWidth: number }>(
        `(() => { const el = document.getElementById('code'); return { scrollWidth: el.scrollWidth, clientWidth: el.clientWidth } })()`)
      expect(code.scrollWidth).toBeGreaterThan(code.clientWidth)
    })

    it('list page: accessible, and never scrolls sideways', async () => {
      const { page } = await open('/pastes')
      expect(await page.locator('.paste-item').count()).toBe(OTHERS.length + 2)
      await expectAccessible(page)
      await expectNoSidewaysScroll(page)
      await shoot(page, 'list')
    })

    it('404 page: accessible, and never scrolls sideways', async () => {
      const { page, status } = await open('/no-such-paste-here')
      expect(status).toBe(404)
      await expectAccessible(page)
      await expectNoSidewaysScroll(page)
      await shoot(page, '404')
    })
  })
})

describe('the page head', () => {
  const meta = (page: Page, selector: string) => page.locator(`meta[${selector}]`).getAttribute('content')

  it('gives every page a title, a description, Open Graph tags and an SVG favicon', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/`)
    expect(await page.title()).toBe('redbin · paste text and code')
    expect(await meta(page, 'name="description"')).toMatch(/pastebin/)
    expect(await meta(page, 'property="og:title"')).toBe('redbin · paste text and code')
    expect(await meta(page, 'property="og:url"')).toBe(`${site.url}/`)
    expect(await meta(page, 'property="og:type"')).toBe('website')
    expect(await page.locator('meta[name="robots"]').count()).toBe(0)

    const icon = await page.locator('link[rel="icon"]').getAttribute('href')
    const res = await page.request.get(`${site.url}${icon}`)
    expect(res.status()).toBe(200)
    expect(res.headers()['content-type']).toMatch(/^image\/svg\+xml/)
  })

  it('describes a public paste by its title and first lines, and lets search engines index it', async () => {
    const page = await site.newPage()
    await page.goto(`${site.url}/${realistic.id}`)
    expect(await page.title()).toBe('token_bucket.py · redbin')
    expect(await meta(page, 'property="og:title"')).toBe('token_bucket.py · redbin')
    expect(await meta(page, 'property="og:description"')).toMatch(/^"""A token bucket: allow `rate` requests a second.* import time from dataclasses import dataclass, field$/)
    expect(await meta(page, 'property="og:type"')).toBe('article')
    expect(await meta(page, 'property="og:url"')).toBe(`${site.url}/${realistic.id}`)
    expect(await page.locator('meta[name="robots"]').count()).toBe(0)
  })

  it('keeps unlisted and burn pastes out of search engines, and never previews a burn paste', async () => {
    const unlisted = await site.createPaste({ content: 'only for those with the link\n', title: 'notes' })
    const burn = await site.createPaste({ content: 'the password is hunter2\n', title: 'secret plans', burn: true })
    const page = await site.newPage()

    await page.goto(`${site.url}/${unlisted.id}`)
    expect(await meta(page, 'name="robots"')).toBe('noindex, nofollow')
    expect(await meta(page, 'property="og:description"')).toBe('only for those with the link')

    await page.goto(`${site.url}/${burn.id}`)
    expect(await meta(page, 'name="robots"')).toBe('noindex, nofollow')
    const head = await page.locator('head').innerHTML()
    expect(head).not.toContain('hunter2')
    expect(head).not.toContain('secret plans')
    expect(await page.title()).toBe('Burn after reading · redbin')
  })
})
