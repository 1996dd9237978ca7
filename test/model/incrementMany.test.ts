// Model.incrementMany: the counters of many records in one script (single Redis), each record
// bumped exactly as Model.increment would. Under npm run test:cluster, the same calls against
// a cluster, where the records sit in different slots.
import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { column, defineModel, QueryError, type Store } from '../../src/model/index.js'
import { INCREMENT_MANY_BATCH } from '../../src/model/Model.js'
import { clusterMode, scriptCalls, useTestRedis } from '../helpers/redis.js'
import { freshStore, rejection, scanAll, scanRecordsAndIndexes } from './fixtures.js'

const db = useTestRedis()

const Post = defineModel('post', {
  id: column.string({ primaryKey: true }),
  title: column.string({ required: true }),
  tag: column.string({ index: true }),
  views: column.int({ default: 0, counter: true }),
  rating: column.float({ default: 1.5, counter: true }),
})

/** Only a server of this file's own runs no other scripts while a test counts them. */
const countsScripts = () => db.owned && !clusterMode

/** Runs `calls` and returns how many scripts it sent (on a server that counts them, else null). */
async function scriptsOf<T>(calls: () => Promise<T>): Promise<{ result: T; scripts: number | null }> {
  if (!countsScripts()) return { result: await calls(), scripts: null }
  const before = await scriptCalls(db.redis as Redis)
  const result = await calls()
  return { result, scripts: (await scriptCalls(db.redis as Redis)) - before }
}

async function createPosts(store: Store, ids: string[], expiresAt: Date | null = null) {
  await Promise.all(ids.map((id) => Post.create(store, { id, title: id, tag: 'x' }, { expiresAt })))
}

describe('incrementMany', () => {
  it('bumps many records in one script, answers null for missing ones in the middle, and creates nothing for them', async () => {
    const store = freshStore(db)
    await createPosts(store, ['a', 'b', 'c', 'gone'])
    await Post.delete(store, 'gone')
    await Post.increment(store, 'b', { views: 10 }) // and loads the scripts
    await Post.incrementMany(store, [{ id: 'c', by: { views: 0 } }])
    const { result, scripts } = await scriptsOf(() => Post.incrementMany(store, [
      { id: 'a', by: { views: 1 } },
      { id: 'ghost', by: { views: 1 } },
      { id: 'b', by: { views: 3 } },
      { id: 'gone', by: { views: 1 } },
      { id: 'c', by: { views: 2 } },
    ]))
    expect(result).toEqual([{ views: 1 }, null, { views: 13 }, null, { views: 2 }])
    if (scripts !== null) expect(scripts).toBe(1)
    expect((await Post.loadMany(store, ['a', 'b', 'c', 'ghost', 'gone'])).map((p) => p?.views ?? null)).toEqual([1, 13, 2, null, null])
    const keys = store.keys('post')
    expect(await scanAll(db.redis, `${store.prefix}*`)).not.toContain(keys.counters('ghost'))
    for (const id of ['a', 'b', 'c']) await Post.delete(store, id)
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })

  it('bumps each record by its own counters: one, the other or both, and answers only those', async () => {
    const store = freshStore(db)
    await createPosts(store, ['v', 'r', 'vr'])
    expect(await Post.incrementMany(store, [
      { id: 'v', by: { views: 2 } },
      { id: 'r', by: { rating: 0.25 } },
      { id: 'vr', by: { rating: -1, views: 5 } },
    ])).toEqual([{ views: 2 }, { rating: 1.75 }, { rating: 0.5, views: 5 }])
    expect((await Post.loadMany(store, ['v', 'r', 'vr'])).map((p) => [p?.views, p?.rating])).toEqual([[2, 1.5], [0, 1.75], [5, 0.5]])
  })

  it('bumps an id given twice twice, each item seeing its own increment', async () => {
    const store = freshStore(db)
    await createPosts(store, ['twice'])
    expect(await Post.incrementMany(store, [{ id: 'twice', by: { views: 1 } }, { id: 'twice', by: { views: 1 } }])).toEqual([{ views: 1 }, { views: 2 }])
  })

  it('starts from a legacy count in the record hash, and leaves the record key alone', async () => {
    const store = freshStore(db)
    const keys = store.keys('post')
    await createPosts(store, ['old', 'new'])
    await db.redis.hset(keys.record('old'), 'views', '41', 'rating', '2')
    expect(await Post.incrementMany(store, [{ id: 'new', by: { views: 1 } }, { id: 'old', by: { views: 1, rating: 0.5 } }])).toEqual([{ views: 1 }, { views: 42, rating: 2.5 }])
    expect(await db.redis.hmget(keys.record('old'), 'views', 'rating')).toEqual(['41', '2'])
    // A later increment of the other counter, with the counters hash already there, starts from the legacy value too.
    await db.redis.hset(keys.record('new'), 'rating', '3')
    expect(await Post.incrementMany(store, [{ id: 'new', by: { rating: 1 } }, { id: 'old', by: { views: 1 } }])).toEqual([{ rating: 4 }, { views: 43 }])
  })

  it('gives a counters hash it creates its record\'s expiry, and none to a record that never expires', async () => {
    const store = freshStore(db)
    const keys = store.keys('post')
    const at = new Date(Date.now() + 60_000)
    await createPosts(store, ['ttl1', 'ttl2'], at)
    await createPosts(store, ['forever'])
    await Post.incrementMany(store, ['ttl1', 'forever', 'ttl2'].map((id) => ({ id, by: { views: 1 } })))
    for (const id of ['ttl1', 'ttl2']) expect(await db.redis.call('PEXPIRETIME', keys.counters(id))).toBe(at.getTime())
    expect(await db.redis.pttl(keys.counters('forever'))).toBe(-1)
  })

  it(`sends more than ${INCREMENT_MANY_BATCH} records in several scripts, and answers them all in order`, async () => {
    const store = freshStore(db)
    const ids = Array.from({ length: 2 * INCREMENT_MANY_BATCH + 3 }, (_, i) => `n${i}`)
    await createPosts(store, ids.filter((_, i) => i % 7 !== 3))
    const items = ids.map((id, i) => ({ id, by: { views: i + 1 } }))
    const { result, scripts } = await scriptsOf(() => Post.incrementMany(store, items))
    expect(result).toEqual(ids.map((_, i) => (i % 7 === 3 ? null : { views: i + 1 })))
    if (scripts !== null) expect(scripts).toBe(3)
    const loaded = await Post.loadMany(store, ids)
    expect(loaded.map((p) => p?.views ?? null)).toEqual(result.map((r) => r?.views ?? null))
  })

  it('sends nothing for no items, and refuses an item that names no counter or a column that is not one, before sending any', async () => {
    const store = freshStore(db)
    await createPosts(store, ['i'])
    expect((await scriptsOf(() => Post.incrementMany(store, []))).scripts ?? 0).toBe(0)
    await rejection(Post.incrementMany(store, [{ id: 'i', by: { views: 1 } }, { id: 'i', by: {} }]), QueryError)
    await expect(Post.incrementMany(store, [{ id: 'i', by: { views: 1 } }, { id: 'i', by: { title: 1 } as never }])).rejects.toThrow(/post\.title cannot be incremented/)
    await rejection(Post.incrementMany(store, [{ id: 'i', by: { views: 0.5 } }]), QueryError)
    expect((await Post.load(store, 'i'))?.views).toBe(0)
  })

  it('counts ids with braces; on a cluster, refuses the whole call when an id starts with }', async () => {
    const store = freshStore(db)
    await createPosts(store, ['{x}', 'a}b', '}lead'])
    const items = ['{x}', 'a}b', '}lead'].map((id) => ({ id, by: { views: 1 } }))
    if (clusterMode) {
      await expect(Post.incrementMany(store, items)).rejects.toThrow(/must not start with \}/)
      expect((await Post.loadMany(store, ['{x}', 'a}b'])).map((p) => p?.views)).toEqual([0, 0])
    } else {
      expect(await Post.incrementMany(store, items)).toEqual([{ views: 1 }, { views: 1 }, { views: 1 }])
    }
  })
})
