// `npm run audit`: Lighthouse on the home page and a public paste page, on a throwaway server.
// Starts redbin (production mode, its own embedded redis-server in a temporary directory) on a
// free port, seeds a public paste (public, so `robots: noindex` does not apply), runs Lighthouse
// in Debian's Chromium as a phone and as a desktop, prints the four category scores, and exits
// 1 when any is below 95, naming the audits that cost points. The reports (HTML) go to
// test-results/lighthouse/.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as chromeLauncher from 'chrome-launcher'
import lighthouse, { desktopConfig, type Config, type Result } from 'lighthouse'
import { CHROMIUM_ARGS, findChromium } from '../test/e2e/chromium.js'

const TARGET = 95
const REPORT_DIR = join('test-results', 'lighthouse')
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'] as const
const FORM_FACTORS: { name: string; config: Config | undefined }[] = [
  { name: 'mobile', config: undefined }, // Lighthouse's default: a mid-range phone on slow 4G (simulated)
  { name: 'desktop', config: desktopConfig },
]

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

/** redbin from source (tsx), production mode, with its embedded Redis in `dataDir`. */
async function startServer(port: number, dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      DATA_DIR: dataDir,
      // Empty counts as unset: never a Redis this script did not start.
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  const exited = once(child, 'exit')
  for (const deadline = Date.now() + 20_000; ;) {
    const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false)
    if (ready) return { url, child }
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      await exited
      throw new Error('the server did not become ready within 20 s')
    }
    await Promise.race([sleep(100), exited])
  }
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM') // graceful: the server stops its embedded redis-server too
  const forced = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(forced)
}

/** A realistic public paste: one of redbin's own source files. */
async function seedPaste(url: string): Promise<string> {
  const content = await readFile('src/pastes/ids.ts', 'utf8')
  const res = await fetch(`${url}/api/pastes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ content, title: 'src/pastes/ids.ts', language: 'typescript', visibility: 'public' }),
  })
  if (res.status !== 201) throw new Error(`seeding a paste failed: ${res.status} ${await res.text()}`)
  const { id } = (await res.json()) as { id: string }
  // The first view stores the rendered page if the worker has not yet: audit what visitors get.
  await fetch(`${url}/${id}`, { headers: { accept: 'text/html' } })
  return id
}

/**
 * One Lighthouse run. Chromium sometimes leaves the navigation's start out of the trace of a
 * page's first load in a new renderer (NO_NAVSTART, "Please run Lighthouse again"): that, and
 * only that, is retried.
 */
async function runLighthouse(url: string, port: number, config: Config | undefined, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    const result = await lighthouse(url, { port, output: 'html', logLevel: 'error', onlyCategories: [...CATEGORIES] }, config)
    if (!result) throw new Error(`Lighthouse returned nothing for ${url}`)
    const error = result.lhr.runtimeError
    if (!error) return result
    if (error.code !== 'NO_NAVSTART' || attempt === attempts) throw new Error(`Lighthouse failed on ${url}: ${error.message}`)
    console.error(`audit: ${error.code} on ${url}, running Lighthouse again`)
  }
}

interface Row {
  page: string
  formFactor: string
  scores: Record<(typeof CATEGORIES)[number], number>
  /** Audits that cost points, per category below 100. */
  losses: string[]
  runs: number
}

function scoreOf(lhr: Result, category: (typeof CATEGORIES)[number]): number {
  return Math.round((lhr.categories[category]?.score ?? 0) * 100)
}

function lostPoints(lhr: Result): string[] {
  const losses: string[] = []
  for (const category of CATEGORIES) {
    const result = lhr.categories[category]
    if (!result || result.score === 1) continue
    for (const ref of result.auditRefs) {
      const audit = lhr.audits[ref.id]
      if (ref.weight > 0 && audit && audit.score !== null && audit.score < 1) {
        losses.push(`${category}: ${audit.title}${audit.displayValue ? ` (${audit.displayValue})` : ''} — score ${Math.round(audit.score * 100)}`)
      }
    }
  }
  return losses
}

function printTable(rows: Row[]): void {
  const header = ['page', 'form factor', ...CATEGORIES]
  const lines = rows.map((r) => [r.page, r.runs > 1 ? `${r.formFactor} (median of ${r.runs})` : r.formFactor, ...CATEGORIES.map((c) => String(r.scores[c]))])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)))
  const format = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`
  console.log(format(header))
  console.log(`|${widths.map((w, i) => (i < 2 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`)
  for (const line of lines) console.log(format(line))
}

async function main(): Promise<number> {
  const chromePath = await findChromium()
  const started = Date.now()
  const dataDir = await mkdtemp(join(tmpdir(), 'redbin-audit-'))
  let server: ChildProcess | undefined
  let chrome: chromeLauncher.LaunchedChrome | undefined
  try {
    const port = await freePort()
    const running = await startServer(port, dataDir)
    server = running.child
    const id = await seedPaste(running.url)
    chrome = await chromeLauncher.launch({
      chromePath,
      chromeFlags: ['--headless=new', ...CHROMIUM_ARGS],
      logLevel: 'silent',
    })
    const pages = [{ page: 'home', url: `${running.url}/` }, { page: 'paste', url: `${running.url}/${id}` }]
    const rows: Row[] = []
    await mkdir(REPORT_DIR, { recursive: true })
    for (const { page, url } of pages) {
      for (const { name, config } of FORM_FACTORS) {
        // Performance is timed on a shared machine: a run below target is run twice more and
        // the median run (by performance) counts, as Lighthouse's own guidance on variance says.
        const runs = [await runLighthouse(url, chrome.port, config)]
        if (CATEGORIES.some((c) => scoreOf(runs[0]!.lhr, c) < TARGET)) {
          console.error(`audit: ${page} (${name}) scored below ${TARGET}; running it twice more to take the median`)
          runs.push(await runLighthouse(url, chrome.port, config), await runLighthouse(url, chrome.port, config))
          runs.sort((a, b) => scoreOf(a.lhr, 'performance') - scoreOf(b.lhr, 'performance'))
        }
        const { lhr, report } = runs[Math.floor(runs.length / 2)]!
        await writeFile(join(REPORT_DIR, `${page}-${name}.html`), String(report))
        const scores = Object.fromEntries(CATEGORIES.map((c) => [c, scoreOf(lhr, c)])) as Row['scores']
        rows.push({ page, formFactor: name, scores, losses: lostPoints(lhr), runs: runs.length })
      }
    }

    printTable(rows)
    for (const row of rows) {
      if (row.losses.length) console.log(`\n${row.page} (${row.formFactor}) loses points on:\n  ${row.losses.join('\n  ')}`)
    }
    const low = rows.flatMap((r) => CATEGORIES.filter((c) => r.scores[c] < TARGET).map((c) => `${r.page} (${r.formFactor}) ${c} ${r.scores[c]}`))
    console.log(`\naudit: ${((Date.now() - started) / 1000).toFixed(1)} s`)
    if (low.length) {
      console.error(`audit: below ${TARGET}: ${low.join(', ')}`)
      return 1
    }
    console.log(`audit: every score is ${TARGET} or more`)
    return 0
  } finally {
    chrome?.kill()
    if (server) await stopServer(server)
    await rm(dataDir, { recursive: true, force: true })
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(`audit: ${err.message}`)
    process.exit(1)
  },
)
