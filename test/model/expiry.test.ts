// Expiry: records carry PEXPIREAT; indexes, which Redis never expires, must behave as if the
// record vanished from them at that very moment, and get cleaned up in bounded batches.
import { describe, expect, it } from 'vitest'
import { column, defineModel, DuplicateKeyError, type Store, UniqueConstraintError, ValidationError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshStore, rejection, waitUntil } from './fixtures.js'

const db = useTestRedis()

const Session = defineModel(
  'session',
  {
    id: column.string({ primaryKey: true }),
    user: column.string({ index: true }),
    token: column.string({ unique: true }),
    n: column.int({ required: true }),
    seen: column.date({ sortable: true }),
    hits: column.int({ default: 0, counter: true }),
  },
  { defaultOrder: 'n' },
)

const SHORT = 250 // ms: long enough to create a batch of records, short enough to wait for

/** Waits until Redis itself has expired the record (polling, not a blind sleep). */
async function expired(store: Store, ...ids: string[]): Promise<void> {
  await waitUntil(async () => (await Session.loadMany(store, ids)).every((r) => r === null))
}

function keysOf(store: Store) {
  const k = store.keys('session')
  return {
    all: `${k.base}all`,
    user: (u: string) => `${k.base}idx:user:${JSON.stringify([u])}`,
    seen: `${k.base}sort:seen`,
    token: `${k.base}uniq:token`,
    expiry: k.expiry,
    memo: (id: string) => k.memo(id),
    record: (id: string) => k.record(id),
  }
}

describe('expiry', () => {
  it('loads a record until it expires and never after; queries skip it even before any sweep', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    const k = keysOf(store)
    await Session.create(store, { id: 'stays', user: 'u1', token: 't-stays', n: 1, seen: new Date(1) })
    const expiresAt = new Date(Date.now() + 1000)
    await Session.create(store, { id: 'brief', user: 'u1', token: 't-brief', n: 2, seen: new Date(2) }, { expiresAt })

    expect(await Session.load(store, 'brief')).toMatchObject({ id: 'brief', n: 2 })
    expect(await Session.query(store).ids()).toEqual(['stays', 'brief'])
    expect(await Session.query(store).filter({ user: 'u1' }).count()).toBe(2)
    const pttl = await db.redis.pttl(k.record('brief'))
    expect(pttl).toBeGreaterThan(500)
    expect(pttl).toBeLessThanOrEqual(1000)

    await expired(store, 'brief')
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime())
    expect(Date.now()).toBeLessThan(expiresAt.getTime() + 1000)

    // Nothing has swept it: the id still sits in every index ...
    expect(await db.redis.zscore(k.all, 'brief')).not.toBeNull()
    expect(await db.redis.zscore(k.user('u1'), 'brief')).not.toBeNull()
    expect(await db.redis.zscore(k.seen, 'brief')).not.toBeNull()
    expect(await db.redis.zscore(k.expiry, 'brief')).not.toBeNull()
    // ... and still no query returns it or counts it.
    expect(await Session.query(store).ids()).toEqual(['stays'])
    expect(await Session.query(store).count()).toBe(1)
    expect(await Session.query(store).filter({ user: 'u1' }).count()).toBe(1)
    expect(await Session.query(store).filter({ user: ['u1', 'u2'] }).count()).toBe(1)
    expect(await Session.query(store).filter({ user: 'u1' }).orderBy('-n').ids()).toEqual(['stays'])
    expect(await Session.query(store).orderBy('-seen').first()).toMatchObject({ id: 'stays' })
    expect(await Session.query(store).filter({ user: 'u1' }).orderBy('seen').select('n').all()).toEqual([{ id: 'stays', n: 1 }])
    expect(await Session.query(store).page()).toMatchObject({ total: 1, items: [{ id: 'stays' }] })
    const streamed: string[] = []
    for await (const s of Session.query(store)) streamed.push(s.id)
    expect(streamed).toEqual(['stays'])
    expect(await Session.load(store, 'brief', { select: ['hits'], increment: { hits: 1 } })).toBeNull()
    expect(await db.redis.exists(k.record('brief'))).toBe(0)
    // Still unswept: every answer above came from checking expiry on read.
    expect(await db.redis.zscore(k.all, 'brief')).not.toBeNull()
    expect(await Session.verify(store)).toMatchObject({ ok: true })
    // take() and delete() find no record, and clean up what is left of it on their way.
    expect(await Session.take(store, 'brief')).toBeNull()
    expect(await db.redis.zscore(k.all, 'brief')).toBeNull()
    expect(await db.redis.hget(k.token, 't-brief')).toBeNull()
    expect(await Session.delete(store, 'brief')).toBe(false)
    expect(await Session.verify(store)).toMatchObject({ ok: true, records: 1 })
  })

  it('keeps offset pagination exact when expired, unswept ids sit in the middle of an index', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    const k = keysOf(store)
    const dying = new Set([0, 3, 4, 5, 11, 20, 21, 22, 23, 30, 39])
    const expiresAt = new Date(Date.now() + SHORT)
    const rows = Array.from({ length: 40 }, (_, n) => ({
      id: `s${String(n).padStart(2, '0')}`,
      user: n % 3 === 0 ? 'a' : 'b',
      n,
      seen: new Date(10_000 - n * 7),
    }))
    await Promise.all(rows.map((r) => Session.create(store, r, dying.has(r.n) ? { expiresAt } : {})))
    await expired(store, ...rows.filter((r) => dying.has(r.n)).map((r) => r.id))
    expect(await db.redis.zcard(k.all)).toBe(40)

    const live = rows.filter((r) => !dying.has(r.n))
    const variants: [string, () => ReturnType<typeof Session.query>, string[]][] = [
      ['default order', () => Session.query(store), live.map((r) => r.id)],
      ['default order, descending', () => Session.query(store).orderBy('-n'), live.map((r) => r.id).reverse()],
      ['one index key', () => Session.query(store).filter({ user: 'a' }), live.filter((r) => r.user === 'a').map((r) => r.id)],
      ['one index key, descending', () => Session.query(store).filter({ user: 'b' }).orderBy('-n'), live.filter((r) => r.user === 'b').map((r) => r.id).reverse()],
      ['a union of index keys', () => Session.query(store).filter({ user: ['a', 'b'] }), live.map((r) => r.id)],
      ['a sortable index', () => Session.query(store).orderBy('seen'), live.map((r) => r.id).reverse()],
      ['a filter and a sortable index', () => Session.query(store).filter({ user: 'a' }).orderBy('-seen'), live.filter((r) => r.user === 'a').map((r) => r.id)],
    ]
    for (const [label, query, want] of variants) {
      expect(await query().count(), label).toBe(want.length)
      for (let offset = 0; offset <= want.length + 1; offset++) {
        for (const limit of [1, 2, 5, null]) {
          const q = limit === null ? query().offset(offset) : query().offset(offset).limit(limit)
          const expectedIds = want.slice(offset, limit === null ? undefined : offset + limit)
          expect(await q.ids(), `${label} offset ${offset} limit ${limit}`).toEqual(expectedIds)
        }
      }
      const page = await query().offset(4).limit(3).page()
      expect(page.items.map((r) => r.id), label).toEqual(want.slice(4, 7))
      expect(page.total, label).toBe(want.length)
    }
    expect(await db.redis.zcard(k.all)).toBe(40)
  })

  it('sweepExpired() removes expired ids from every index, memo and claim, and returns the count', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    const k = keysOf(store)
    const expiresAt = new Date(Date.now() + SHORT)
    await Session.create(store, { id: 'keep', user: 'u', token: 'keep', n: 0, seen: new Date(0) })
    for (const id of ['x1', 'x2', 'x3']) {
      await Session.create(store, { id, user: 'u', token: `tok-${id}`, n: 1, seen: new Date(1) }, { expiresAt })
    }
    expect(await db.redis.exists(k.memo('x1'))).toBe(1)
    expect(await db.redis.hget(k.token, 'tok-x1')).toBe('x1')
    await expired(store, 'x1', 'x2', 'x3')
    expect(await db.redis.zcard(k.user('u'))).toBe(4)

    expect(await Session.sweepExpired(store)).toBe(3)
    for (const id of ['x1', 'x2', 'x3']) {
      // One key per EXISTS: on a cluster, the memo and the record live in different slots.
      expect(await db.redis.exists(k.memo(id)) + await db.redis.exists(k.record(id))).toBe(0)
      for (const key of [k.all, k.user('u'), k.seen, k.expiry]) expect(await db.redis.zscore(key, id)).toBeNull()
      expect(await db.redis.hget(k.token, `tok-${id}`)).toBeNull()
    }
    expect(await db.redis.zrange(k.all, 0, -1)).toEqual(['keep'])
    expect(await db.redis.hgetall(k.token)).toEqual({ keep: 'keep' })
    expect(await db.redis.exists(k.expiry)).toBe(0)
    expect(await Session.sweepExpired(store)).toBe(0)
    expect(await Session.verify(store)).toMatchObject({ ok: true, records: 1 })
  })

  it('sweepExpired() works through many expired records in batches', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    const expiresAt = new Date(Date.now() + SHORT)
    const ids = Array.from({ length: 25 }, (_, i) => `b${i}`)
    await Promise.all(ids.map((id, n) => Session.create(store, { id, user: 'u', n }, { expiresAt })))
    await expired(store, ...ids)
    expect(await Session.sweepExpired(store, { batch: 10, maxBatches: 1 })).toBe(10)
    expect(await Session.sweepExpired(store, { batch: 10 })).toBe(15)
    expect(await db.redis.zcard(keysOf(store).all)).toBe(0)
  })

  it('leaves records that have not expired yet alone when sweeping', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    await Session.create(store, { id: 'later', user: 'u', n: 1 }, { expiresAt: new Date(Date.now() + 60_000) })
    expect(await Session.sweepExpired(store)).toBe(0)
    expect(await Session.query(store).ids()).toEqual(['later'])
  })

  it('has every write unindex expired records on its way, in bounded batches', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 2 })
    const k = keysOf(store)
    const expiresAt = new Date(Date.now() + SHORT)
    const ids = ['e1', 'e2', 'e3', 'e4', 'e5']
    await Promise.all(ids.map((id, n) => Session.create(store, { id, user: 'gone', token: id, n }, { expiresAt })))
    await expired(store, ...ids)
    const remaining = async () => (await db.redis.zrange(k.expiry, 0, -1)).length
    expect(await remaining()).toBe(5)

    await Session.create(store, { id: 'other', user: 'someone', n: 100 }) // an unrelated write
    expect(await remaining()).toBe(3)
    expect(await db.redis.zcard(k.user('gone'))).toBe(3)
    await Session.save(store, { id: 'other', user: 'someone', n: 101 })
    expect(await remaining()).toBe(1)
    await Session.delete(store, 'no-such-id')
    expect(await remaining()).toBe(0)
    expect(await db.redis.exists(k.user('gone'), k.token, ...ids.map(k.memo))).toBe(0)
    expect(await db.redis.zrange(k.all, 0, -1)).toEqual(['other'])
  })

  it('keeps the expiry when save() gives none, and removes it when save() gives null', async () => {
    const store = freshStore(db)
    const k = keysOf(store)
    const at = new Date(Date.now() + 60_000)
    await Session.create(store, { id: 'ttl', user: 'a', n: 1 }, { expiresAt: at })
    const expireTime = () => db.redis.call('PEXPIRETIME', k.record('ttl'))
    expect(await expireTime()).toBe(at.getTime())

    await Session.save(store, { id: 'ttl', user: 'b', n: 2 })
    expect(await expireTime()).toBe(at.getTime())
    expect(await db.redis.zscore(k.expiry, 'ttl')).toBe(String(at.getTime()))
    expect(await Session.load(store, 'ttl')).toMatchObject({ user: 'b', n: 2 })

    const later = new Date(at.getTime() + 60_000)
    await Session.save(store, { id: 'ttl', user: 'c', n: 3 }, { expiresAt: later })
    expect(await expireTime()).toBe(later.getTime())
    expect(await db.redis.zscore(k.expiry, 'ttl')).toBe(String(later.getTime()))

    await Session.save(store, { id: 'ttl', user: 'd', n: 4 }, { expiresAt: null })
    expect(await expireTime()).toBe(-1)
    expect(await db.redis.zscore(k.expiry, 'ttl')).toBeNull()
    expect(await Session.load(store, 'ttl')).toMatchObject({ user: 'd', n: 4 })

    // Neither a plain create nor a save of a new record sets one.
    await Session.create(store, { id: 'plain', n: 1 })
    await Session.save(store, { id: 'fresh', n: 1 })
    expect(await db.redis.pttl(k.record('plain'))).toBe(-1)
    expect(await db.redis.pttl(k.record('fresh'))).toBe(-1)
    expect(await Session.verify(store)).toMatchObject({ ok: true })
  })

  it('keeps the expiry when a counter is incremented', async () => {
    const store = freshStore(db)
    const at = new Date(Date.now() + 60_000)
    await Session.create(store, { id: 'inc', n: 1 }, { expiresAt: at })
    expect(await Session.load(store, 'inc', { select: ['hits'], increment: { hits: 5 } })).toEqual({ id: 'inc', hits: 5 })
    expect(await db.redis.call('PEXPIRETIME', keysOf(store).record('inc'))).toBe(at.getTime())
  })

  it.each([
    ['before any sweep', 0],
    ['with sweeping writes', 20],
  ])('lets a new record claim a unique value held by an expired record (%s)', async (_label, batch) => {
    const store = freshStore(db, { sweepBatchOnWrite: batch })
    const k = keysOf(store)
    await Session.create(store, { id: 'old', token: 'shared', user: 'u', n: 1 }, { expiresAt: new Date(Date.now() + SHORT) })
    await rejection(Session.create(store, { id: 'early', token: 'shared', n: 2 }), UniqueConstraintError)
    await expired(store, 'old')
    await Session.create(store, { id: 'new', token: 'shared', n: 3 })
    expect(await db.redis.hget(k.token, 'shared')).toBe('new')
    // Taking over the claim unindexed the expired owner.
    expect(await db.redis.exists(k.memo('old'))).toBe(0)
    expect(await db.redis.zscore(k.all, 'old')).toBeNull()
    expect(await Session.verify(store)).toMatchObject({ ok: true })
  })

  it('lets a record be created again under the id of an expired one', async () => {
    const store = freshStore(db, { sweepBatchOnWrite: 0 })
    await Session.create(store, { id: 'again', user: 'first', n: 1 }, { expiresAt: new Date(Date.now() + SHORT) })
    await rejection(Session.create(store, { id: 'again', n: 2 }), DuplicateKeyError)
    await expired(store, 'again')
    await Session.create(store, { id: 'again', user: 'second', n: 2 })
    expect(await Session.load(store, 'again')).toMatchObject({ user: 'second', n: 2 })
    expect(await Session.query(store).filter({ user: 'first' }).count()).toBe(0)
    expect(await db.redis.pttl(keysOf(store).record('again'))).toBe(-1)
    expect(await Session.verify(store)).toMatchObject({ ok: true })
  })

  it('rejects an expiresAt that is not in the future, or not a valid Date', async () => {
    const store = freshStore(db)
    for (const expiresAt of [new Date(Date.now() - 1000), new Date(Date.now()), new Date(Number.NaN), '2999-01-01' as unknown as Date]) {
      const err = await rejection(Session.create(store, { id: 'past', n: 1 }, { expiresAt }), ValidationError)
      expect(err.column).toBe('(expiresAt)')
      expect(err.message).toMatch(/^session\.\(expiresAt\) must be (in the future|a valid Date)$/)
    }
    await rejection(Session.save(store, { id: 'past', n: 1 }, { expiresAt: new Date(0) }), ValidationError)
    expect(await Session.load(store, 'past')).toBeNull()
  })
})
