// The browser tests' harness: Chromium (Debian's, or the one npm ci brings: see chromium.ts)
// driven by playwright-core (never a downloaded browser), a real redbin server on a free port against the test file's throwaway Redis, and
// pages that record every console error, uncaught exception and CSP violation. Any of those
// fails the test that produced it.
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import { freePort, useTestRedis } from '../helpers/redis.js'
import { CHROMIUM_ARGS, findChromium } from './chromium.js'

export const DESKTOP = { width: 1280, height: 800 }
export const PHONE = { width: 375, height: 667 }
export const SCREENSHOT_DIR = join('test-results', 'screenshots')
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js')
let axeSource: string | undefined

export interface CreatedPaste {
  id: string
  url: string
  deleteToken: string
}

export interface PasteInput {
  content: string
  title?: string
  language?: string
  visibility?: 'public' | 'unlisted'
  burn?: boolean
  expires?: string
}

export interface Site {
  /** The server's base URL, e.g. http://127.0.0.1:43117 (also its PUBLIC_URL). */
  url: string
  app: TestApp
  browser: Browser
  /** A fresh browser context (its own cookies and storage), closed after the test. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>
  /** A page in a fresh context. */
  newPage(options?: BrowserContextOptions): Promise<Page>
  /** Creates a paste through the JSON API (not through a browser). */
  createPaste(input: PasteInput): Promise<CreatedPaste>
}

interface Problems {
  console: string[]
  /** Main-frame documents answered with an error status: their "Failed to load resource" line is expected. */
  errorDocuments: Set<string>
}

/** Fails with one clear message (never skips) when no Chromium can be had at all. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: await findChromium(), args: CHROMIUM_ARGS })
}

// Runs in every document before its own scripts: CSP violations go into window.__cspViolations
// and to the test through an exposed binding, which outlives navigations.
const CSP_LISTENER = `
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    const line = 'CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' in ' + e.documentURI;
    window.__cspViolations.push(line);
    if (window.__reportCspViolation) window.__reportCspViolation(line);
  });
`

async function watchContext(context: BrowserContext, problems: Problems): Promise<void> {
  await context.exposeBinding('__reportCspViolation', (_source, line: string) => {
    problems.console.push(line)
  })
  await context.addInitScript({ content: CSP_LISTENER })
  const watchPage = (page: Page) => {
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return
      const where = msg.location().url
      problems.console.push(`console error on ${page.url()}: ${msg.text()}${where ? ` (${where})` : ''}`)
    })
    page.on('pageerror', (err) => problems.console.push(`uncaught exception on ${page.url()}: ${err.stack ?? err.message}`))
    page.on('response', (response) => {
      const request = response.request()
      if (response.status() >= 400 && request.isNavigationRequest() && request.frame() === page.mainFrame()) {
        problems.errorDocuments.add(response.url())
      }
    })
  }
  context.pages().forEach(watchPage)
  context.on('page', watchPage)
}

/** What the pages reported, minus the browser's own note that an error page has an error status. */
function unexpected(problems: Problems): string[] {
  return problems.console.filter((line) => {
    const m = /: Failed to load resource: the server responded with a status of \d+ .*\((.+)\)$/.exec(line)
    return !(m?.[1] && problems.errorDocuments.has(m[1]))
  })
}

/**
 * Sets up a test file: a throwaway Redis, a listening server whose PUBLIC_URL is its own
 * address, and Chromium. Every context opened in a test is checked and closed after it.
 */
export function useSite(env: Record<string, string> = {}): Site {
  const db = useTestRedis()
  const site = {} as Site
  let contexts: BrowserContext[] = []
  let problems: Problems = { console: [], errorDocuments: new Set() }
  // A missing browser fails every test with its message (a failing beforeAll would only mark
  // the tests skipped).
  let launchError: Error | undefined

  beforeAll(async () => {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const [app, browser] = await Promise.all([
      buildTestApp(db, { PORT: String(port), PUBLIC_URL: url, ...env }),
      launchChromium().catch((err: Error) => {
        launchError = err
        return undefined
      }),
    ])
    await app.listen()
    Object.assign(site, { url, app, browser })
  })

  afterEach(async () => {
    const open = contexts
    contexts = []
    await Promise.all(open.map((c) => c.close()))
    const found = unexpected(problems)
    problems = { console: [], errorDocuments: new Set() }
    expect(found, 'console errors, uncaught exceptions or CSP violations').toEqual([])
  })

  afterAll(async () => {
    await Promise.all([site.browser?.close(), site.app?.app.close()])
  })

  site.newContext = async (options = {}) => {
    if (launchError) throw launchError
    const context = await site.browser.newContext({ viewport: DESKTOP, ...options })
    contexts.push(context)
    // Fail a step in seconds, with its own message, rather than at the test's timeout.
    context.setDefaultTimeout(5000)
    await watchContext(context, problems)
    return context
  }
  site.newPage = async (options = {}) => (await site.newContext(options)).newPage()
  site.createPaste = async (input) => {
    const res = await fetch(`${site.url}/api/pastes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(input),
    })
    if (res.status !== 201) throw new Error(`POST /api/pastes answered ${res.status}: ${await res.text()}`)
    return (await res.json()) as CreatedPaste
  }
  return site
}

/**
 * Runs axe-core in the page; returns its serious and critical violations, one line each.
 * page.addScriptTag would add an inline <script>, which the strict CSP rightly blocks (and the
 * test would fail on the violation); evaluating the source through DevTools is not subject to it.
 */
export async function seriousAxeViolations(page: Page): Promise<string[]> {
  axeSource ??= await readFile(AXE_PATH, 'utf8')
  await page.evaluate(axeSource)
  const results = await page.evaluate<{ id: string; impact: string; help: string; targets: string[] }[]>(`
    axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))
  `)
  return results.map((v) => `${v.impact} ${v.id} (${v.help}): ${v.targets.join(', ')}`)
}

/** The page's scroll width and visible width: it scrolls sideways when the first is larger. */
export function pageWidths(page: Page): Promise<{ scrollWidth: number; clientWidth: number }> {
  return page.evaluate<{ scrollWidth: number; clientWidth: number }>(
    '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })',
  )
}

export async function screenshot(page: Page, name: string, fullPage = false): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true })
  const path = join(SCREENSHOT_DIR, `${name}.png`)
  await page.screenshot({ path, fullPage })
  return path
}
