// Seed data: realistic pastes through the HTTP API (the path users take), then, for the scale
// variant, many small public pastes written straight through the model layer, and a wait until
// every seeded page has been rendered so that `page` measures the fast path.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { Store } from '../src/model/index.js'
import { newDeleteToken, newPasteId } from '../src/pastes/ids.js'
import { Paste } from '../src/pastes/Paste.js'
import type { Bucket, Corpus } from './corpus.js'
import { http, type HttpResponse } from './http.js'
import { metricValue, scrapeMetrics, type LoadTarget } from './load.js'
import { progress } from './progress.js'

export interface SeededPaste {
  id: string
  bucket: Bucket
  bytes: number
  visibility: 'public' | 'unlisted'
  deleteToken: string
}

/** ~10% expire, none within a bench run. */
function expiryFor(r: number): string | undefined {
  if (r < 0.03) return '1h'
  if (r < 0.08) return '1d'
  if (r < 0.1) return '1w'
  return undefined
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
}

/** The JSON body of a create, as `POST /api/pastes` takes it. */
export function createBody(corpus: Corpus, random: () => number, bytes: number, visibility: 'public' | 'unlisted', expires?: string): string {
  const { content, fileName } = corpus.text(bytes)
  // A title (which also hints the language by its extension) on most pastes, as people give.
  const title = random() < 0.6 ? fileName : undefined
  return JSON.stringify({ content, title, language: 'auto', visibility, expires })
}

/** Creates `count` pastes through POST /api/pastes, `concurrency` at a time. */
export async function seedThroughApi(baseUrl: string, corpus: Corpus, random: () => number, count: number, concurrency = 16): Promise<SeededPaste[]> {
  // Draw every paste up front, so the data does not depend on response order.
  const plans = Array.from({ length: count }, () => {
    const { bucket, bytes } = corpus.size()
    const visibility = random() < 0.6 ? 'public' as const : 'unlisted' as const
    return { bucket, bytes, visibility, expires: expiryFor(random()) }
  })
  const seeded: SeededPaste[] = new Array(count)
  const started = performance.now()
  progress.phase('seeding through the API', count, 'pastes')
  let done = 0
  await pool(count, concurrency, async (i) => {
    const plan = plans[i]!
    const body = createBody(corpus, random, plan.bytes, plan.visibility, plan.expires)
    const response = await http('POST', `${baseUrl}/api/pastes`, { headers: { 'content-type': 'application/json' }, body })
    const text = response.text()
    if (response.status !== 201) {
      const hint = response.status === 429 ? ' (the server rate-limits creates: run it with RATE_LIMIT_CREATES_PER_MINUTE=0)' : ''
      throw new Error(`seeding: POST /api/pastes answered ${response.status}${hint}: ${text.slice(0, 300)}`)
    }
    const created = JSON.parse(text) as { id: string; deleteToken: string; size: number }
    seeded[i] = { id: created.id, bucket: plan.bucket, bytes: created.size, visibility: plan.visibility, deleteToken: created.deleteToken }
    done++
    progress.update(done, done / ((performance.now() - started) / 1000))
  })
  progress.done()
  return seeded
}

const SCALE_LANGUAGES = ['javascript', 'python', 'c', 'bash', 'typescript', 'json', 'plaintext', 'go', 'sql', 'yaml']
const SCALE_BATCH = 500

/**
 * Grows the data to `total` pastes with small (~200 B) public pastes written through the model
 * layer in pipelined batches: the API would take hours for a million. Their pages are not
 * rendered (the list never loads bodies or pages; a view would render one on the spot).
 * Returns their ids.
 */
export async function growWithModel(redis: Redis, prefix: string, corpus: Corpus, random: () => number, count: number): Promise<string[]> {
  const store = new Store(redis, { prefix })
  const snippets = Array.from({ length: 200 }, () => corpus.text(100 + Math.floor(random() * 200)).content)
  const ids: string[] = []
  const started = performance.now()
  progress.phase('growing through the model', count, 'pastes')
  for (let done = 0; done < count; done += SCALE_BATCH) {
    const batch = Math.min(SCALE_BATCH, count - done)
    await Promise.all(Array.from({ length: batch }, () => {
      const content = snippets[Math.floor(random() * snippets.length)]!
      const id = newPasteId()
      ids.push(id)
      return Paste.create(store, {
        id,
        language: SCALE_LANGUAGES[Math.floor(random() * SCALE_LANGUAGES.length)]!,
        visibility: 'public',
        content: Buffer.from(content),
        size: Buffer.byteLength(content),
        lines: content.split('\n').length - 1,
        createdAt: new Date(),
        deleteTokenHash: newDeleteToken().hash,
      }, { expiresAt: null })
    }))
    progress.update(done + batch, (done + batch) / ((performance.now() - started) / 1000))
  }
  progress.done()
  return ids
}

/** Deletes pastes through the model layer (the scale variant's, on a Redis that is not ours). */
export async function deleteWithModel(redis: Redis, prefix: string, ids: string[]): Promise<void> {
  const store = new Store(redis, { prefix })
  for (let i = 0; i < ids.length; i += SCALE_BATCH) {
    await Promise.all(ids.slice(i, i + SCALE_BATCH).map((id) => Paste.delete(store, id)))
  }
}

/** Deletes seeded pastes through the API with their tokens (on a server that is not ours). */
export async function deleteThroughApi(baseUrl: string, pastes: SeededPaste[]): Promise<void> {
  await pool(pastes.length, 16, async (i) => {
    const paste = pastes[i]!
    await http('DELETE', `${baseUrl}/api/pastes/${paste.id}`, { headers: { authorization: `Bearer ${paste.deleteToken}` } })
  })
}

/** Deletes every key under `prefix` (a Redis we do not own: never FLUSHALL). */
export async function clearPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) deleted += await redis.unlink(...keys)
  } while (cursor !== '0')
  return deleted
}

/** Resolves when the server's render queue has been empty for three scrapes in a row. */
async function renderQueueDrained(target: LoadTarget, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let emptyInARow = 0
  let first: number | null = null
  progress.phase('waiting for page renders', 1, '')
  while (Date.now() < deadline) {
    const text = await scrapeMetrics(target)
    const queued = text ? metricValue(text, 'redbin_render_queue') : null
    if (queued === null) {
      progress.done()
      return false
    }
    first ??= Math.max(queued, 1)
    progress.update(1 - queued / first, undefined, `${queued} renders pending`)
    emptyInARow = queued === 0 ? emptyInARow + 1 : 0
    if (emptyInARow >= 3) {
      progress.done()
      return true
    }
    await sleep(200)
  }
  throw new Error(`the render queue did not drain within ${timeoutMs / 1000} s`)
}

/** Sends HEAD /:id for each id: a page that is not rendered yet gets rendered (HEAD counts no view). */
async function touchPages(baseUrl: string, ids: string[]): Promise<number> {
  let failures = 0
  const started = performance.now()
  progress.phase('rendering stragglers (HEAD /:id)', ids.length, 'pages')
  let done = 0
  await pool(ids.length, 8, async (i) => {
    const response = await http('HEAD', `${baseUrl}/${ids[i]}`)
    if (response.status !== 200) failures++
    done++
    if (done % 50 === 0) progress.update(done, done / ((performance.now() - started) / 1000))
  })
  progress.done()
  return failures
}

/** Ids whose rendered page is not stored yet (needs direct Redis access). */
async function unrendered(redis: Redis, prefix: string, ids: string[]): Promise<string[]> {
  const store = new Store(redis, { prefix })
  const missing: string[] = []
  for (let i = 0; i < ids.length; i += SCALE_BATCH) {
    const batch = ids.slice(i, i + SCALE_BATCH)
    const rows = await Promise.all(batch.map((id) => Paste.load(store, id, { select: ['renderVersion'] })))
    rows.forEach((row, j) => { if (row && row.renderVersion === null) missing.push(batch[j]!) })
  }
  return missing
}

/**
 * Waits until every seeded page is rendered and stored: first the render queue drains (pages
 * refused by a full queue are not in it), then a HEAD of each page renders any straggler, then
 * the queue drains again. With direct Redis access, stored pages are checked and missing ones
 * retried. Without the render-queue gauge (an older server), waits until the server is idle.
 */
export async function waitForRenderedPages(target: LoadTarget, ids: string[], redis: { client: Redis; prefix: string } | null): Promise<void> {
  const timeoutMs = 15 * 60_000
  const hasGauge = await renderQueueDrained(target, timeoutMs)
  let todo = ids
  for (let round = 0; round < 4 && todo.length > 0; round++) {
    const failures = await touchPages(target.baseUrl, todo)
    if (failures > 0) throw new Error(`${failures} seeded pages did not answer 200`)
    if (hasGauge) await renderQueueDrained(target, timeoutMs)
    else await sleep(5000)
    if (!redis) return
    todo = await unrendered(redis.client, redis.prefix, ids)
    if (todo.length > 0) progress.log(`bench: ${todo.length} pages still not stored; touching them again`)
  }
  if (todo.length > 0) throw new Error(`${todo.length} seeded pages were never rendered`)
}

/** Waits for the server's background renders to finish (between scenarios that create pastes). */
export async function waitForRenderQueue(target: LoadTarget): Promise<void> {
  if (!(await renderQueueDrained(target, 15 * 60_000))) await sleep(2000)
}

/** What the app serves for each id, as the ceiling serves it (ceiling.js). */
export interface CeilingBodies {
  /** Each id's page, then its raw text, laid end to end. */
  bytes: Buffer
  /**
   * By id: where its page starts, where its raw text starts, where that ends, in `bytes`; then
   * which of `headers` the page came with, and which the raw text.
   */
  index: Record<string, [number, number, number, number, number]>
  /** Each set of response headers the app sent with them, once (the pages' are all alike). */
  headers: CeilingHeaders[]
  pageBytes: number
  rawBytes: number
}

/**
 * Writes `bodies` into `dir` for bench/ceiling.js; returns the environment that points it at them.
 * The index file holds `index` and `headers`; the bytes file, `bytes`.
 */
export function writeCeilingFiles(dir: string, bodies: CeilingBodies): { CEILING_BODIES_FILE: string; CEILING_INDEX_FILE: string } {
  const files = { CEILING_BODIES_FILE: join(dir, 'bodies'), CEILING_INDEX_FILE: join(dir, 'bodies.json') }
  writeFileSync(files.CEILING_BODIES_FILE, bodies.bytes)
  writeFileSync(files.CEILING_INDEX_FILE, JSON.stringify({ index: bodies.index, headers: bodies.headers }))
  return files
}

/** A response's headers as the app sent them, but for those Node's http adds to every response. */
export type CeilingHeaders = Record<string, string | string[]>

/** Headers Node's http server writes for any response: the ceiling's own are as good. */
const EVERY_RESPONSE = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding'])

/**
 * Reads each id's page and raw text from the app, byte for byte and with their headers (the
 * security headers, the CSP, the raw text's ETag), for the ceiling to serve.
 */
export async function fetchBodies(baseUrl: string, ids: readonly string[]): Promise<CeilingBodies> {
  const responses = new Array<[HttpResponse, HttpResponse]>(ids.length)
  await pool(ids.length, 16, async (i) => {
    const [page, raw] = await Promise.all([http('GET', `${baseUrl}/${ids[i]}`), http('GET', `${baseUrl}/${ids[i]}/raw`)])
    if (page.status !== 200 || raw.status !== 200) throw new Error(`the ceiling's bodies: GET /${ids[i]} answered ${page.status}, its raw text ${raw.status}`)
    responses[i] = [page, raw]
  })
  const headers: CeilingHeaders[] = []
  const seen = new Map<string, number>()
  const headersOf = ({ headers: sent }: HttpResponse) => {
    const kept: CeilingHeaders = {}
    for (const [name, value] of Object.entries(sent)) if (value !== undefined && !EVERY_RESPONSE.has(name)) kept[name] = value
    const key = JSON.stringify(kept)
    let at = seen.get(key)
    if (at === undefined) seen.set(key, at = headers.push(kept) - 1)
    return at
  }
  const index: CeilingBodies['index'] = {}
  let at = 0
  let pageBytes = 0
  for (let i = 0; i < ids.length; i++) {
    const [page, raw] = responses[i]!
    index[ids[i]!] = [at, at + page.body.length, at + page.body.length + raw.body.length, headersOf(page), headersOf(raw)]
    at += page.body.length + raw.body.length
    pageBytes += page.body.length
  }
  return { bytes: Buffer.concat(responses.flatMap(([page, raw]) => [page.body, raw.body])), index, headers, pageBytes, rawBytes: at - pageBytes }
}
