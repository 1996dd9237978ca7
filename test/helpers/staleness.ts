// The page cache's staleness test (issue 14), shared by the single-Redis and the cluster suite:
// two real server processes (src/server.ts under tsx) on one Redis. A writes (edit, delete, or
// lets a paste expire), B must answer with the new state within a few milliseconds of A's
// response. A violation is B serving the old state to a request sent more than
// VIOLATION_AFTER_MS after A's write response, or any page or raw bytes after a paste's expiry
// instant.
import { spawn, type ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll } from 'vitest'
import { freePort, type TestRedis } from './redis.js'

export const VIOLATION_AFTER_MS = 10
/** Long enough to warm B's cache with every expiring paste on a loaded machine. */
const EXPIRES_SECONDS = 8
/**
 * How long B may take to cache a fresh paste. Its page must be rendered first, and the render
 * then invalidates the copy of the raw bytes B already held: on a machine loaded by other test
 * files (or CI's neighbours), a render worker starting cold took seconds.
 */
const WARM_MS = 10_000
const ROOT = new URL('../..', import.meta.url).pathname
const START_TIMEOUT_MS = 30_000

export interface ServerProcess {
  base: string
  /** Every line it printed so far. */
  lines: string[]
  child: ChildProcess
}

/** Starts `count` servers on the test Redis (or cluster), each its own OS process; stopped after the file. */
/** Two server processes, A and B, started before the file's tests (see useServers). */
export function useServerPair(db: TestRedis): { a: ServerProcess; b: ServerProcess } {
  const start = useServers(db, 2)
  const pair = {} as { a: ServerProcess; b: ServerProcess }
  beforeAll(async () => {
    ;[pair.a, pair.b] = (await start()) as [ServerProcess, ServerProcess]
  }, 60_000)
  return pair
}

export function useServers(db: TestRedis, count: number): () => Promise<ServerProcess[]> {
  const started: ServerProcess[] = []
  afterAll(async () => {
    await Promise.all(started.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
    }))
  })
  return () => Promise.all(Array.from({ length: count }, async () => {
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, WORKERS: _workers, ...inherited } = process.env
    const redis = db.clusterNodes
      ? { REDIS_CLUSTER_NODES: db.clusterNodes.map((n) => `${n.host}:${n.port}`).join(',') }
      : { REDIS_URL: db.url }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        ...inherited, ...redis, REDIS_PREFIX: db.prefix, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: base,
        RATE_LIMIT_CREATES_PER_MINUTE: '0', LOG_LEVEL: 'info', NODE_ENV: 'production', WORKERS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const server = { base, lines: [] as string[], child }
    started.push(server)
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => server.lines.push(...chunk.split('\n').filter(Boolean)))
    }
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (child.exitCode !== null) throw new Error(`a server exited (${child.exitCode}):\n${server.lines.join('\n')}`)
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return server
      if (Date.now() > deadline) throw new Error(`a server did not start within ${START_TIMEOUT_MS} ms:\n${server.lines.join('\n')}`)
      await sleep(50)
    }
  }))
}

export async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`redbin_${name} `))
  if (!line) throw new Error(`no metric ${name}`)
  return Number(line.split(' ')[1])
}

interface Created {
  id: string
  deleteToken: string
  expiresAt: string | null
}

async function create(base: string, content: string, extra: Record<string, unknown> = {}): Promise<Created> {
  const res = await fetch(`${base}/api/pastes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content, ...extra }) })
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`)
  return res.json() as Promise<Created>
}

/** What B shows of a paste: the body of its page and of its raw bytes ('' when 404). */
async function look(base: string, id: string): Promise<{ page: string; raw: string; sentAt: number; at: number }> {
  const sentAt = performance.now()
  const [page, raw] = await Promise.all([`/${id}`, `/${id}/raw`].map(async (path) => {
    const res = await fetch(`${base}${path}`)
    const body = await res.text()
    return res.status === 200 ? body : res.status === 404 ? '' : `status ${res.status}`
  }))
  return { page: page ?? '', raw: raw ?? '', sentAt, at: performance.now() }
}

export interface StalenessReport {
  rounds: number
  violations: string[]
  /** The longest from A's response (or the expiry instant) to B's answer showing the new state. */
  maxLagMs: number
  /** The latest, after A's response (or the expiry instant), that a request was sent and still saw the old state. */
  maxStaleSentMs: number
  /** Whether B's cache served hits while warming (false when it is off). */
  warmed: boolean
}

/**
 * Views the pages and raw bytes of `ids` in B until its cache holds both of each and has served
 * hits (when it is on): twice at least, more while a page is not rendered yet (a page is cached
 * only once rendered, and on a loaded machine the render worker may take seconds to start).
 */
async function warm(b: string, ids: readonly string[], cacheOn: boolean, deadline = Date.now() + WARM_MS): Promise<boolean> {
  const hits = await metric(b, 'page_cache_hits_total')
  const entries = await metric(b, 'page_cache_entries')
  const view = (url: string) => fetch(url).then((r) => r.arrayBuffer())
  for (let i = 0; Date.now() < deadline; i++) {
    await Promise.all(ids.flatMap((id) => [view(`${b}/${id}`), view(`${b}/${id}/raw`)]))
    if (!cacheOn) return false
    if (i > 0 && (await metric(b, 'page_cache_entries')) >= entries + 2 * ids.length && (await metric(b, 'page_cache_hits_total')) >= hits + 2) return true
    if (i > 0) await sleep(20)
  }
  const text = await (await fetch(`${b}/metrics`)).text()
  const state = text.split('\n').filter((l) => l.startsWith('redbin_page_cache') || l.startsWith('redbin_render')).join('; ')
  throw new Error(`B's cache never held ${ids.join(', ')} in time (${state})`)
}

/**
 * After A's write response (time `done`), B is asked until `isNew`; a request sent more than
 * VIOLATION_AFTER_MS after `done` that still sees the old state is a violation. Returns the lag
 * from `done` to the answer that showed the new state, and the last stale request's send time.
 */
async function lagUntilNew(b: string, id: string, done: number, isNew: (seen: { page: string; raw: string }) => boolean, what: string, violations: string[]): Promise<{ lag: number; staleSent: number }> {
  let staleSent = 0
  for (;;) {
    const seen = await look(b, id)
    if (isNew(seen)) return { lag: seen.at - done, staleSent }
    staleSent = Math.max(staleSent, seen.sentAt - done)
    if (seen.sentAt - done > VIOLATION_AFTER_MS) violations.push(`${what} ${id}: old state served ${Math.round(seen.sentAt - done)} ms after A's response`)
    if (seen.sentAt - done > 5000) throw new Error(`${what} ${id}: B never showed the new state`)
  }
}

export async function editAndDeleteRounds(a: string, b: string, rounds: number, cacheOn: boolean): Promise<StalenessReport> {
  const violations: string[] = []
  let maxLagMs = 0
  let maxStaleSentMs = 0
  let warmed = false
  for (let round = 0; round < rounds; round++) {
    const old = `round ${round}: the first version`
    const paste = await create(a, old)
    warmed = (await warm(b, [paste.id], cacheOn)) || warmed
    const auth = { authorization: `Bearer ${paste.deleteToken}` }
    let done: number
    if (round % 2 === 0) {
      const fresh = `round ${round}: the edited version`
      const res = await fetch(`${a}/api/pastes/${paste.id}`, { method: 'PUT', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ content: fresh }) })
      done = performance.now()
      if (res.status !== 200) throw new Error(`edit: ${res.status} ${await res.text()}`)
      const { lag, staleSent } = await lagUntilNew(b, paste.id, done, (s) => s.raw === fresh && s.page.includes(fresh) && !s.page.includes(old), 'edit', violations)
      maxLagMs = Math.max(maxLagMs, lag)
      maxStaleSentMs = Math.max(maxStaleSentMs, staleSent)
    } else {
      const res = await fetch(`${a}/api/pastes/${paste.id}`, { method: 'DELETE', headers: auth })
      done = performance.now()
      if (res.status !== 204) throw new Error(`delete: ${res.status}`)
      const { lag, staleSent } = await lagUntilNew(b, paste.id, done, (s) => s.raw === '' && s.page === '', 'delete', violations)
      maxLagMs = Math.max(maxLagMs, lag)
      maxStaleSentMs = Math.max(maxStaleSentMs, staleSent)
    }
  }
  return { rounds, violations, maxLagMs, maxStaleSentMs, warmed }
}

/**
 * Pastes created in A that expire in a few seconds, warmed in B, then asked in B from just before
 * their expiry instant until B answers 404: any page or raw bytes for a request sent at or after
 * the instant is a violation. Done for `count` pastes at once.
 */
export async function expiryRounds(a: string, b: string, count: number, cacheOn: boolean): Promise<StalenessReport> {
  const violations: string[] = []
  const pastes = await Promise.all(Array.from({ length: count }, (_, i) => create(a, `expiring ${i}`, { expires: EXPIRES_SECONDS })))
  // Warmed a second before the first expiry at the latest, or the rounds would watch nothing.
  const firstExpiry = Math.min(...pastes.map((p) => new Date(p.expiresAt ?? 0).getTime()))
  const warmed = await warm(b, pastes.map((p) => p.id), cacheOn, firstExpiry - 1000)
  let maxStaleSentMs = 0
  const lags = await Promise.all(pastes.map(async (paste) => {
    const instant = new Date(paste.expiresAt ?? 0).getTime()
    // performance.now() on the wall clock's scale, for comparing with the expiry instant.
    const wall = (t: number) => t - performance.now() + Date.now()
    await sleep(Math.max(0, instant - Date.now() - 30))
    for (;;) {
      const seen = await look(b, paste.id)
      if (seen.page === '' && seen.raw === '') return Math.max(0, wall(seen.at) - instant)
      maxStaleSentMs = Math.max(maxStaleSentMs, wall(seen.sentAt) - instant)
      if (wall(seen.sentAt) >= instant) violations.push(`expiry ${paste.id}: served ${Math.round(wall(seen.sentAt) - instant)} ms after its expiry instant`)
      if (wall(seen.sentAt) - instant > 5000) throw new Error(`expiry ${paste.id}: B never stopped serving it`)
    }
  }))
  return { rounds: count, violations, maxLagMs: Math.max(...lags), maxStaleSentMs, warmed }
}

/** A burn paste made in A is never in B's cache: B's hits do not move while it is looked at, and raw in B consumes it. */
export function describeReport(what: string, report: StalenessReport): string {
  return `staleness, ${what}: ${report.rounds} rounds, ${report.violations.length} violations, ` +
    `max lag to the new state ${report.maxLagMs.toFixed(1)} ms, last stale request sent ${report.maxStaleSentMs.toFixed(1)} ms after`
}

export async function burnNeverCached(a: string, b: string): Promise<{ hits: number; consumedOnce: boolean }> {
  const paste = await create(a, 'burn after reading', { burn: true })
  const before = await metric(b, 'page_cache_hits_total')
  for (let i = 0; i < 3; i++) await (await fetch(`${b}/${paste.id}`)).text()
  const first = await fetch(`${b}/${paste.id}/raw`)
  const second = await fetch(`${a}/${paste.id}/raw`)
  const hits = (await metric(b, 'page_cache_hits_total')) - before
  return { hits, consumedOnce: first.status === 200 && (await first.text()) === 'burn after reading' && second.status === 404 }
}
