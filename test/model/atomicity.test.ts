// Atomic writes: each create/save/delete/take is one script, so records, indexes, memos and
// claims always agree, and verify() can prove it (or catch it when they do not).
import type { Command } from 'ioredis'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import {
  column,
  defineModel,
  DuplicateKeyError,
  QueryError,
  Store,
  UniqueConstraintError,
} from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshPrefix, freshStore, pickOne, rejection, scanAll, scanRecordsAndIndexes, seeded, User } from './fixtures.js'

const db = useTestRedis()

type UserInput = Parameters<typeof User.create>[1]
type UserRecord = NonNullable<Awaited<ReturnType<typeof User.load>>>

describe('create, save and delete', () => {
  let store: Store
  beforeAll(() => {
    store = freshStore(db)
  })

  it('refuses to create a record whose id exists, leaving the existing record untouched', async () => {
    const original = await User.create(store, { id: 'dup', name: 'Original', age: 1, country: 'US' })
    const err = await rejection(User.create(store, { id: 'dup', name: 'Copy', age: 2, country: 'CA' }), DuplicateKeyError)
    expect(err).toMatchObject({ model: 'user', id: 'dup' })
    expect(err.message).toBe('user "dup" already exists')
    expect(await User.load(store, 'dup')).toEqual(original)
    expect(await User.query(store).filter({ country: 'CA' }).count()).toBe(0)
  })

  it('lets exactly one of many concurrent creates of one id succeed', async () => {
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3].map(() => new Store(db.connect(), { prefix }))
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => User.create(stores[i % 3] as Store, { id: 'same', name: `n${i}`, age: i, email: `e${i}@x` })),
    )
    const won = results.filter((r) => r.status === 'fulfilled')
    expect(won).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(DuplicateKeyError)
    const s = stores[0] as Store
    expect(await User.query(s).count()).toBe(1)
    expect(await User.verify(s)).toMatchObject({ ok: true })
  })

  it('save() inserts a missing record and replaces an existing one whole', async () => {
    const inserted = await User.save(store, { id: 'up', name: 'First', age: 20, country: 'US', bio: 'hello', score: 3 })
    expect(await User.load(store, 'up')).toEqual(inserted)
    const replaced = await User.save(store, { id: 'up', name: 'Second', age: 21 })
    // Omitted optional columns become null, omitted defaulted ones get their default again.
    expect(replaced).toMatchObject({ name: 'Second', age: 21, country: null, bio: null, score: 0 })
    expect(await User.load(store, 'up')).toEqual(replaced)
  })

  it('save() moves the record between index entries', async () => {
    await User.create(store, { id: 'mv', name: 'M', age: 5, country: 'US', gender: 'male', score: 1, createdAt: new Date(1) })
    await User.save(store, { id: 'mv', name: 'M', age: 500, country: 'CA', gender: 'female', score: 99, createdAt: new Date(2) })
    expect(await User.query(store).filter({ country: 'US', gender: 'male' }).ids()).not.toContain('mv')
    expect(await User.query(store).filter({ country: 'US' }).ids()).not.toContain('mv')
    expect(await User.query(store).filter({ country: 'CA', gender: 'female' }).ids()).toEqual(['mv'])
    expect(await User.query(store).orderBy('-age').first()).toMatchObject({ id: 'mv', age: 500 })
    expect(await User.query(store).orderBy('-score').first()).toMatchObject({ id: 'mv', score: 99 })
    expect(await User.verify(store)).toMatchObject({ ok: true })
  })

  it('delete() removes the record and every index entry, and reports whether it existed', async () => {
    const s = freshStore(db)
    await User.create(s, { id: 'gone', name: 'G', age: 1, country: 'US', gender: 'other', email: 'gone@x' })
    expect(await User.delete(s, 'gone')).toBe(true)
    expect(await User.delete(s, 'gone')).toBe(false)
    expect(await User.delete(s, 'never-existed')).toBe(false)
    expect(await User.load(s, 'gone')).toBeNull()
    expect(await User.query(s).count()).toBe(0)
    expect(await User.query(s).filter({ country: 'US', gender: 'other' }).count()).toBe(0)
    // Nothing is left of it: no record, no memo, no index key, no claim.
    expect(await scanRecordsAndIndexes(db.redis, `${s.prefix}*`)).toEqual([])
  })

  it('shows a concurrent reader either the old or the new record, never a mix', async () => {
    const s = freshStore(db)
    const states: UserInput[] = [
      { id: 'flip', name: 'A', age: 1, country: 'US', gender: 'male', score: 1, email: 'a@flip' },
      { id: 'flip', name: 'B', age: 2, country: 'CA', gender: 'female', score: 2, email: 'b@flip' },
    ]
    await User.create(s, states[0] as UserInput)
    const reader = new Store(db.connect(), { prefix: s.prefix })
    const writes = Array.from({ length: 60 }, (_, i) => User.save(s, states[i % 2] as UserInput))
    const reads = Array.from({ length: 60 }, async () => {
      const [us, ca, loaded] = await Promise.all([
        User.query(reader).filter({ country: 'US', gender: 'male' }).all(),
        User.query(reader).filter({ country: 'CA', gender: 'female' }).all(),
        User.load(reader, 'flip'),
      ])
      expect(loaded).not.toBeNull()
      for (const r of [...us, ...ca, loaded]) {
        expect(['A 1 US a@flip', 'B 2 CA b@flip']).toContain(`${r?.name} ${r?.age} ${r?.country} ${r?.email}`)
      }
      // Whatever state a query saw, the record it returned matches the filter.
      for (const r of us) expect(r).toMatchObject({ country: 'US', gender: 'male' })
      for (const r of ca) expect(r).toMatchObject({ country: 'CA', gender: 'female' })
    })
    await Promise.all([...writes, ...reads])
    expect(await User.verify(s)).toMatchObject({ ok: true })
  })
})

describe('take()', () => {
  it('hands the record to exactly one of 50 concurrent callers', async () => {
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3, 4, 5].map(() => new Store(db.connect(), { prefix }))
    const s = stores[0] as Store
    const created = await User.create(s, { id: 'once', name: 'Once', age: 9, country: 'US', email: 'once@x' })
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => User.take(stores[i % 5] as Store, 'once')))
    const got = results.filter((r) => r !== null)
    expect(got).toEqual([created])
    expect(await User.load(s, 'once')).toBeNull()
    expect(await User.query(s).filter({ country: 'US' }).count()).toBe(0)
    expect(await User.verify(s)).toMatchObject({ ok: true, records: 0 })
  })

  it('returns null for a missing record', async () => {
    expect(await User.take(freshStore(db), 'nobody')).toBeNull()
  })
})

describe('verify() after concurrent mixed writes', () => {
  /** Random data from a seeded PRNG: a few ids and emails, so that writes collide. */
  function randomUser(random: () => number, id: string): UserInput {
    return {
      id,
      name: `name ${Math.floor(random() * 1000)}`,
      age: Math.floor(random() * 200) - 50,
      gender: pickOne(random, ['male', 'female', 'other', null] as const),
      country: pickOne(random, ['US', 'CA', 'FR', '', null]),
      score: pickOne(random, [0.1, 0.2, 0.30000000000000004, -1.5, 1e-300, 123456.789, -0]),
      active: random() < 0.5,
      createdAt: pickOne(random, [new Date(Math.floor(random() * 2e12)), new Date(-Math.floor(random() * 1e12))]),
      email: random() < 0.3 ? null : `user${Math.floor(random() * 12)}@example.com`,
      bio: random() < 0.5 ? null : '😀\0'.repeat(Math.floor(random() * 4)),
    }
  }

  it('finds every index consistent after 200 concurrent creates, saves, deletes and takes', async () => {
    const random = seeded(20240601)
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3, 4].map(() => new Store(db.connect(), { prefix }))
    const s = stores[0] as Store
    const ids = Array.from({ length: 40 }, (_, i) => `u${i}`)
    for (const id of ids.slice(0, 20)) {
      try {
        await User.create(s, randomUser(random, id))
      } catch (err) {
        expect(err).toBeInstanceOf(UniqueConstraintError)
      }
    }
    const outcomes = { ok: 0, duplicate: 0, unique: 0 }
    const ops = Array.from({ length: 200 }, async (_, i) => {
      const target = stores[i % stores.length] as Store
      const id = pickOne(random, ids)
      const op = random()
      try {
        if (op < 0.3) await User.create(target, randomUser(random, id))
        else if (op < 0.75) await User.save(target, randomUser(random, id))
        else if (op < 0.9) await User.delete(target, id)
        else await User.take(target, id)
        outcomes.ok++
      } catch (err) {
        if (err instanceof DuplicateKeyError) outcomes.duplicate++
        else if (err instanceof UniqueConstraintError) outcomes.unique++
        else throw err
      }
    })
    await Promise.all(ops)
    // The run exercised every path.
    expect(outcomes.ok).toBeGreaterThan(50)
    expect(outcomes.duplicate).toBeGreaterThan(0)
    expect(outcomes.unique).toBeGreaterThan(0)

    const report = await User.verify(s)
    expect(report.problems).toEqual([])
    expect(report.ok).toBe(true)

    // The indexes answer what the records say.
    const live = (await User.loadMany(s, ids)).filter((r): r is UserRecord => r !== null)
    expect(report.records).toBe(live.length)
    expect(await User.query(s).count()).toBe(live.length)
    for (const country of ['US', 'CA', 'FR', '', null]) {
      const want = live.filter((r) => r.country === country).map((r) => r.id).sort()
      expect((await User.query(s).filter({ country }).ids()).sort()).toEqual(want)
    }
    const byAge = (await User.query(s).orderBy('age').all()).map((r) => r.age)
    expect(byAge).toEqual(live.map((r) => r.age).sort((a, b) => a - b))
    const emails = live.map((r) => r.email).filter((e) => e !== null)
    expect(new Set(emails).size).toBe(emails.length)
    const claims = await db.redis.hgetall(s.keys('user').base + 'uniq:email')
    expect(Object.keys(claims).sort()).toEqual([...emails].sort())
  })
})

describe('verify() detects corruption', () => {
  // Each corruption, and what the report must mention.
  const corruptions: [string, (s: Store, base: string) => Promise<unknown>, RegExp][] = [
    ['an id removed from an equality index', (s, base) => s.redis.zrem(`${base}idx:country:["US"]`, 'c1'), /idx:country:\["US"\]: misses c1/],
    ['an id removed from the default-order index', (s, base) => s.redis.zrem(`${base}all`, 'c2'), /all: misses c2/],
    ['the last id removed from a composite index', (s, base) => s.redis.zrem(`${base}idx:country+gender:["US","male"]`, 'c1'), /idx:country\+gender:\["US","male"\]: missing/],
    ['a wrong score in a sortable index', (s, base) => s.redis.zadd(`${base}sort:age`, 12345, 'c1'), /sort:age: holds c1 -> 12345, expected 1/],
    ['a stale id left in an index', (s, base) => s.redis.zadd(`${base}idx:country:["CA"]`, 0, 'c1'), /idx:country:\["CA"\]: holds c1/],
    ['a claim removed', (s, base) => s.redis.hdel(`${base}uniq:email`, 'c1@x'), /uniq:email: misses c1@x -> c1/],
    ['a claim pointing at another record', (s, base) => s.redis.hset(`${base}uniq:email`, 'c1@x', 'c2'), /uniq:email: holds c1@x -> c2, expected c1/],
    ['a memo deleted', (s, base) => s.redis.del(`${base}memo:c1`), /c1: memo/],
    ['a record changed behind the indexes\' back', (s) => s.redis.hset(s.keys('user').record('c1'), 'country', 'FR'), /idx:country:\["FR"\]/],
    ['a record deleted behind the indexes\' back', (s) => s.redis.del(s.keys('user').record('c2')), /c2: indexed, but the record does not exist/],
  ]

  it.each(corruptions)('reports %s', async (_label, corrupt, mention) => {
    const s = freshStore(db)
    await User.create(s, { id: 'c1', name: 'One', age: 1, country: 'US', gender: 'male', email: 'c1@x', score: 0.1 })
    await User.create(s, { id: 'c2', name: 'Two', age: 2, country: 'US', gender: 'female', email: 'c2@x', score: 0.7 })
    expect(await User.verify(s)).toEqual({ ok: true, records: 2, problems: [] })
    await corrupt(s, s.keys('user').base)
    const report = await User.verify(s)
    expect(report.ok).toBe(false)
    expect(report.problems.length).toBeGreaterThan(0)
    expect(report.problems.join('\n')).toMatch(mention)
  })
})

describe('load() with increment', () => {
  const Board = defineModel(
    'board',
    {
      id: column.string({ primaryKey: true }),
      title: column.string({ required: true }),
      rank: column.int({ required: true }),
      a: column.int(),
      b: column.int(),
      tag: column.string({ index: true }),
      hits: column.int({ default: 0, counter: true }),
      weight: column.float({ default: 0, counter: true }),
    },
    { defaultOrder: 'rank', indexes: [['a', 'b']] },
  )

  it('bumps a counter and returns the new value in one round trip', async () => {
    const s = new Store(db.connect(), { prefix: freshPrefix(db) })
    await Board.create(s, { id: 'b1', title: 'T', rank: 1, tag: 'x' })
    await Board.load(s, 'b1', { select: ['hits'], increment: { hits: 1 } }) // loads the script
    // One round trip: every command is sent before the first reply comes back.
    let replies = 0
    const repliesAtSend: number[] = []
    const send = s.redis.sendCommand.bind(s.redis)
    const sent = vi.spyOn(s.redis, 'sendCommand').mockImplementation((command: Command) => {
      repliesAtSend.push(replies)
      command.promise.then(() => replies++, () => replies++)
      return send(command)
    })
    const loaded = await Board.load(s, 'b1', { select: ['title', 'hits'], increment: { hits: 2 } })
    sent.mockRestore()
    expect(repliesAtSend).toEqual([0, 0])
    expect(loaded).toEqual({ id: 'b1', title: 'T', hits: 3 })
    expect(await Board.load(s, 'b1')).toMatchObject({ hits: 3 })
  })

  it('bumps several counters, floats too, and returns the whole record without select', async () => {
    const s = freshStore(db)
    await Board.create(s, { id: 'b2', title: 'T', rank: 1 })
    await Board.increment(s, 'b2', { hits: 10, weight: 0.5 })
    const loaded = await Board.load(s, 'b2', { increment: { hits: -3, weight: 0.25 } })
    expect(loaded).toEqual({ id: 'b2', title: 'T', rank: 1, a: null, b: null, tag: null, hits: 7, weight: 0.75 })
  })

  it('counts every one of 50 concurrent increments exactly once', async () => {
    const prefix = freshPrefix(db)
    const stores = [1, 2, 3].map(() => new Store(db.connect(), { prefix }))
    await Board.create(stores[0] as Store, { id: 'b3', title: 'T', rank: 1 })
    const seen = await Promise.all(
      Array.from({ length: 50 }, (_, i) => Board.load(stores[i % 3] as Store, 'b3', { select: ['hits'], increment: { hits: 1 } })),
    )
    expect(seen.map((r) => r?.hits).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 50 }, (_, i) => i + 1))
  })

  it('returns null for a missing id and does not create the record', async () => {
    const s = freshStore(db)
    expect(await Board.load(s, 'ghost', { select: ['hits'], increment: { hits: 1 } })).toBeNull()
    expect(await Board.load(s, 'ghost', { increment: { weight: 1 } })).toBeNull()
    expect(await db.redis.exists(s.keys('board').record('ghost'))).toBe(0)
    expect(await scanAll(db.redis, `${s.prefix}*`)).toEqual([])
  })

  it('increments only counters: never a column an index depends on, nor another plain one', async () => {
    const s = freshStore(db)
    await Board.create(s, { id: 'b4', title: 'T', rank: 1, a: 1, b: 2 })
    await User.create(s, { id: 'u', name: 'U', age: 1 })
    // The default order column, a composite index column, a sortable and an indexed column.
    for (const name of ['rank', 'a', 'b'] as const) {
      const err = await rejection(Board.load(s, 'b4', { increment: { [name]: 1 } as never }), QueryError)
      expect(err.message).toMatch(new RegExp(`board\\.${name} cannot be incremented`))
    }
    await rejection(User.load(s, 'u', { increment: { age: 1 } as never }), QueryError)
    await rejection(User.load(s, 'u', { increment: { score: 1 } as never }), QueryError)
    await rejection(Board.load(s, 'b4', { increment: { title: 1 } as never }), QueryError)
    await rejection(Board.load(s, 'b4', { increment: { hits: 1.5 } }), QueryError)
    await rejection(Board.load(s, 'b4', { increment: { weight: Number.NaN } }), QueryError)
    await rejection(Board.load(s, 'b4', { increment: { nope: 1 } as never }), QueryError)
    expect(await Board.load(s, 'b4')).toMatchObject({ rank: 1, a: 1, b: 2, hits: 0 })
    expect(await Board.verify(s)).toMatchObject({ ok: true })
    expect(await User.verify(s)).toMatchObject({ ok: true })
  })
})
