// The page cache seen from HTTP: a page or raw read served from memory is the very response
// Redis would have given, burn pastes never enter it, and /metrics tells what it does. On a
// Redis Cluster (npm run test:cluster) the cache is off, and the same responses must hold.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../src/model/index.js'
import { Paste } from '../../src/pastes/Paste.js'
import { clusterMode, scriptCalls, useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, useApps, waitForStoredPage, waitUntil } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
/** With the page cache (off anyway on a cluster), and without. */
let cached: FastifyInstance
let uncached: FastifyInstance

// No sweeps on a timer: a test counts the scripts this file's Redis runs.
const NO_SWEEPS = { SWEEP_INTERVAL_MS: String(3_600_000) }

beforeAll(async () => {
  ;({ app: cached } = await build(NO_SWEEPS))
  ;({ app: uncached } = await build({ ...NO_SWEEPS, PAGE_CACHE_BYTES: '0' }))
})

async function metric(app: FastifyInstance, name: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`redbin_${name} `))
  if (!line) throw new Error(`no metric ${name}`)
  return Number(line.split(' ')[1])
}

const get = (app: FastifyInstance, url: string, cookie?: string) =>
  app.inject({ url, headers: { accept: HTML_ACCEPT, ...(cookie ? { cookie } : {}) } })

/** The response as bytes and headers, but its date and the view count (which each view moves). */
function comparable(res: LightMyRequestResponse) {
  const { date: _date, ...headers } = res.headers
  return { status: res.statusCode, headers, body: res.rawPayload.toString('latin1').replace(/<span class="num">\d+<\/span>/, '<span class="num">N</span>') }
}

async function hitsOf(app: FastifyInstance, run: () => Promise<unknown>): Promise<number> {
  const before = await metric(app, 'page_cache_hits_total')
  await run()
  return (await metric(app, 'page_cache_hits_total')) - before
}

/**
 * A GET that the cache served: after a first GET that fills it (asked again should the page not
 * have been rendered yet, which keeps it out of the cache). On a cluster, a plain GET.
 */
async function cachedGet(url: string, cookie?: string): Promise<LightMyRequestResponse> {
  for (let attempt = 0; attempt < 20; attempt++) {
    await get(cached, url, cookie)
    let res: LightMyRequestResponse | undefined
    const hits = await hitsOf(cached, async () => (res = await get(cached, url, cookie)))
    if (res && (clusterMode || hits === 1)) return res
  }
  throw new Error(`${url} was never served from the cache`)
}

describe('a page served from the cache', () => {
  it('has the bytes and headers of the same page read from Redis, for the owner and for anyone else', async () => {
    const paste = await createPaste(cached, { content: 'const same = "bytes"\n', title: 'Same <bytes> & "headers"', language: 'javascript' })
    await waitForStoredPage(db, paste.id)
    const owner = `owner_${paste.id}=${paste.deleteToken}`
    for (const cookie of [undefined, owner, `owner_${paste.id}=not-the-token`]) {
      // Views 10 to 99: the count has two digits in every response compared.
      while ((await metric(cached, 'paste_views_total')) < 10) await get(cached, `/${paste.id}`)
      const fromCache = await cachedGet(`/${paste.id}`, cookie)
      // A hit's increment leaves at the end of its turn: let it reach Redis before reading there.
      await new Promise((resolve) => setTimeout(resolve, 20))
      const fromRedis = await get(uncached, `/${paste.id}`, cookie)
      expect(fromCache.statusCode).toBe(200)
      expect(comparable(fromCache)).toEqual(comparable(fromRedis))
      expect(fromCache.body.includes(`href=/${paste.id}/edit`)).toBe(cookie === owner)
    }
  })

  it('gives every view a page of its own: views served from it together keep their own counts and controls', async () => {
    const paste = await createPaste(cached, { content: 'one page, many views\n', language: 'plaintext' })
    await waitForStoredPage(db, paste.id)
    await cachedGet(`/${paste.id}`)
    const owner = `owner_${paste.id}=${paste.deleteToken}`
    const views = await Promise.all([owner, undefined, owner, undefined].map((cookie) => get(cached, `/${paste.id}`, cookie)))
    const shown = views.map((res) => {
      const body = res.rawPayload.toString()
      return { count: Number(/<span class="num">(\d+)<\/span>/.exec(body)?.[1]), controls: body.includes(`href=/${paste.id}/edit`) }
    })
    expect(shown.map((s) => s.controls)).toEqual([true, false, true, false])
    expect(new Set(shown.map((s) => s.count)).size).toBe(4)
  })

  it('serves raw bytes and headers as read from Redis', async () => {
    const paste = await createPaste(cached, { content: 'raw\r\nbytes ✓\n', language: 'python', expires: '1h' })
    for (const url of [`/${paste.id}/raw`, `/${paste.id}/download`]) {
      const fromCache = await cachedGet(url)
      const fromRedis = await get(uncached, url)
      expect(fromCache.statusCode).toBe(200)
      expect(fromCache.rawPayload.equals(Buffer.from('raw\r\nbytes ✓\n'))).toBe(true)
      expect(comparable(fromCache)).toEqual(comparable(fromRedis))
    }
  })

  it('counts every view in Redis, hits included', async () => {
    const paste = await createPaste(cached, { content: 'count me' })
    await waitForStoredPage(db, paste.id)
    for (let i = 0; i < 20; i++) await get(cached, `/${paste.id}`)
    await cached.inject({ method: 'HEAD', url: `/${paste.id}` })
    const store = new Store(db.redis, { prefix: db.prefix })
    const counted = async () => (await Paste.load(store, paste.id, { select: ['views'] }))?.views ?? 0
    const deadline = Date.now() + 2000
    while ((await counted()) < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(await counted()).toBe(20)
  })

  // Only on a Redis of this file's own (the script count is the server's), and where there is a
  // cache (none on a cluster): elsewhere the test does not exist rather than being skipped.
  if (!clusterMode && !process.env.REDIS_URL) it('counts the views of many pastes served together in one script', async () => {
    const pastes = await Promise.all(Array.from({ length: 20 }, (_, i) => createPaste(cached, { content: `paste ${i}` })))
    for (const paste of pastes) await waitForStoredPage(db, paste.id)
    for (const paste of pastes) await cachedGet(`/${paste.id}`)
    const store = new Store(db.redis, { prefix: db.prefix })
    const counts = async () => (await Paste.loadMany(store, pastes.map((p) => p.id))).map((p) => p?.views ?? 0)
    // Let the increments of the reads above reach Redis, so that none is counted below: the
    // count of scripts must hold still for 50 ms.
    let scripts = await scriptCalls(db.redis as Redis)
    for (let settled = false; !settled;) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      const now = await scriptCalls(db.redis as Redis)
      settled = now === scripts
      scripts = now
    }
    const before = await counts()
    const hits = await hitsOf(cached, () => Promise.all(pastes.map((paste) => get(cached, `/${paste.id}`))))
    expect(hits).toBe(pastes.length)
    await waitUntil(async () => (await counts()).every((n, i) => n === before[i]! + 1), 2000)
    expect((await scriptCalls(db.redis as Redis)) - scripts).toBe(1)
  })

  it('sends the views it holds back (VIEW_COUNT_BATCH_MS) when the app closes', async () => {
    const holding = await build({ VIEW_COUNT_BATCH_MS: '1000' })
    const paste = await createPaste(holding.app, { content: 'counted at close' })
    await waitForStoredPage(db, paste.id)
    for (let i = 0; i < 4; i++) expect((await get(holding.app, `/${paste.id}`)).statusCode).toBe(200)
    const store = new Store(db.redis, { prefix: db.prefix })
    const counted = async () => (await Paste.load(store, paste.id, { select: ['views'] }))?.views ?? 0
    // The first view was a miss, counted with its read; the three hits are held for a second.
    await holding.app.close()
    expect(await counted()).toBe(4)
  })

  it('is gone the moment its paste is edited or deleted in this process', async () => {
    const paste = await createPaste(cached, { content: 'version one' })
    await waitForStoredPage(db, paste.id)
    await get(cached, `/${paste.id}`)
    await get(cached, `/${paste.id}/raw`)
    const edited = await cached.inject({ method: 'PUT', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` }, payload: { content: 'version two' } })
    expect(edited.statusCode, edited.body).toBe(200)
    expect((await get(cached, `/${paste.id}/raw`)).body).toBe('version two')
    expect((await get(cached, `/${paste.id}`)).body).toContain('version two')
    const deleted = await cached.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } })
    expect(deleted.statusCode).toBe(204)
    expect((await get(cached, `/${paste.id}`)).statusCode).toBe(404)
    expect((await get(cached, `/${paste.id}/raw`)).statusCode).toBe(404)
  })
})

describe('a burn-after-reading paste', () => {
  it('never enters the cache: its page warns every time, and raw consumes it once', async () => {
    const paste = await createPaste(cached, { content: 'read me once', burn: true })
    const hits = await hitsOf(cached, async () => {
      for (let i = 0; i < 3; i++) expect((await get(cached, `/${paste.id}`)).body).toContain('Burn after reading')
      expect((await get(cached, `/${paste.id}/raw`)).body).toBe('read me once')
    })
    expect(hits).toBe(0)
    expect((await get(cached, `/${paste.id}/raw`)).statusCode).toBe(404)
    expect((await get(cached, `/${paste.id}`)).statusCode).toBe(404)
  })
})

describe('/metrics', () => {
  it(`shows the cache ${clusterMode ? 'off (Redis Cluster)' : 'on, with its entries and bytes'}`, async () => {
    const paste = await createPaste(cached, { content: 'measured' })
    await get(cached, `/${paste.id}/raw`)
    expect(await metric(cached, 'page_cache_tracking_up')).toBe(clusterMode ? 0 : 1)
    if (clusterMode) expect(await metric(cached, 'page_cache_hits_total')).toBe(0)
    else {
      expect(await metric(cached, 'page_cache_entries')).toBeGreaterThan(0)
      expect(await metric(cached, 'page_cache_bytes')).toBeGreaterThan(0)
    }
    for (const name of ['hits', 'misses', 'evictions', 'invalidations', 'increment_errors']) {
      expect(await metric(cached, `page_cache_${name}_total`)).toBeGreaterThanOrEqual(0)
    }
    // The lean connection for reads past the cache and the views' counts (REDIS_READ_BATCH_MS):
    // none on a cluster; else a counted view reaches Redis through it once it is connected.
    const counters = async () => [await metric(cached, 'redis_reads_sent_total'), await metric(cached, 'redis_read_writes_total')] as const
    if (clusterMode) expect(await counters()).toEqual([0, 0])
    else {
      const [sent, writes] = await waitUntil(async () => {
        await get(cached, `/${paste.id}`)
        const read = await counters()
        return read[0] > 0 && read
      })
      expect(writes).toBeGreaterThan(0)
      expect(writes).toBeLessThanOrEqual(sent)
    }
  })

  it(clusterMode ? 'holds no bytes on a cluster, whatever PAGE_CACHE_BYTES and WORKERS say' : 'gives each of WORKERS processes its share of PAGE_CACHE_BYTES', async () => {
    expect(await metric(cached, 'page_cache_max_bytes')).toBe(clusterMode ? 0 : 16 * 2 ** 20)
    const { app: worker } = await build({ ...NO_SWEEPS, WORKERS: '3', PAGE_CACHE_BYTES: '3000000' })
    expect(await metric(worker, 'page_cache_max_bytes')).toBe(clusterMode ? 0 : 1_000_000)
  })

  it('shows the cache off with PAGE_CACHE_BYTES=0', async () => {
    expect(await metric(uncached, 'page_cache_tracking_up')).toBe(0)
    expect(await metric(uncached, 'page_cache_entries')).toBe(0)
  })
})
