// What the model layer guarantees on Redis Cluster, where a write is two steps on two shards:
// concurrent writes of one id end as the index side ordered them, a write that lost the race
// never lands, readers skip dangling or stale index entries, and queries repair the dangling
// ones once they are older than the grace period.
import type { Cluster } from 'ioredis'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { column, defineHistory, defineModel, DuplicateKeyError, Store, UniqueConstraintError } from '../../src/model/index.js'
import { useTestCluster } from '../helpers/redis.js'

const db = useTestCluster()
let redis: Cluster
let stores = 0

beforeAll(async () => {
  redis = (await db.connectApp()) as Cluster
})

function freshStore(client: Cluster = redis): Store {
  stores += 1
  return new Store(client, { prefix: `${db.prefix}m${stores}:` })
}

const Doc = defineModel('doc', {
  id: column.string({ primaryKey: true }),
  tag: column.string({ index: true }),
  rank: column.int({ required: true, sortable: true }),
  slug: column.string({ unique: true }),
  body: column.string(),
}, { defaultOrder: '-rank' })

const Counter = defineModel('counter', {
  id: column.int({ primaryKey: true }),
  kind: column.string({ index: true }),
})

/** Every id in the model's main index, and every id that has a record. */
async function indexedAndStored(store: Store, ids: string[]) {
  const keys = store.keys('doc')
  const indexed = (await redis.zrange(`${keys.base}all`, 0, -1)).sort()
  const stored = (await Promise.all(ids.map(async (id) => ((await redis.exists(keys.record(id))) ? id : null))))
    .filter((id): id is string => id !== null)
    .sort()
  return { indexed, stored }
}

describe('concurrent writes of the same ids', () => {
  it('ends with records, indexes and claims that agree, with no record left outside the indexes', async () => {
    const prefix = `${db.prefix}race:`
    const clients = [await db.connectApp(), await db.connectApp(), await db.connectApp()]
    const stores = clients.map((client) => new Store(client, { prefix }))
    const ids = ['a', 'b', 'c', 'd', 'e']
    let seed = 7
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 200 }, async (_, i) => {
        const store = stores[i % stores.length] as Store
        const id = ids[Math.floor(random() * ids.length)] as string
        const doc = { id, tag: `t${Math.floor(random() * 3)}`, rank: Math.floor(random() * 100), slug: random() < 0.5 ? null : `s${Math.floor(random() * 4)}` }
        const op = random()
        try {
          if (op < 0.3) await Doc.create(store, doc)
          else if (op < 0.7) await Doc.save(store, doc)
          else if (op < 0.85) await Doc.delete(store, id)
          else await Doc.take(store, id)
        } catch (err) {
          if (!(err instanceof DuplicateKeyError) && !(err instanceof UniqueConstraintError)) throw err
        }
      }))
      const store = stores[0] as Store
      const report = await Doc.verify(store)
      expect(report.problems).toEqual([])
      // verify() starts from the indexes; a record that a late write recreated behind a delete
      // would sit outside them, so compare the two sets directly.
      const { indexed, stored } = await indexedAndStored(store, ids)
      expect(stored).toEqual(indexed)
      for (const tag of ['t0', 't1', 't2']) {
        const want = (await Doc.loadMany(store, ids)).filter((d) => d?.tag === tag).map((d) => d?.id).sort()
        expect((await Doc.query(store).filter({ tag }).ids()).sort()).toEqual(want)
      }
    }
  })

  it('drops a record step that a later write or a delete of the id overtook', async () => {
    const store = freshStore()
    const keys = store.keys('doc')
    await Doc.create(store, { id: 'x', tag: 'new', rank: 2 })
    const version = Number(await redis.hget(keys.record('x'), '~v'))
    // A record step of an earlier write arriving late: refused, the record keeps its values.
    // (Its third key is the record's counters hash; the record key itself means none.)
    expect(await redis.redbinModelWriteRecord(keys.record('x'), keys.tombstone('x'), keys.record('x'), '', String(version - 1), 0, 'id', 'x', 'tag', 'old', 'rank', '1')).toBe(0)
    expect(await Doc.load(store, 'x')).toMatchObject({ tag: 'new', rank: 2 })

    await Doc.delete(store, 'x')
    const deleted = Number(await redis.get(keys.tombstone('x')))
    expect(deleted).toBeGreaterThan(version)
    expect(await redis.pttl(keys.tombstone('x'))).toBeGreaterThan(50_000)
    // The create's record step, late again: the tombstone keeps the record from coming back.
    expect(await redis.redbinModelWriteRecord(keys.record('x'), keys.tombstone('x'), keys.record('x'), '', String(version), 0, 'id', 'x', 'tag', 'new', 'rank', '2')).toBe(0)
    expect(await redis.exists(keys.record('x'))).toBe(0)
    // A later create lands.
    await Doc.create(store, { id: 'x', tag: 'again', rank: 3 })
    expect(await Doc.load(store, 'x')).toMatchObject({ tag: 'again' })
    expect(await Doc.verify(store)).toMatchObject({ ok: true, records: 1 })
  })

  it('leaves entries a later write put in the index when a delete unindexes', async () => {
    const store = freshStore()
    const keys = store.keys('doc')
    await Doc.create(store, { id: 'y', tag: 'a', rank: 1 })
    const staleDeleteVersion = Number(await redis.hget(keys.memo('y'), '~v')) - 1
    await Doc.unindex(store, ['y'], { upToVersion: staleDeleteVersion })
    expect(await Doc.query(store).filter({ tag: 'a' }).ids()).toEqual(['y'])
    await Doc.unindex(store, ['y'], { upToVersion: staleDeleteVersion + 1 })
    expect(await Doc.query(store).filter({ tag: 'a' }).ids()).toEqual([])
  })
})

describe('reading while writes are half done', () => {
  it('skips an index entry whose record is gone, and repairs it once it is older than the grace period', async () => {
    const store = freshStore()
    const keys = store.keys('doc')
    for (let rank = 1; rank <= 3; rank++) await Doc.create(store, { id: `d${rank}`, tag: 'x', rank })
    // As if d2's record step had failed, or a delete had stopped after removing the record.
    await redis.del(keys.record('d2'))
    expect((await Doc.query(store).filter({ tag: 'x' }).all()).map((d) => d.id)).toEqual(['d3', 'd1'])
    // Young entries are left alone: their create may still be on its way to the record.
    await new Promise((r) => setTimeout(r, 50))
    expect(await redis.zscore(`${keys.base}all`, 'd2')).not.toBeNull()
    // Counts come off the index alone: the dangling entry is counted until it is repaired.
    expect(await Doc.query(store).count()).toBe(3)

    await redis.hset(keys.memo('d2'), '~written', 't1')
    await Doc.query(store).all()
    await vi.waitFor(async () => expect(await Doc.query(store).count()).toBe(2))
    expect(await redis.exists(keys.memo('d2'))).toBe(0)
    expect(await Doc.verify(store)).toMatchObject({ ok: true, records: 2 })
  })

  it('skips a record whose values no longer match the index entry that led to it', async () => {
    const store = freshStore()
    const keys = store.keys('doc')
    await Doc.create(store, { id: 'm', tag: 'before', rank: 1 })
    // As if a save had moved the index to "after" and its record step were still on its way.
    await redis.hset(keys.record('m'), 'tag', 'elsewhere')
    expect(await Doc.query(store).filter({ tag: 'before' }).all()).toEqual([])
    expect(await Doc.query(store).filter({ tag: 'before' }).select('rank').all()).toEqual([])
  })

  it('keeps iterating past a page that skipped a dangling entry', async () => {
    const store = freshStore()
    await Promise.all(Array.from({ length: 250 }, (_, rank) => Doc.create(store, { id: `it${rank}`, tag: 'it', rank })))
    await redis.del(store.keys('doc').record('it240')) // in the first page of 100 (highest ranks first)
    const seen: string[] = []
    for await (const doc of Doc.query(store).filter({ tag: 'it' })) seen.push(doc.id)
    expect(seen).toHaveLength(249)
    expect(new Set(seen).size).toBe(249)
    expect(seen).not.toContain('it240')
  })
})

describe('queries on a cluster', () => {
  it('read only the selected columns (and the filtered ones) of each record', async () => {
    const store = freshStore()
    await Doc.create(store, { id: 'big', tag: 'sel', rank: 1, body: 'x'.repeat(100_000) })
    const hgetall = vi.spyOn(redis, 'hgetall')
    try {
      const rows = await Doc.query(store).filter({ tag: 'sel' }).select('rank').all()
      expect(rows).toEqual([{ id: 'big', rank: 1 }])
      expect(hgetall).not.toHaveBeenCalled()
    } finally {
      hgetall.mockRestore()
    }
    expect((await Doc.query(store).filter({ tag: 'sel' }).all())[0]?.body).toHaveLength(100_000)
  })

  it('work for models whose primary key is an int', async () => {
    const store = freshStore()
    for (let id = 1; id <= 5; id++) await Counter.create(store, { id, kind: id % 2 ? 'odd' : 'even' })
    expect((await Counter.query(store).filter({ kind: 'odd' }).all()).map((c) => c.id).sort()).toEqual([1, 3, 5])
    await Counter.delete(store, 3)
    expect(await Counter.query(store).filter({ kind: 'odd' }).count()).toBe(2)
  })
})

describe('updates of a versioned model on a cluster (record side first, then the index side)', () => {
  const Note = defineModel('note', {
    id: column.string({ primaryKey: true }),
    tag: column.string({ required: true, index: true }),
    rank: column.int({ required: true }),
    v: column.int({ default: 1 }),
  }, { defaultOrder: '-rank', version: 'v' })
  const NoteHistory = defineHistory('note_history', Note, ['tag'])

  it('keeps the history entry in the record\'s slot, and ends with the indexes of the latest update', async () => {
    const store = freshStore()
    let note = await Note.create(store, { id: 'n1', tag: 'a', rank: 1 })
    for (const tag of ['b', 'c', 'd']) note = (await Note.update(store, note, { tag }))!
    expect(await redis.cluster('KEYSLOT', store.historyKeys('note_history').version('n1', 1)))
      .toBe(await redis.cluster('KEYSLOT', store.keys('note').record('n1')))
    expect(await NoteHistory.loadMany(store, 'n1', [3, 2, 1], ['tag'])).toEqual([{ id: 'n1', tag: 'c' }, { id: 'n1', tag: 'b' }, { id: 'n1', tag: 'a' }])
    expect(await Note.query(store).filter({ tag: 'd' }).ids()).toEqual(['n1'])
    expect(await Note.verify(store)).toMatchObject({ ok: true })
  })

  it('drops an index step that arrives after a later update\'s, or after a delete', async () => {
    const store = freshStore()
    const keys = store.keys('note')
    let note = await Note.create(store, { id: 'late', tag: 'a', rank: 1 })
    note = (await Note.update(store, note, { tag: 'b' }))!
    await Note.update(store, note, { tag: 'c' })
    // Version 2's index step, arriving now (after version 3's): it must not move the entries back.
    const stale = await redis.redbinModelUpdateIndex(keys.memo('late'), keys.expiry, keys.base, 'late', 2, 20, 2, 'all', 1, 'idx:tag:["b"]', 1, 0)
    expect(stale).toBe(0)
    expect(await Note.query(store).filter({ tag: 'c' }).ids()).toEqual(['late'])
    await Note.delete(store, 'late')
    const afterDelete = await redis.redbinModelUpdateIndex(keys.memo('late'), keys.expiry, keys.base, 'late', 4, 20, 2, 'all', 1, 'idx:tag:["d"]', 1, 0)
    expect(afterDelete).toBe(0)
    expect(await Note.query(store).ids()).toEqual([])
  })
})

describe('counters', () => {
  const Page = defineModel('page', {
    id: column.string({ primaryKey: true }),
    tag: column.string({ index: true }),
    hits: column.int({ default: 0, counter: true }),
  })

  it('keeps a record\'s counters in its slot, through a save and until the delete\'s record step', async () => {
    const store = freshStore()
    const keys = store.keys('page')
    await Page.create(store, { id: 'p', tag: 'a' })
    expect(await Page.increment(store, 'p', { hits: 2 })).toEqual({ hits: 2 })
    expect(await redis.cluster('KEYSLOT', keys.counters('p'))).toBe(await redis.cluster('KEYSLOT', keys.record('p')))
    await Page.save(store, { id: 'p', tag: 'b' })
    expect(await Page.query(store).filter({ tag: 'b' }).select('hits').all()).toEqual([{ id: 'p', hits: 2 }])
    await Page.delete(store, 'p')
    expect(await redis.exists(keys.counters('p'))).toBe(0)
    expect(await Page.increment(store, 'p', { hits: 1 })).toBeNull()
    expect(await redis.exists(keys.counters('p'))).toBe(0)
  })

  it('bumps many records spread over the masters in one incrementMany, each in its own slot', async () => {
    const store = freshStore()
    const keys = store.keys('page')
    const ids = Array.from({ length: 30 }, (_, i) => `m${i}`)
    await Promise.all(ids.filter((_, i) => i !== 7).map((id) => Page.create(store, { id, tag: 'a' })))
    const slots = await Promise.all(ids.map(async (id) => Number(await redis.cluster('KEYSLOT', keys.record(id)))))
    const masters = new Set(slots.map((slot) => redis.slots[slot]?.[0]))
    expect(masters.size).toBeGreaterThan(1)
    const counted = await Page.incrementMany(store, ids.map((id, i) => ({ id, by: { hits: i + 1 } })))
    expect(counted).toEqual(ids.map((_, i) => (i === 7 ? null : { hits: i + 1 })))
    expect((await Page.loadMany(store, ids)).map((p) => p?.hits ?? null)).toEqual(counted.map((c) => c?.hits ?? null))
    expect(await redis.exists(keys.counters('m7'))).toBe(0)
  })
})
