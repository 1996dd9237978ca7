// Counter columns: kept in the record's counters hash (P M:{id}:counters), written only by
// increments, so that bumping one never writes the record's key and a client caching the record
// under CLIENT TRACKING keeps its copy. Reads, deletes and expiry treat them as part of the record.
import { Cluster, type Command, Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { column, defineHistory, defineModel, QueryError, Store, ValidationError } from '../../src/model/index.js'
import { clusterMode, useTestRedis } from '../helpers/redis.js'
import { freshPrefix, freshStore, rejection, scanAll, scanRecordsAndIndexes, waitUntil } from './fixtures.js'

const db = useTestRedis()

const Post = defineModel('post', {
  id: column.string({ primaryKey: true }),
  title: column.string({ required: true }),
  tag: column.string({ index: true }),
  createdAt: column.date({ sortable: true, default: () => new Date() }),
  body: column.string(),
  views: column.int({ default: 0, counter: true }),
  rating: column.float({ default: 1.5, counter: true }),
  rev: column.int({ default: 1 }),
}, { defaultOrder: '-createdAt', version: 'rev' })

const plainClients: Redis[] = []
afterAll(async () => {
  await Promise.all(plainClients.map((c) => c.quit().catch(() => c.disconnect())))
})

/** A plain connection to the server that holds `key` (on a cluster, the master of its slot). */
async function serverOf(key: string): Promise<Redis> {
  let client: Redis
  if (db.redis instanceof Cluster) {
    const slot = Number(await db.redis.cluster('KEYSLOT', key))
    const [host, port] = (db.redis.slots[slot]?.[0] ?? '').split(':')
    client = new Redis(Number(port), host ?? '127.0.0.1')
  } else {
    client = new Redis(db.url)
  }
  plainClients.push(client)
  return client
}

/**
 * A client that reads `key` with CLIENT TRACKING on (RESP2: invalidations are redirected to a
 * subscriber of __redis__:invalidate) and collects the keys Redis says were modified.
 */
async function trackKey(key: string): Promise<{ invalidated: string[]; read(): Promise<unknown> }> {
  const subscriber = await serverOf(key)
  const reader = await serverOf(key)
  const subscriberId = await subscriber.client('ID')
  const invalidated: string[] = []
  subscriber.on('message', (_channel: string, message: string | string[]) => invalidated.push(...[message].flat()))
  await subscriber.subscribe('__redis__:invalidate')
  await reader.client('TRACKING', 'ON', 'REDIRECT', subscriberId)
  const read = () => reader.hgetall(key)
  await read()
  return { invalidated, read }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe('counter columns', () => {
  it('bumps a counter without writing the record key', async () => {
    const store = freshStore(db)
    await Post.create(store, { id: 'p1', title: 'T' })
    const recordKey = store.keys('post').record('p1')
    const tracked = await trackKey(recordKey)
    expect(await Post.increment(store, 'p1', { views: 1 })).toEqual({ views: 1 }) // creates the counters hash
    expect(await Post.increment(store, 'p1', { views: 1, rating: 1 })).toEqual({ views: 2, rating: 2.5 })
    expect(await Post.load(store, 'p1', { select: ['views'], increment: { views: 1 } })).toEqual({ id: 'p1', views: 3 })
    await pause(50)
    expect(tracked.invalidated).not.toContain(recordKey)
    // The control: a change to the record itself is reported.
    await Post.patch(store, 'p1', { body: 'changed' })
    await waitUntil(async () => tracked.invalidated.includes(recordKey))
  })

  it('reads the counters with the record: load, select, loadMany, take and queries', async () => {
    const store = freshStore(db)
    for (const id of ['a', 'b', 'c']) await Post.create(store, { id, title: id, tag: 'x', createdAt: new Date(id.charCodeAt(0)) })
    await Post.increment(store, 'a', { views: 5, rating: 0.25 })
    await Post.increment(store, 'b', { views: 2 })
    expect(await Post.load(store, 'a')).toMatchObject({ id: 'a', title: 'a', views: 5, rating: 1.75 })
    expect(await Post.load(store, 'a', { select: ['views'] })).toEqual({ id: 'a', views: 5 })
    expect(await Post.load(store, 'c', { select: ['views', 'rating'] })).toEqual({ id: 'c', views: 0, rating: 1.5 })
    expect((await Post.loadMany(store, ['a', 'b', 'c', 'z'])).map((p) => p?.views ?? null)).toEqual([5, 2, 0, null])
    expect(await Post.query(store).filter({ tag: 'x' }).select('views', 'title').all()).toEqual([
      { id: 'c', views: 0, title: 'c' }, { id: 'b', views: 2, title: 'b' }, { id: 'a', views: 5, title: 'a' },
    ])
    expect((await Post.query(store).page()).items.map((p) => [p.id, p.views, p.rating])).toEqual([['c', 0, 1.5], ['b', 2, 1.5], ['a', 5, 1.75]])
    expect(await Post.query(store).orderBy('createdAt').select('title').first()).toEqual({ id: 'a', title: 'a' })
    expect(await Post.take(store, 'a')).toMatchObject({ id: 'a', views: 5, rating: 1.75 })
  })

  it('reads the counters hash only when a counter is wanted, in the same round trip', async () => {
    const store = new Store(db.connect(), { prefix: freshPrefix(db) })
    await Post.create(store, { id: 'rt', title: 'T' })
    await Post.increment(store, 'rt', { views: 1 })
    let replies = 0
    const repliesAtSend: number[] = []
    const send = store.redis.sendCommand.bind(store.redis)
    const sent = vi.spyOn(store.redis, 'sendCommand').mockImplementation((command: Command) => {
      repliesAtSend.push(replies)
      command.promise.then(() => replies++, () => replies++)
      return send(command)
    })
    expect(await Post.load(store, 'rt', { select: ['title'] })).toEqual({ id: 'rt', title: 'T' })
    expect(repliesAtSend).toEqual([0])
    repliesAtSend.length = 0
    replies = 0
    expect(await Post.load(store, 'rt', { select: ['title', 'views'] })).toEqual({ id: 'rt', title: 'T', views: 1 })
    expect(repliesAtSend).toEqual([0, 0])
    sent.mockRestore()
  })

  it('returns each increment its own value, and counts every one of 100 concurrent increments', async () => {
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3].map(() => new Store(db.connect(), { prefix }))
    await Post.create(stores[0] as Store, { id: 'busy', title: 'T' })
    const seen = await Promise.all(Array.from({ length: 100 }, (_, i) => {
      const store = stores[i % 3] as Store
      return i % 2 ? Post.increment(store, 'busy', { views: 1 }) : Post.load(store, 'busy', { select: ['views'], increment: { views: 1 } })
    }))
    expect(seen.map((r) => r?.views).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    expect((await Post.load(stores[0] as Store, 'busy'))?.views).toBe(100)
  })

  it('never creates anything for a missing record', async () => {
    const store = freshStore(db)
    expect(await Post.increment(store, 'ghost', { views: 1 })).toBeNull()
    expect(await Post.load(store, 'ghost', { increment: { views: 1 } })).toBeNull()
    await Post.create(store, { id: 'gone', title: 'T' })
    await Post.delete(store, 'gone')
    expect(await Post.increment(store, 'gone', { rating: 1 })).toBeNull()
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })

  it('counts exactly the increments that landed before a concurrent take, and leaves nothing behind', async () => {
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3].map(() => new Store(db.connect(), { prefix }))
    await Post.create(stores[0] as Store, { id: 'race', title: 'T' })
    const bumps = Array.from({ length: 60 }, (_, i) => Post.increment(stores[i % 3] as Store, 'race', { views: 1 }))
    const taken = await Post.take(stores[1] as Store, 'race')
    const landed = (await Promise.all(bumps)).filter((r) => r !== null)
    expect(taken?.views).toBe(landed.length)
    expect(await scanRecordsAndIndexes(db.redis, `${prefix}*`)).toEqual([])
  })

  it('expires the counters hash with its record, and follows a save that moves the expiry', async () => {
    const store = freshStore(db)
    const keys = store.keys('post')
    const at = new Date(Date.now() + 60_000)
    await Post.create(store, { id: 'ttl', title: 'T' }, { expiresAt: at })
    await Post.increment(store, 'ttl', { views: 3 })
    expect(await db.redis.call('PEXPIRETIME', keys.counters('ttl'))).toBe(at.getTime())
    const later = new Date(Date.now() + 120_000)
    await Post.save(store, { id: 'ttl', title: 'T2' }, { expiresAt: later })
    expect(await db.redis.call('PEXPIRETIME', keys.counters('ttl'))).toBe(later.getTime())
    await Post.save(store, { id: 'ttl', title: 'T3' })
    expect(await db.redis.call('PEXPIRETIME', keys.counters('ttl'))).toBe(later.getTime())
    await Post.save(store, { id: 'ttl', title: 'T4' }, { expiresAt: null })
    expect(await db.redis.pttl(keys.counters('ttl'))).toBe(-1)
    expect(await db.redis.pttl(keys.record('ttl'))).toBe(-1)
    expect((await Post.load(store, 'ttl'))?.views).toBe(3)

    await Post.create(store, { id: 'forever', title: 'T' })
    await Post.increment(store, 'forever', { views: 1 })
    expect(await db.redis.pttl(keys.counters('forever'))).toBe(-1)
  })

  it('leaves no counters hash behind a record that expired, was deleted, taken or swept', async () => {
    const store = freshStore(db)
    await Post.create(store, { id: 'brief', title: 'T', tag: 'x' }, { expiresAt: new Date(Date.now() + 200) })
    for (const id of ['del', 'took']) await Post.create(store, { id, title: 'T', tag: 'x' })
    for (const id of ['brief', 'del', 'took']) await Post.increment(store, id, { views: 1 })
    expect((await scanAll(db.redis, `${store.prefix}*`)).filter((k) => k.endsWith(':counters'))).toHaveLength(3)
    await Post.delete(store, 'del')
    expect(await Post.take(store, 'took')).toMatchObject({ views: 1 })
    await waitUntil(async () => (await Post.load(store, 'brief')) === null)
    await Post.sweepExpired(store)
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })

  it('reads a legacy count from the record hash, and increments continue from it', async () => {
    const store = freshStore(db)
    const keys = store.keys('post')
    await Post.create(store, { id: 'old', title: 'T' })
    await Post.create(store, { id: 'old2', title: 'T' })
    // Written before views was a counter: the count sits in the record hash.
    await db.redis.hset(keys.record('old'), 'views', '41')
    await db.redis.hset(keys.record('old2'), 'views', '7')
    expect(await Post.load(store, 'old', { select: ['views'] })).toEqual({ id: 'old', views: 41 })
    expect((await Post.query(store).select('views').all()).map((p) => p.views).sort()).toEqual([41, 7])
    expect(await Post.increment(store, 'old', { views: 1 })).toEqual({ views: 42 })
    expect(await Post.load(store, 'old', { increment: { views: 2 } })).toMatchObject({ views: 44 })
    expect(await db.redis.hget(keys.record('old'), 'views')).toBe('41') // the record key is left alone
    expect((await Post.load(store, 'old'))?.views).toBe(44)
    // A save rewrites the record: the legacy count moves to the counters hash first.
    await Post.save(store, { id: 'old2', title: 'saved' })
    expect(await db.redis.hget(keys.record('old2'), 'views')).toBeNull()
    expect(await Post.load(store, 'old2', { select: ['views', 'title'] })).toEqual({ id: 'old2', views: 7, title: 'saved' })
    expect(await Post.increment(store, 'old2', { views: 1 })).toEqual({ views: 8 })
    expect(await Post.take(store, 'old')).toMatchObject({ views: 44 })
  })

  it('refuses a counter value in create, and keeps the count through save, update and patch', async () => {
    const store = freshStore(db)
    const err = await rejection(Post.create(store, { id: 'c', title: 'T', views: 5 }), ValidationError)
    expect(err).toMatchObject({ column: 'views', message: expect.stringMatching(/post\.views is a counter/) })
    expect(await Post.load(store, 'c')).toBeNull()
    const created = await Post.create(store, { id: 'c', title: 'T', views: 0 })
    expect(await scanAll(db.redis, store.keys('post').counters('c'))).toEqual([]) // a create never writes it
    await Post.increment(store, 'c', { views: 4 })
    await Post.save(store, { id: 'c', title: 'saved', views: 99 })
    const current = await Post.load(store, 'c')
    expect(current).toMatchObject({ title: 'saved', views: 4 })
    const updated = await Post.update(store, current ?? created, { body: 'edited' })
    expect(updated).toMatchObject({ rev: 2, body: 'edited' })
    await expect(Post.update(store, { ...created, rev: 2 }, { views: 1 })).rejects.toThrow(/post\.views cannot be updated: it is a counter/)
    await expect(Post.patch(store, 'c', { rating: 3 })).rejects.toThrow(/post\.rating cannot be patched: it is a counter/)
    expect(await Post.load(store, 'c')).toMatchObject({ title: 'saved', body: 'edited', views: 4, rating: 1.5 })
    expect(await Post.verify(store)).toMatchObject({ ok: true })
  })

  it('refuses to increment anything but counters, or by a wrong amount', async () => {
    const store = freshStore(db)
    await Post.create(store, { id: 'i', title: 'T' })
    await expect(Post.increment(store, 'i', { rev: 1 } as never)).rejects.toThrow(/post\.rev cannot be incremented: only counter columns/)
    await rejection(Post.increment(store, 'i', { views: 0.5 }), QueryError)
    await rejection(Post.increment(store, 'i', {}), QueryError)
    expect(await Post.load(store, 'i')).toMatchObject({ views: 0, rev: 1 })
  })

  it('keeps counters out of indexes, keys, versions and histories', () => {
    const id = column.string({ primaryKey: true })
    const bad = [
      { c: column.int({ default: 0, counter: true, index: true }) },
      { c: column.int({ default: 0, counter: true, sortable: true }) },
      { c: column.int({ default: 0, counter: true, unique: true }) },
      { c: column.int({ counter: true }) },
      { c: column.string({ default: '', counter: true }) },
      { c: column.int({ default: () => 0, counter: true }) },
    ]
    for (const schema of bad) expect(() => defineModel('bad', { id, ...schema })).toThrow(/bad\.c: a counter is an int or float/)
    expect(() => defineModel('bad', { id, c: column.int({ default: 1, counter: true }) }, { version: 'c' })).toThrow(/a counter/)
    expect(() => defineModel('bad', { id, c: column.int({ default: 1, counter: true }) }, { defaultOrder: 'c' })).toThrow(/a counter/)
    expect(() => defineModel('bad', { id, a: column.int(), c: column.int({ default: 0, counter: true }) }, { indexes: [['a', 'c']] })).toThrow(/a counter/)
    const Versioned = defineModel('v', { id, rev: column.int({ default: 1 }), c: column.int({ default: 0, counter: true }) }, { version: 'rev' })
    expect(() => defineHistory('v_history', Versioned, ['c'])).toThrow(/v\.c is a counter/)
  })

  it('counts ids with braces; on a cluster, refuses ids starting with } (no key shares their slot)', async () => {
    const store = freshStore(db)
    for (const id of ['{x}', 'a}b', '}lead']) await Post.create(store, { id, title: id })
    expect(await Post.increment(store, '{x}', { views: 1 })).toEqual({ views: 1 })
    expect(await Post.increment(store, 'a}b', { views: 2 })).toEqual({ views: 2 })
    if (clusterMode) {
      await expect(Post.increment(store, '}lead', { views: 1 })).rejects.toThrow(/must not start with \}/)
    } else {
      expect(await Post.increment(store, '}lead', { views: 3 })).toEqual({ views: 3 })
    }
    expect((await Post.loadMany(store, ['{x}', 'a}b'])).map((p) => p?.views)).toEqual([1, 2])
    for (const id of ['{x}', 'a}b', '}lead']) await Post.delete(store, id)
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })
})
