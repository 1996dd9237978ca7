// The record cache (src/model/RecordCache.ts, CachedRead.ts) on a real Redis with real CLIENT
// TRACKING (src/redis/TrackingConnections.ts): what it serves from memory, and every way it
// learns that a copy is no longer true. Always a single Redis of this file's own: the cache is
// off on a cluster, and these tests kill its connections and restart the server.
import type { Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { column, defineModel, RecordCache, Store, type RecordCacheLimits } from '../../src/model/index.js'
import { ENTRY_OVERHEAD_BYTES } from '../../src/model/RecordCache.js'
import { connectRedis } from '../../src/redis/client.js'
import { HASH_READER_NAME, HashReader } from '../../src/redis/HashReader.js'
import { INCREMENT_MANY_SHA } from '../../src/model/scripts.js'
import { TrackingConnections } from '../../src/redis/TrackingConnections.js'
import { freePort, scriptCalls, startRedisServer, stopRedisServer, useTestRedis } from '../helpers/redis.js'
import { freshPrefix, waitUntil } from './fixtures.js'

const db = useTestRedis({ clusterNodes: () => undefined })

const Doc = defineModel('doc', {
  id: column.string({ primaryKey: true }),
  title: column.string({ default: '' }),
  body: column.bytes({ required: true }),
  secret: column.boolean({ default: false }),
  hits: column.int({ default: 0, counter: true }),
  rev: column.int({ default: 1 }),
}, { version: 'rev' })

const FULL = Doc.cachedRead({ select: ['title', 'body', 'hits', 'secret'], increment: { hits: 1 }, keep: (doc) => !doc.secret })
const TITLE = Doc.cachedRead({ select: ['title'], keep: () => true })

interface Cached {
  store: Store
  cache: RecordCache
  tracking: TrackingConnections
  client: Redis
}

const opened: Cached[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map(async ({ tracking, client }) => {
    await tracking.close()
    await client.quit().catch(() => client.disconnect())
  }))
})

/** A store with a record cache, wired to its tracking pair as app.ts does; tracking up. */
async function openCache(limits: Partial<RecordCacheLimits> = {}, url = db.url, hashReader?: HashReader): Promise<Cached> {
  const client = await connectRedis(url)
  const cache = new RecordCache({ maxBytes: 1 << 20, maxEntryBytes: 1 << 20, ...limits })
  const tracking = new TrackingConnections(client)
  tracking.on('up', () => cache.enable(tracking.reader))
  tracking.on('down', () => cache.disable())
  tracking.on('invalidate', (keys) => cache.invalidate(keys))
  const cached = { store: new Store(client, { prefix: freshPrefix(db), cache, ...(hashReader ? { hashReader } : {}) }), cache, tracking, client }
  opened.push(cached)
  await tracking.start()
  expect(tracking.up).toBe(true)
  return cached
}

let ids = 0
async function createDoc(store: Store, values: { title?: string; body?: string; secret?: boolean } = {}, expiresAt?: Date) {
  const id = `d${++ids}`
  await Doc.create(store, { id, title: values.title ?? 'first', body: Buffer.from(values.body ?? 'body'), secret: values.secret ?? false }, { expiresAt: expiresAt ?? null })
  return { id, key: store.keys('doc').record(id) }
}

/** Reads the record twice: the second read must come from memory. */
/** What the cache counts for one FULL entry of a doc with a 1,000-byte body. */
async function bytesOfOneEntry(): Promise<number> {
  const { store, cache } = await openCache()
  const one = await createDoc(store, { body: 'x'.repeat(1000) })
  await FULL.load(store, one.id)
  return cache.bytes
}

/**
 * Runs `test` on a cache with room for one entry, held by a record read often, and a store whose
 * hash reader is connected: every other record is read past the cache. `readerAddress` is the
 * reader's connection as CLIENT LIST and MONITOR name it.
 */
async function pastTheCache(test: (context: { store: Store; cache: RecordCache; reader: HashReader; readerAddress: string }) => Promise<void>) {
  const entryBytes = await bytesOfOneEntry()
  const reader = new HashReader({ port: Number(new URL(db.url).port) })
  const { store, cache } = await openCache({ maxBytes: entryBytes + 64 }, db.url, reader)
  try {
    await waitUntil(async () => reader.ready, 2000)
    const popular = await createDoc(store, { body: 'x'.repeat(1000) })
    for (let i = 0; i < 5; i++) await FULL.load(store, popular.id)
    const clients = String(await (db.redis as Redis).client('LIST'))
    const readerAddress = clients.split('\n').find((line) => line.includes(`name=${HASH_READER_NAME}`))?.match(/addr=(\S+)/)?.[1]
    expect(readerAddress).toBeDefined()
    await test({ store, cache, reader, readerAddress: readerAddress! })
  } finally {
    reader.close()
  }
}

async function warm(store: Store, cache: RecordCache, id: string) {
  await FULL.load(store, id)
  const hits = cache.stats.hits
  await FULL.load(store, id)
  expect(cache.stats.hits).toBe(hits + 1)
}

const paused = (connection: Redis) => connection.stream as Socket

describe('a cached read', () => {
  it('serves a record from memory once read, until another client changes it', async () => {
    const { store, cache } = await openCache()
    const { id, key } = await createDoc(store)
    await warm(store, cache, id)
    expect((await FULL.load(store, id))?.title).toBe('first')
    await db.redis.hset(key, 'title', 'changed elsewhere')
    await waitUntil(async () => (await FULL.load(store, id))?.title === 'changed elsewhere', 1000)
    expect(cache.stats.invalidations).toBeGreaterThan(0)
  })

  it('answers a hit at once and a miss with a promise (read), each counted once in the stats', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store)
    const miss = FULL.read(store, id, true)
    expect(miss).toBeInstanceOf(Promise)
    expect((await miss)?.hits).toBe(1)
    expect(cache.stats).toMatchObject({ hits: 0, misses: 1 })
    const hit = FULL.read(store, id, true)
    expect(hit).not.toBeInstanceOf(Promise)
    expect((hit as { hits: number }).hits).toBe(2)
    expect(cache.stats).toMatchObject({ hits: 1, misses: 1 })
  })

  it('drops every selection of a record when Redis invalidates its key', async () => {
    const { store, cache } = await openCache()
    const { id, key } = await createDoc(store)
    await warm(store, cache, id)
    await TITLE.load(store, id)
    expect(cache.size).toBe(2)
    const invalidations = cache.stats.invalidations
    await db.redis.hset(key, 'title', 'second')
    await waitUntil(async () => cache.stats.invalidations > invalidations, 1000)
    expect(cache.size).toBe(0)
    expect(await TITLE.load(store, id)).toEqual({ id, title: 'second' })
  })

  it('never keeps a reply whose invalidation was processed first (the fill-token race)', async () => {
    const { store, cache, tracking } = await openCache()
    const { id, key } = await createDoc(store)
    // The reply of the tracked read is held back in the reader's socket…
    paused(tracking.reader).pause()
    const reading = FULL.load(store, id)
    await sleep(30)
    // …while a write by another client is invalidated on the other connection.
    const invalidations = cache.stats.invalidations
    await db.redis.hset(key, 'title', 'newer')
    await waitUntil(async () => cache.stats.invalidations > invalidations, 1000)
    paused(tracking.reader).resume()
    expect((await reading)?.title).toBe('first')
    expect(cache.size).toBe(0)
    expect((await FULL.load(store, id))?.title).toBe('newer')
  })

  it('keeps a held-back reply that nothing invalidated (the control of the race)', async () => {
    const { store, cache, tracking } = await openCache()
    const { id } = await createDoc(store)
    paused(tracking.reader).pause()
    const reading = FULL.load(store, id)
    await sleep(30)
    paused(tracking.reader).resume()
    await reading
    expect(cache.size).toBe(1)
  })

  it('drops a record this process writes at once, without waiting for Redis to say so', async () => {
    const { store, cache, tracking } = await openCache()
    const { id } = await createDoc(store)
    // No invalidation message gets through: only the process's own eviction can help.
    paused(tracking.invalidations).pause()
    try {
      await warm(store, cache, id)
      const current = await Doc.load(store, id)
      if (!current) throw new Error('no doc')
      await Doc.update(store, current, { title: 'updated' })
      expect((await FULL.load(store, id))?.title).toBe('updated')
      await warm(store, cache, id)
      await Doc.patch(store, id, { title: 'patched' })
      expect((await FULL.load(store, id))?.title).toBe('patched')
      await warm(store, cache, id)
      await Doc.save(store, { id, title: 'saved', body: Buffer.from('b') })
      expect((await FULL.load(store, id))?.title).toBe('saved')
      await warm(store, cache, id)
      await Doc.delete(store, id)
      expect(await FULL.load(store, id)).toBeNull()
      const other = await createDoc(store)
      await warm(store, cache, other.id)
      expect(await Doc.take(store, other.id)).not.toBeNull()
      expect(await FULL.load(store, other.id)).toBeNull()
    } finally {
      paused(tracking.invalidations).resume()
    }
  })

  it('never keeps a record its keep-predicate refuses', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store, { secret: true })
    await FULL.load(store, id)
    await FULL.load(store, id)
    expect(cache.stats.hits).toBe(0)
    expect(cache.size).toBe(0)
  })

  it('drops everything on FLUSHALL', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store)
    await warm(store, cache, id)
    await db.redis.flushall()
    await waitUntil(async () => cache.size === 0, 1000)
    expect(await FULL.load(store, id)).toBeNull()
  })

  it('treats an entry as gone from its record\'s expiry instant, before Redis deletes the key', async () => {
    // A server of its own whose active expiry is off: Redis deletes (and invalidates) an
    // expired key only when a command touches it.
    const port = await freePort()
    const server = await startRedisServer(port, ['--enable-debug-command', 'yes'])
    try {
      const { store, cache } = await openCache({}, `redis://127.0.0.1:${port}`)
      await store.redis.call('DEBUG', 'SET-ACTIVE-EXPIRE', '0')
      const expiresAt = new Date(Date.now() + 300)
      const { id } = await createDoc(store, {}, expiresAt)
      await warm(store, cache, id)
      const invalidations = cache.stats.invalidations
      await sleep(expiresAt.getTime() - Date.now() + 1)
      // Redis has said nothing: the copy is still there, and only its expiry instant can tell.
      expect(cache.stats.invalidations).toBe(invalidations)
      expect(cache.size).toBe(1)
      const hits = cache.stats.hits
      expect(await FULL.load(store, id)).toBeNull()
      expect(cache.stats.hits).toBe(hits)
    } finally {
      await stopRedisServer(server)
    }
  })
})

describe('the byte budget', () => {
  it('counts an entry as the bytes of its values and a fixed overhead', async () => {
    const { store, cache } = await openCache()
    const { id, key } = await createDoc(store, { body: 'x'.repeat(1000) })
    await FULL.load(store, id)
    // The body's bytes, the title and id at two bytes a character, the slot's name, the overhead.
    expect(cache.bytes).toBe(1000 + 2 * 'first'.length + 2 * id.length + `1|${key}`.length + ENTRY_OVERHEAD_BYTES)
  })

  it('evicts the least recently used entries to stay within PAGE_CACHE_BYTES', async () => {
    const entry = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: Math.floor(3.5 * entry) })
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => createDoc(store, { body: 'x'.repeat(1000) })))
    for (const doc of [a, b, c]) await FULL.load(store, doc!.id)
    expect(cache.size).toBe(3)
    await FULL.load(store, a!.id) // a is now the most recently used, b the least
    // Once full, a miss gets in when it was asked for more often before than b (once): d's third read.
    await FULL.load(store, d!.id)
    await FULL.load(store, d!.id)
    expect(cache.stats.evictions).toBe(0)
    await FULL.load(store, d!.id)
    expect(cache.stats.evictions).toBe(1)
    expect(cache.bytes).toBeLessThanOrEqual(cache.limits.maxBytes)
    const hits = cache.stats.hits
    await FULL.load(store, a!.id)
    expect(cache.stats.hits).toBe(hits + 1)
    await FULL.load(store, b!.id)
    expect(cache.stats.hits).toBe(hits + 1)
  })

  it('when every entry was read lately, pushes out the oldest, never the entry just kept', async () => {
    const entry = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: Math.floor(3.5 * entry) })
    const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => createDoc(store, { body: 'x'.repeat(1000) })))
    for (const doc of [a, b, c]) await FULL.load(store, doc!.id)
    // Each read once more: eviction's hand passes over all three (CLOCK's second chance), and a
    // is then the oldest of them. d gets in on its fourth read (asked for more often than a, twice).
    for (const doc of [c, b, a, d, d, d]) await FULL.load(store, doc!.id)
    expect(cache.stats.evictions).toBe(0)
    await FULL.load(store, d!.id)
    expect([cache.size, cache.stats.evictions]).toEqual([3, 1])
    const hits = cache.stats.hits
    for (const doc of [b, c, d]) await FULL.load(store, doc!.id)
    expect(cache.stats.hits).toBe(hits + 3)
    await FULL.load(store, a!.id)
    expect(cache.stats.hits).toBe(hits + 3)
  })

  it('once full, keeps a miss only if it was asked for more often than the entry it would push out', async () => {
    const entry = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: Math.floor(3.5 * entry) })
    const docs = await Promise.all(Array.from({ length: 11 }, () => createDoc(store, { body: 'x'.repeat(1000) })))
    // A scan larger than the cache: the first 3 fit; the 8 others, each asked for once like the
    // least recently used entry, are read without being kept.
    for (const doc of docs) await FULL.load(store, doc.id)
    expect([cache.size, cache.stats.evictions]).toEqual([3, 0])
    const hits = cache.stats.hits
    for (const i of [0, 1, 2]) await FULL.load(store, docs[i]!.id)
    expect(cache.stats.hits).toBe(hits + 3)
    // A record asked for more often before than the entry it would push out gets in: the least
    // recently used, docs[0], was asked for twice; docs[5] once, then twice more, then it is kept.
    await FULL.load(store, docs[5]!.id)
    await FULL.load(store, docs[5]!.id)
    expect([cache.size, cache.stats.evictions]).toEqual([3, 0])
    await FULL.load(store, docs[5]!.id)
    expect(cache.stats.evictions).toBe(1)
    const before = cache.stats.hits
    await FULL.load(store, docs[5]!.id)
    expect(cache.stats.hits).toBe(before + 1)
  })

  it('lets the records read now push out those read most before, once their counts have faded', async () => {
    const entry = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: Math.floor(4.5 * entry) })
    const docs = await Promise.all(Array.from({ length: 8 }, () => createDoc(store, { body: 'x'.repeat(1000) })))
    const [before, now] = [docs.slice(0, 4), docs.slice(4)]
    // Read 15 times each: counts as high as the sketch's go.
    for (let round = 0; round < 15; round++) for (const doc of before) await FULL.load(store, doc.id)
    expect(cache.size).toBe(4)
    // Then only the other four are read. Counts halve every 10 lookups per entry, or every
    // width lookups if more (4,096 here): within 1,100 rounds (4,400 lookups) they are all kept.
    // Halving every 10 × width (40,960 lookups) kept them out ten times longer.
    for (let round = 0; round < 1100; round++) for (const doc of now) await FULL.load(store, doc.id)
    const hits = cache.stats.hits
    for (const doc of now) await FULL.load(store, doc.id)
    expect(cache.stats.hits).toBe(hits + now.length)
    expect(cache.size).toBe(4)
  })

  it('reads a miss it will not keep untracked: Redis sends no invalidation when that record changes', async () => {
    const entry = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: Math.floor(1.5 * entry) })
    const [kept, passing] = await Promise.all([createDoc(store, { body: 'x'.repeat(1000) }), createDoc(store, { body: 'y'.repeat(1000) })])
    await FULL.load(store, kept.id)
    // Full now: a record asked for no more often than the kept one is not read to be kept.
    expect(await FULL.load(store, passing.id, true)).toMatchObject({ body: Buffer.from('y'.repeat(1000)), hits: 1 })
    expect([cache.size, cache.stats.misses]).toEqual([1, 2])
    const before = cache.stats.invalidations
    await Doc.patch(store, passing.id, { title: 'changed' })
    await Doc.patch(store, kept.id, { title: 'changed' })
    // Only the kept record's key was tracked: one invalidation arrives, for it.
    await waitUntil(async () => cache.stats.invalidations > before)
    await sleep(50)
    expect(cache.stats.invalidations).toBe(before + 1)
  })

  it('never keeps an entry above PAGE_CACHE_MAX_ENTRY_BYTES, and keeps the others', async () => {
    const { store, cache } = await openCache({ maxEntryBytes: 2000 })
    const small = await createDoc(store, { body: 'x'.repeat(100) })
    const big = await createDoc(store, { body: 'x'.repeat(2000) })
    await warm(store, cache, small.id)
    await FULL.load(store, big.id)
    await FULL.load(store, big.id)
    expect(cache.size).toBe(1)
    expect(cache.bytes).toBeLessThan(2000)
  })
})

describe('lost tracking', () => {
  async function cachedAndRead(store: Store, cache: RecordCache) {
    const { id, key } = await createDoc(store)
    await warm(store, cache, id)
    return { id, key }
  }

  /** The cache is off and empty; reads still answer, from Redis; then it comes back by itself. */
  async function offThenBack({ store, cache, tracking }: Cached, id: string) {
    await waitUntil(async () => !tracking.up, 1000)
    expect(cache.size).toBe(0)
    expect(cache.reader).toBeNull()
    await waitUntil(async () => tracking.up, 5000)
    await warm(store, cache, id)
  }

  it('drops the cache when the invalidation connection is killed, and turns it on again once resubscribed', async () => {
    const opened = await openCache()
    const { id, key } = await cachedAndRead(opened.store, opened.cache)
    const subscriber = await opened.tracking.invalidations.client('ID').catch(() => null)
    expect(subscriber).toBeNull() // subscribed connections refuse other commands: kill it by type
    await db.redis.client('KILL', 'TYPE', 'pubsub')
    await offThenBack(opened, id)
    // The reader redirects to the new subscriber: a change by another client is heard again.
    await db.redis.hset(key, 'title', 'after the kill')
    await waitUntil(async () => (await FULL.load(opened.store, id))?.title === 'after the kill', 1000)
  })

  it('drops the cache when the tracked reader is killed, and turns it on again once it is tracked again', async () => {
    const opened = await openCache()
    const { id, key } = await cachedAndRead(opened.store, opened.cache)
    const reader = await opened.tracking.reader.client('ID')
    await db.redis.client('KILL', 'ID', String(reader))
    await offThenBack(opened, id)
    await db.redis.hset(key, 'title', 'after the kill')
    await waitUntil(async () => (await FULL.load(opened.store, id))?.title === 'after the kill', 1000)
  })

  it('drops the cache while Redis restarts, and serves from Redis until tracking is back', async () => {
    const opened = await openCache()
    const { id } = await cachedAndRead(opened.store, opened.cache)
    await db.stop()
    await waitUntil(async () => !opened.tracking.up, 1000)
    expect(opened.cache.size).toBe(0)
    await expect(FULL.load(opened.store, id)).rejects.toThrow()
    await db.restart()
    // The restarted server holds nothing (no persistence here): the record is gone, and so is its copy.
    await waitUntil(async () => opened.tracking.up && opened.client.status === 'ready', 5000)
    expect(await FULL.load(opened.store, id)).toBeNull()
    const again = await createDoc(opened.store)
    await warm(opened.store, opened.cache, again.id)
  })
})

describe('counting', () => {
  const runsOnOwnRedis = !process.env.REDIS_URL
  /** The count Redis holds, read past the cache. */
  const counted = async (store: Store, id: string) => (await Doc.load(store, id, { select: ['hits'] }))?.hits

  it('counts every one of N concurrent views in Redis, serves them from memory, and never shows more than were counted', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store)
    await FULL.load(store, id, true)
    const shown = await Promise.all(Array.from({ length: 100 }, () => FULL.load(store, id, true)))
    expect(cache.stats.hits).toBe(100)
    await waitUntil(async () => (await counted(store, id)) === 101, 2000)
    const counts = shown.map((doc) => doc?.hits ?? 0)
    expect(Math.max(...counts)).toBeLessThanOrEqual(101)
    expect(new Set(counts).size).toBe(100)
    expect(cache.stats.incrementErrors).toBe(0)
    // The replies have brought the copy up to Redis' count.
    expect((await FULL.load(store, id))?.hits).toBe(101)
  })

  it('does not drop the copy when a view is counted, here or in another process', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store)
    await warm(store, cache, id)
    const invalidations = cache.stats.invalidations
    await Doc.increment(store, id, { hits: 5 })
    await FULL.load(store, id, true)
    await new Promise((r) => setTimeout(r, 50))
    expect(cache.stats.invalidations).toBe(invalidations)
    expect(cache.size).toBe(1)
    // The count it shows catches up with the other process's views at its next reply.
    expect((await FULL.load(store, id))?.hits).toBe(6)
  })

  it('shows each view its own count on a hit, and does not count a read that does not ask to', async () => {
    const { store, cache } = await openCache()
    const { id } = await createDoc(store)
    await FULL.load(store, id)
    await FULL.load(store, id)
    expect(cache.stats.hits).toBe(1)
    expect(await counted(store, id)).toBe(0)
    expect((await FULL.load(store, id, true))?.hits).toBe(1)
    expect((await FULL.load(store, id, true))?.hits).toBe(2)
    await waitUntil(async () => (await counted(store, id)) === 2, 1000)
  })

  it.runIf(!process.env.REDIS_URL)('sends the views of N different records served in one turn in one script, and shows each its count', async () => {
    const { store, cache } = await openCache()
    const docs = await Promise.all(Array.from({ length: 50 }, () => createDoc(store)))
    const view = () => Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
    const allCounted = (n: number) => waitUntil(async () => (await Doc.loadMany(store, docs.map((d) => d.id))).every((d) => d?.hits === n), 2000)
    await view() // misses: fills, each counted by a script of its own
    await view() // hits: the scripts are loaded, so each call below is one EVALSHA
    await allCounted(2)
    const hits = cache.stats.hits
    const before = await scriptCalls(db.redis as Redis)
    const shown = await view()
    expect(cache.stats.hits).toBe(hits + docs.length)
    await allCounted(3)
    expect((await scriptCalls(db.redis as Redis)) - before).toBe(1)
    expect(shown.map((doc) => doc?.hits)).toEqual(docs.map(() => 3))
    expect(cache.stats.incrementErrors).toBe(0)
  })

  it.runIf(!process.env.REDIS_URL)('counts the views read past the cache as it counts hits: one script for a turn, each shown its count', async () => {
    const entryBytes = await bytesOfOneEntry()
    // Past the cache: while tracking is down; and misses a full cache does not admit, as the
    // one record it holds was asked for more often.
    const setUps = [
      async ({ cache }: Cached) => cache.disable(),
      async ({ store, cache }: Cached) => {
        const popular = await createDoc(store, { body: 'x'.repeat(1000) })
        for (let i = 0; i < 5; i++) await FULL.load(store, popular.id)
        expect(cache.size).toBe(1)
      },
    ]
    for (const setUp of setUps) {
      // Room for one entry (ids and keys grow by a digit or two meanwhile).
      const opened = await openCache({ maxBytes: entryBytes + 64 })
      const { store, cache } = opened
      await setUp(opened)
      const docs = await Promise.all(Array.from({ length: 20 }, () => createDoc(store, { body: 'x'.repeat(1000) })))
      const view = () => Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
      const allCounted = (n: number) => waitUntil(async () => (await Doc.loadMany(store, docs.map((d) => d.id))).every((d) => d?.hits === n), 2000)
      const { hits, size } = { hits: cache.stats.hits, size: cache.size }
      await view()
      await allCounted(1)
      const before = await scriptCalls(db.redis as Redis)
      const shown = await view()
      await allCounted(2)
      expect((await scriptCalls(db.redis as Redis)) - before).toBe(1)
      expect(shown.map((doc) => doc?.hits)).toEqual(docs.map(() => 2))
      expect(cache.stats.hits).toBe(hits)
      expect(cache.size).toBe(size)
      // A record deleted meanwhile is not made again by its count.
      await Doc.delete(store, docs[0]!.id)
      expect(await FULL.load(store, docs[0]!.id, true)).toBeNull()
      await cache.flush()
      expect(await db.redis.exists(store.keys('doc').counters(docs[0]!.id))).toBe(0)
    }
  })

  it.runIf(!process.env.REDIS_URL)('reads past the cache and sends the counts through the store\'s hash reader while it is connected, and through ioredis while it is not', () => pastTheCache(async ({ store, cache, reader, readerAddress }) => {
    const docs = await Promise.all(Array.from({ length: 5 }, (_, i) => createDoc(store, { title: `t${i}`, body: `body ${i}` })))
    const monitor = await (db.redis as Redis).duplicate()
    const reads: { source: string; args: string }[] = []
    const scripts: string[] = []
    await monitor.monitor().then((feed) => feed.on('monitor', (_time: string, args: string[], source: string) => {
      if (/^hmget$/i.test(args[0] ?? '') && !String(args[1]).endsWith(':counters')) reads.push({ source, args: args.join(' ') })
      // ioredis sends EVAL with the script's text when it has not run it on its connection yet.
      const script = /^evalsha$/i.test(args[0] ?? '') ? args[1] === INCREMENT_MANY_SHA : /^eval$/i.test(args[0] ?? '') && String(args[1]).includes('increment_record(KEYS[2 * r - 1]')
      if (script) scripts.push(source)
    }))
    try {
      const view = () => Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
      const shown = await view()
      expect(shown.map((doc) => [doc?.title, doc?.body.toString(), doc?.hits])).toEqual(docs.map((_, i) => [`t${i}`, `body ${i}`, 1]))
      await cache.flush()
      await waitUntil(async () => reads.length >= docs.length, 2000)
      expect(reads.every(({ source }) => source === readerAddress)).toBe(true)
      expect(cache.size).toBe(1)
      // The counts too (the first script may go through ioredis, which loads it into Redis).
      expect((await view()).map((doc) => doc?.hits)).toEqual(docs.map(() => 2))
      await cache.flush()
      await waitUntil(async () => scripts.includes(readerAddress), 2000)
      // Whatever else the monitor has yet to tell of those views.
      await sleep(100)
      reads.length = 0
      scripts.length = 0
      reader.close()
      const again = await view()
      expect(again.map((doc) => [doc?.title, doc?.hits])).toEqual(docs.map((_, i) => [`t${i}`, 3]))
      await cache.flush()
      await waitUntil(async () => scripts.length > 0, 2000)
      expect(scripts.includes(readerAddress)).toBe(false)
      expect(Number(await db.redis.hget(store.keys('doc').counters(docs[0]!.id), 'hits'))).toBe(3)
      await cache.flush()
      await waitUntil(async () => reads.length >= docs.length, 2000)
      expect(reads.some(({ source }) => source === readerAddress)).toBe(false)
    } finally {
      monitor.disconnect()
    }
  }))

  it.runIf(!process.env.REDIS_URL)('sends the counts through ioredis when Redis lost the script, and never again a script Redis refused halfway', () => pastTheCache(async ({ store, cache }) => {
    const [first, second] = await Promise.all([1, 2].map(() => createDoc(store, { title: 't' })))
    const counted = async (id: string) => Number(await db.redis.hget(store.keys('doc').counters(id), 'hits'))
    // Redis forgets its scripts: the reader's EVALSHA gets NOSCRIPT, and ioredis loads it.
    await (db.redis as Redis).script('FLUSH')
    await Promise.all([first!, second!].map(({ id }) => FULL.load(store, id, true)))
    await cache.flush()
    expect([await counted(first!.id), await counted(second!.id), cache.stats.incrementErrors]).toEqual([1, 1, 0])
    // The second record's counters are no hash: the script bumps the first, then fails. Sent
    // again, it would bump the first twice.
    await db.redis.del(store.keys('doc').counters(second!.id))
    await db.redis.set(store.keys('doc').counters(second!.id), 'not a hash')
    await Promise.all([first!, second!].map(({ id }) => FULL.load(store, id, true)))
    await cache.flush()
    expect([await counted(first!.id), cache.stats.incrementErrors]).toEqual([2, 2])
  }))

  it.runIf(!process.env.REDIS_URL)('reads again through ioredis what the hash reader fails, its connection killed while the read was out', () => pastTheCache(async ({ store, cache, readerAddress }) => {
    const docs = await Promise.all(Array.from({ length: 3 }, (_, i) => createDoc(store, { title: `t${i}` })))
    await (db.redis as Redis).client('PAUSE', 300, 'ALL')
    const shown = Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
    await sleep(20)
    await (db.redis as Redis).client('KILL', 'ADDR', readerAddress)
    expect((await shown).map((doc) => [doc?.title, doc?.hits])).toEqual(docs.map((_, i) => [`t${i}`, 1]))
    expect(cache.size).toBe(1)
  }))

  it.runIf(!process.env.REDIS_URL)('remembers the count Redis answered for a record read past the cache: its next counted read is one HMGET, never shows more than Redis counted, and a deletion forgets it', async () => {
    const entryBytes = await bytesOfOneEntry()
    const { store, cache } = await openCache({ maxBytes: entryBytes + 64 })
    const popular = await createDoc(store, { body: 'x'.repeat(1000) })
    for (let i = 0; i < 5; i++) await FULL.load(store, popular.id)
    const docs = await Promise.all(Array.from({ length: 10 }, () => createDoc(store, { body: 'x'.repeat(1000) })))
    const view = () => Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
    await view()
    await cache.flush()
    expect(cache.countsHeld).toBe(docs.length)
    // Another process counts views meanwhile: this one shows them from its next reply on.
    await Doc.increment(store, docs[0]!.id, { hits: 5 })
    const monitor = await (db.redis as Redis).duplicate()
    const commands: string[] = []
    await monitor.monitor().then((feed) => feed.on('monitor', (_time: string, args: string[]) => commands.push(args.join(' '))))
    try {
      const shown = await view()
      await cache.flush()
      await sleep(50)
      const reads = commands.filter((c) => /^hmget /i.test(c))
      expect(reads).toHaveLength(docs.length)
      expect(reads.every((c) => !c.includes(':counters'))).toBe(true)
      expect(shown.map((doc) => doc?.hits)).toEqual(docs.map(() => 2))
    } finally {
      monitor.disconnect()
    }
    expect((await view())[0]?.hits).toBe(8)
    await cache.flush()
    expect((await Promise.all(docs.map(({ id }) => counted(store, id))))).toEqual(docs.map((_, i) => (i === 0 ? 8 : 3)))
    // Deleted in another process: the read finds no record, and the count is forgotten.
    await Doc.delete(new Store(db.redis as Redis, { prefix: store.prefix }), docs[1]!.id)
    expect(await FULL.load(store, docs[1]!.id, true)).toBeNull()
    expect(cache.countsHeld).toBe(docs.length - 1)
    // Deleted here: forgotten at once.
    await Doc.delete(store, docs[2]!.id)
    expect(cache.countsHeld).toBe(docs.length - 2)
  })

  it('holds the views of incrementWindowMs and sends them in one script, and flush sends them at once', async () => {
    const { store, cache } = await openCache({ incrementWindowMs: 60_000 })
    const docs = await Promise.all([1, 2, 3].map(() => createDoc(store)))
    for (const { id } of docs) await warm(store, cache, id)
    // Over several turns of the event loop: nothing is sent yet, each view shows its own count.
    for (let turn = 1; turn <= 3; turn++) {
      const shown = await Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
      expect(shown.map((doc) => doc?.hits)).toEqual(docs.map(() => turn))
      await new Promise((resolve) => setImmediate(resolve))
    }
    await sleep(30)
    expect(await Promise.all(docs.map(({ id }) => counted(store, id)))).toEqual([0, 0, 0])
    const before = runsOnOwnRedis ? await scriptCalls(db.redis as Redis) : 0
    await cache.flush()
    expect(await Promise.all(docs.map(({ id }) => counted(store, id)))).toEqual([3, 3, 3])
    if (runsOnOwnRedis) expect((await scriptCalls(db.redis as Redis)) - before).toBe(1)
    // Nothing is held any more: a second flush sends nothing.
    await cache.flush()
    expect(await Promise.all(docs.map(({ id }) => counted(store, id)))).toEqual([3, 3, 3])
  })

  it('sends a cached record\'s views again in each window, beside views of it read past the cache in the same window', async () => {
    const { store, cache } = await openCache({ incrementWindowMs: 60_000 })
    const { id } = await createDoc(store)
    await warm(store, cache, id)
    for (let window = 1; window <= 3; window++) {
      expect((await FULL.load(store, id, true))?.hits).toBe(2 * window - 1)
      expect((await FULL.load(store, id, true))?.hits).toBe(2 * window)
      await cache.flush()
      expect(await counted(store, id)).toBe(2 * window)
    }
    // A hit, then (tracking lost) a read past the cache, in one window: each goes out as its own row.
    expect((await FULL.load(store, id, true))?.hits).toBe(7)
    cache.disable()
    expect((await FULL.load(store, id, true))?.hits).toBe(7)
    await cache.flush()
    expect(await counted(store, id)).toBe(8)
    expect(cache.stats.incrementErrors).toBe(0)
  })

  it('sends held views when their window ends, without a flush', async () => {
    const { store, cache } = await openCache({ incrementWindowMs: 20 })
    const { id } = await createDoc(store)
    await warm(store, cache, id)
    await FULL.load(store, id, true)
    await FULL.load(store, id, true)
    expect(await counted(store, id)).toBe(0)
    await waitUntil(async () => (await counted(store, id)) === 2, 2000)
  })

  it('drops every record of a turn whose increments failed, and counts each failure', async () => {
    const { store, cache } = await openCache()
    const docs = await Promise.all([1, 2, 3].map(() => createDoc(store)))
    for (const { id } of docs) await warm(store, cache, id)
    const size = cache.size
    // The script fails at its first counter: the counters hash is not a hash.
    await db.redis.set(store.keys('doc').counters(docs[1]!.id), 'not a hash')
    await Promise.all(docs.map(({ id }) => FULL.load(store, id, true)))
    await waitUntil(async () => cache.stats.incrementErrors === docs.length, 1000)
    expect(cache.size).toBe(size - docs.length)
  })

  it('refuses to bump a counter it does not select', () => {
    expect(() => Doc.cachedRead({ select: ['title'], increment: { hits: 1 }, keep: () => true })).toThrow(/bumps only counters it selects/)
  })
})
