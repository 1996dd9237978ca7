// The Chromium every automated run uses: the e2e tests (playwright-core) and `npm run audit`
// (Lighthouse) both call findChromium(). Debian's Chromium when it is installed; otherwise the
// one that `npm ci` brings inside @sparticuz/chromium (a devDependency). A browser is never
// downloaded: both come from the machine's own package registries.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { promisify } from 'node:util'

const DEBIAN_CHROMIUM = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
]

const MISSING_CHROMIUM =
  `No Chromium can be had: Debian's is not at ${DEBIAN_CHROMIUM}, and the one in the npm package ` +
  '@sparticuz/chromium would not unpack or start (run `npm ci`, or `apt-get install -y chromium`).'

let found: Promise<string> | undefined

/**
 * The path of a Chromium that starts. `CHROME_PATH` overrides both choices. The packaged one is
 * unpacked to the system temp folder on first use (~1.5 s), then reused by every later run.
 */
export function findChromium(): Promise<string> {
  found ??= resolveChromium()
  return found
}

async function resolveChromium(): Promise<string> {
  const chosen = process.env.CHROME_PATH || (existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined)
  if (chosen) return chosen
  let packaged: { executablePath(): Promise<string> }
  try {
    packaged = (await import('@sparticuz/chromium')).default
  } catch (err) {
    throw new Error(`${MISSING_CHROMIUM} (${(err as Error).message})`)
  }
  // The package unpacks straight into its final path and reuses whatever is there, so a run
  // killed while unpacking leaves a truncated binary behind: check that it starts, and if it
  // does not, unpack it once more.
  for (let attempt = 1; ; attempt++) {
    let path: string | undefined
    try {
      path = await packaged.executablePath()
      await promisify(execFile)(path, ['--version'], { timeout: 30_000 })
      return path
    } catch (err) {
      if (attempt === 2) throw new Error(`${MISSING_CHROMIUM} (${(err as Error).message})`)
      if (path) await rm(path, { force: true })
    }
  }
}
