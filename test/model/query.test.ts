// Queries: equality filters on indexes, numeric ordering, and pagination done inside Redis.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { column, defineModel, type Filter, QueryError, type Store } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshStore, pickOne, rejection, seeded, User } from './fixtures.js'

const db = useTestRedis()

const schema = {
  id: column.string({ primaryKey: true }),
  name: column.string({ required: true }),
  age: column.int({ required: true, sortable: true }),
  gender: column.enum(['male', 'female', 'other'], { index: true }),
  country: column.string({ index: true }),
  rating: column.float({ sortable: true }),
  joinedAt: column.date({ sortable: true }),
  active: column.boolean({ default: true, index: true }),
  nickname: column.string(),
  city: column.string(),
  region: column.string(),
}

/** Ordered by default on joinedAt (newest first); city+region only has a composite index. */
const Person = defineModel('person', schema, { defaultOrder: '-joinedAt', indexes: [['city', 'region']] })
/** The same columns, ordered by default on age: its equality indexes are scored by age. */
const ByAge = defineModel('byage', schema, { defaultOrder: 'age' })

type PersonRecord = NonNullable<Awaited<ReturnType<typeof Person.load>>>
type PersonFilter = Filter<typeof schema>

const countries = ['US', 'CA', 'FR', null] as const
const genders = ['male', 'female', 'other', null] as const

/** Random people; ages, ratings and dates are chosen so that text order differs from numeric order. */
function people(n: number, seed: number): PersonRecord[] {
  const random = seeded(seed)
  return Array.from({ length: n }, (_, i) => ({
    id: `p${String(Math.floor(random() * 1e6)).padStart(6, '0')}-${i}`,
    name: `person ${i}`,
    age: pickOne(random, [2, 9, 10, 50, 100, 1000, -3, 0]),
    gender: pickOne(random, genders),
    country: pickOne(random, countries),
    rating: pickOne(random, [null, 0.1, 9.5, 10, 100, -1.5, 2, 0.1]),
    joinedAt: pickOne(random, [null, new Date(9e11), new Date(1e12), new Date(-5), new Date(0), new Date(1e13), new Date(1e12)]),
    active: random() < 0.7,
    nickname: null,
    city: pickOne(random, ['Paris', 'Lyon', null]),
    region: pickOne(random, ['IDF', 'ARA', null]),
  }))
}

/** What Redis must answer: filter as JS equality, order by score (null = -inf) then by id. */
function expected(records: PersonRecord[], where: PersonFilter, order: string): string[] {
  const desc = order.startsWith('-')
  const col = (desc ? order.slice(1) : order) as keyof PersonRecord
  const score = (r: PersonRecord): number => {
    const v = r[col]
    if (v === null) return -Infinity
    return v instanceof Date ? v.getTime() : Number(v)
  }
  const matches = records.filter((r) =>
    Object.entries(where).every(([name, want]) => {
      const list = (Array.isArray(want) ? want : [want]) as unknown[]
      return list.includes(r[name as keyof PersonRecord])
    }),
  )
  matches.sort((a, b) => score(a) - score(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  if (desc) matches.reverse()
  return matches.map((r) => r.id)
}

/** A store whose client would fail any command: proves that a query never reached Redis. */
function deadStore(): { store: Store; sent: () => number; close: () => void } {
  const redis = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  const spy = vi.spyOn(redis, 'sendCommand')
  const store = freshStore(db, {}, redis)
  return { store, sent: () => spy.mock.calls.length, close: () => redis.disconnect() }
}

describe('equality filters', () => {
  let store: Store
  const data = people(120, 1)
  beforeAll(async () => {
    store = freshStore(db)
    await Promise.all(data.map((p) => Person.create(store, p)))
  })

  it('returns every record in the default order without a filter', async () => {
    expect(await Person.query(store).ids()).toEqual(expected(data, {}, '-joinedAt'))
  })

  it.each<[string, PersonFilter]>([
    ['one value', { country: 'US' }],
    ['an enum value', { gender: 'other' }],
    ['a boolean', { active: false }],
    ['AND across two columns', { country: 'US', gender: 'female' }],
    ['AND across three columns', { country: 'CA', gender: 'male', active: true }],
    ['an array as any-of', { country: ['US', 'FR'] }],
    ['any-of ANDed with a value', { country: ['US', 'CA'], gender: 'female' }],
    ['any-of on two columns', { country: ['US', 'CA'], gender: ['male', 'other'] }],
    ['an unset value', { country: null }],
    ['an unset value among others', { country: [null, 'FR'] }],
    ['unset on two columns', { country: null, gender: null }],
    ['a one-element array', { gender: ['female'] }],
    ['a repeated value', { country: ['US', 'US'] }],
  ])('filters on %s', async (_label, where) => {
    const want = expected(data, where, '-joinedAt')
    expect(want.length).toBeGreaterThan(0)
    expect(await Person.query(store).filter(where).ids()).toEqual(want)
    expect(await Person.query(store).filter(where).count()).toBe(want.length)
  })

  it('ANDs the columns of successive filter() calls', async () => {
    const ids = await Person.query(store).filter({ country: 'US' }).filter({ gender: 'male' }).ids()
    expect(ids).toEqual(expected(data, { country: 'US', gender: 'male' }, '-joinedAt'))
  })

  it('matches nothing, without asking Redis, for an empty array', async () => {
    const dead = deadStore()
    try {
      expect(await Person.query(dead.store).filter({ country: [] }).all()).toEqual([])
      expect(await Person.query(dead.store).filter({ country: 'US', gender: [] }).count()).toBe(0)
      expect(await Person.query(dead.store).filter({ gender: [] }).page()).toEqual({ items: [], total: 0 })
      expect(dead.sent()).toBe(0)
    } finally {
      dead.close()
    }
    expect(await Person.query(store).filter({ country: [] }).ids()).toEqual([])
  })

  it('answers a filter on every column of a composite index from that index alone', async () => {
    const where = { city: 'Paris', region: 'IDF' }
    const want = expected(data, where, '-joinedAt')
    expect(want.length).toBeGreaterThan(0)
    expect(await Person.query(store).filter(where).ids()).toEqual(want)
    const anyOf = { city: ['Paris', 'Lyon', null], region: 'ARA' }
    expect(await Person.query(store).filter(anyOf).ids()).toEqual(expected(data, anyOf, '-joinedAt'))
    const unset = { city: null, region: null }
    expect(await Person.query(store).filter(unset).ids()).toEqual(expected(data, unset, '-joinedAt'))
    // With more columns than the composite covers, the rest come from their own indexes.
    const more = { city: 'Lyon', region: 'IDF', country: 'US' }
    expect(await Person.query(store).filter(more).ids()).toEqual(expected(data, more, '-joinedAt'))
  })

  it('prefers a composite index over the single-column indexes it covers', async () => {
    const users = freshStore(db)
    await User.create(users, { id: 'a', name: 'A', age: 1, country: 'US', gender: 'male' })
    await User.create(users, { id: 'b', name: 'B', age: 1, country: 'US', gender: 'female' })
    const spy = vi.spyOn(users.redis, 'redbinModelQuery')
    try {
      expect(await User.query(users).filter({ country: 'US', gender: 'male' }).ids()).toEqual(['a'])
      const args = spy.mock.calls[0]?.map(String) ?? []
      expect(args).toContain('idx:country+gender:["US","male"]')
      expect(args).not.toContain('idx:country:["US"]')
    } finally {
      spy.mockRestore()
    }
  })

  it('refuses, without asking Redis, to filter on a column that has no index', async () => {
    const dead = deadStore()
    try {
      const err = await rejection(Person.query(dead.store).filter({ nickname: 'x' }).all(), QueryError)
      expect(err.message).toMatch(/"nickname".*no index/)
      await rejection(Person.query(dead.store).filter({ name: 'x' }).count(), QueryError)
      await rejection(Person.query(dead.store).filter({ id: 'x' }).ids(), QueryError)
      // One column of a composite index alone is not indexed.
      await rejection(Person.query(dead.store).filter({ city: 'Paris' }).first(), QueryError)
      expect(dead.sent()).toBe(0)
    } finally {
      dead.close()
    }
  })

  it('refuses a filter value of the wrong type, and an unknown column', async () => {
    const dead = deadStore()
    try {
      for (const where of [{ country: 5 }, { gender: 'robot' }, { active: 'yes' }, { country: ['US', 5] }, { joinedAt: 'x' }]) {
        await rejection(Person.query(dead.store).filter(where as never).all(), QueryError)
      }
      const err = await rejection(Person.query(dead.store).filter({ gender: 'robot' } as never).all(), QueryError)
      expect(err.message).toMatch(/person\.gender.*must be one of/)
      await rejection(Person.query(dead.store).filter({ nope: 1 } as never).all(), QueryError)
      await rejection(Person.query(dead.store).filter({ constructor: 1 } as never).all(), QueryError)
      expect(dead.sent()).toBe(0)
    } finally {
      dead.close()
    }
  })
})

describe('ordering', () => {
  it('sorts ages [10, 100, 2, 50, 9] as numbers, not as text', async () => {
    const store = freshStore(db)
    for (const [i, age] of [10, 100, 2, 50, 9].entries()) {
      const p = { id: `a${i}`, name: `n${i}`, age, country: 'US' }
      await Person.create(store, p)
      await ByAge.create(store, p)
    }
    const ages = async (q: { all(): Promise<{ age: number }[]> }) => (await q.all()).map((r) => r.age)
    // A sortable column (its own sorted set) ...
    expect(await ages(Person.query(store).orderBy('age'))).toEqual([2, 9, 10, 50, 100])
    expect(await ages(Person.query(store).orderBy('-age'))).toEqual([100, 50, 10, 9, 2])
    expect(await ages(Person.query(store).filter({ country: 'US' }).orderBy('age'))).toEqual([2, 9, 10, 50, 100])
    // ... and the default order (the score of every equality index).
    expect(await ages(ByAge.query(store))).toEqual([2, 9, 10, 50, 100])
    expect(await ages(ByAge.query(store).orderBy('-age'))).toEqual([100, 50, 10, 9, 2])
    expect(await ages(ByAge.query(store).filter({ country: 'US' }))).toEqual([2, 9, 10, 50, 100])
    expect(await ages(ByAge.query(store).filter({ country: 'US' }).orderBy('-age'))).toEqual([100, 50, 10, 9, 2])
  })

  it('sorts dates by time and floats by value, negatives first', async () => {
    const store = freshStore(db)
    const dates = [1e12, 9e11, -5, 0, 1e13, 99]
    const ratings = [10, 9.5, 100, -1.5, 0.1, -0.25]
    for (const [i, t] of dates.entries()) {
      await Person.create(store, { id: `d${i}`, name: 'x', age: 1, joinedAt: new Date(t), rating: ratings[i] })
    }
    const times = (await Person.query(store).orderBy('joinedAt').all()).map((r) => r.joinedAt?.getTime())
    expect(times).toEqual([-5, 0, 99, 9e11, 1e12, 1e13])
    const newest = (await Person.query(store).all()).map((r) => r.joinedAt?.getTime())
    expect(newest).toEqual([1e13, 1e12, 9e11, 99, 0, -5])
    const rated = (await Person.query(store).orderBy('rating').all()).map((r) => r.rating)
    expect(rated).toEqual([-1.5, -0.25, 0.1, 9.5, 10, 100])
  })

  it('breaks ties by id, in the same direction as the order', async () => {
    const store = freshStore(db)
    for (const id of ['m', 'b', 'z', 'a', 'k']) {
      const p = { id, name: id, age: id === 'k' ? 5 : 30, country: 'US', joinedAt: new Date(1000), rating: 1 }
      await Person.create(store, p)
      await ByAge.create(store, p)
    }
    expect(await Person.query(store).orderBy('age').ids()).toEqual(['k', 'a', 'b', 'm', 'z'])
    expect(await Person.query(store).orderBy('-age').ids()).toEqual(['z', 'm', 'b', 'a', 'k'])
    expect(await Person.query(store).filter({ country: 'US' }).orderBy('-rating').ids()).toEqual(['z', 'm', 'k', 'b', 'a'])
    expect(await Person.query(store).ids()).toEqual(['z', 'm', 'k', 'b', 'a'])
    expect(await Person.query(store).orderBy('joinedAt').ids()).toEqual(['a', 'b', 'k', 'm', 'z'])
    expect(await ByAge.query(store).ids()).toEqual(['k', 'a', 'b', 'm', 'z'])
    expect(await ByAge.query(store).filter({ country: ['US', 'CA'] }).orderBy('-age').ids()).toEqual(['z', 'm', 'b', 'a', 'k'])
  })

  it('sorts records without a value first ascending and last descending, ties by id', async () => {
    const store = freshStore(db)
    const rows = [
      { id: 'n2', rating: null, joinedAt: null },
      { id: 'r1', rating: -1e300, joinedAt: new Date(-1e12) },
      { id: 'n1', rating: null, joinedAt: null },
      { id: 'r2', rating: 3, joinedAt: new Date(5) },
    ]
    for (const r of rows) await Person.create(store, { ...r, name: 'x', age: 1, country: 'US' })
    expect(await Person.query(store).orderBy('rating').ids()).toEqual(['n1', 'n2', 'r1', 'r2'])
    expect(await Person.query(store).orderBy('-rating').ids()).toEqual(['r2', 'r1', 'n2', 'n1'])
    // The same through a filter (an intersection with the sortable set) ...
    expect(await Person.query(store).filter({ country: 'US' }).orderBy('rating').ids()).toEqual(['n1', 'n2', 'r1', 'r2'])
    expect(await Person.query(store).filter({ country: ['US', 'CA'] }).orderBy('-rating').ids()).toEqual(['r2', 'r1', 'n2', 'n1'])
    // ... and for the default order column, with and without filters.
    expect(await Person.query(store).ids()).toEqual(['r2', 'r1', 'n2', 'n1'])
    expect(await Person.query(store).orderBy('joinedAt').ids()).toEqual(['n1', 'n2', 'r1', 'r2'])
    expect(await Person.query(store).filter({ country: 'US' }).ids()).toEqual(['r2', 'r1', 'n2', 'n1'])
    expect(await Person.query(store).filter({ country: 'US', active: true }).orderBy('joinedAt').ids()).toEqual(['n1', 'n2', 'r1', 'r2'])
    // A null default-order score (-inf) times a filter weight of 0 must not disturb another order.
    expect(await Person.query(store).filter({ country: 'US', active: true }).orderBy('-rating').ids()).toEqual(['r2', 'r1', 'n2', 'n1'])
    expect(await Person.verify(store)).toMatchObject({ ok: true })
  })

  it('agrees with a sort in JavaScript for every filter and order combination', async () => {
    const store = freshStore(db)
    const data = people(150, 7)
    await Promise.all(data.flatMap((p) => [Person.create(store, p), ByAge.create(store, p)]))
    const filters: PersonFilter[] = [{}, { country: 'US' }, { country: ['CA', null] }, { gender: 'male', active: true }, { city: 'Lyon', region: ['IDF', 'ARA'] }]
    for (const where of filters) {
      for (const order of ['age', '-age', 'rating', '-rating', 'joinedAt', '-joinedAt'] as const) {
        const want = expected(data, where, order)
        expect(await Person.query(store).filter(where).orderBy(order).ids(), `${JSON.stringify(where)} ${order}`).toEqual(want)
        if (!('city' in where)) expect(await ByAge.query(store).filter(where).orderBy(order).ids()).toEqual(want)
        const page = await Person.query(store).filter(where).orderBy(order).offset(3).limit(7).page()
        expect(page.items.map((r) => r.id)).toEqual(want.slice(3, 10))
        expect(page.total).toBe(want.length)
      }
    }
  })

  it('refuses to order by a column that is not sortable', async () => {
    const dead = deadStore()
    try {
      for (const order of ['name', '-nickname', 'country', 'id'] as const) {
        const err = await rejection(Person.query(dead.store).orderBy(order).all(), QueryError)
        expect(err.message).toMatch(/not sortable/)
      }
      await rejection(Person.query(dead.store).orderBy('nope' as never).all(), QueryError)
      expect(dead.sent()).toBe(0)
    } finally {
      dead.close()
    }
  })
})

describe('pagination in Redis', () => {
  let store: Store
  /** 250 people p000..p249, ages 0..249: the ByAge default order is the id order. */
  const ids = Array.from({ length: 250 }, (_, i) => `p${String(i).padStart(3, '0')}`)
  beforeAll(async () => {
    store = freshStore(db)
    await Promise.all(
      ids.map((id, i) => ByAge.create(store, { id, name: `n${i}`, age: i, country: i % 2 ? 'odd' : 'even', nickname: `nick${i}` })),
    )
  })
  afterAll(() => vi.restoreAllMocks())

  it('applies limit and offset', async () => {
    expect(await ByAge.query(store).limit(5).ids()).toEqual(ids.slice(0, 5))
    expect(await ByAge.query(store).offset(10).limit(3).ids()).toEqual(ids.slice(10, 13))
    expect(await ByAge.query(store).offset(245).ids()).toEqual(ids.slice(245))
    expect(await ByAge.query(store).orderBy('-age').offset(1).limit(2).ids()).toEqual([ids[248], ids[247]])
    expect(await ByAge.query(store).filter({ country: 'odd' }).offset(2).limit(2).ids()).toEqual(['p005', 'p007'])
    expect(await ByAge.query(store).limit(0).all()).toEqual([])
  })

  it('returns [] for an offset beyond the end', async () => {
    expect(await ByAge.query(store).offset(250).all()).toEqual([])
    expect(await ByAge.query(store).offset(10_000).limit(10).ids()).toEqual([])
    expect(await ByAge.query(store).filter({ country: 'odd' }).offset(125).all()).toEqual([])
  })

  it('rejects negative or fractional offsets and limits', () => {
    expect(() => ByAge.query(store).offset(-1)).toThrow(QueryError)
    expect(() => ByAge.query(store).limit(-1)).toThrow(QueryError)
    expect(() => ByAge.query(store).limit(1.5)).toThrow(QueryError)
    expect(() => ByAge.query(store).offset(Number.NaN)).toThrow(QueryError)
  })

  it('counts every match, ignoring offset and limit', async () => {
    expect(await ByAge.query(store).count()).toBe(250)
    expect(await ByAge.query(store).offset(100).limit(5).count()).toBe(250)
    expect(await ByAge.query(store).filter({ country: 'even' }).offset(1000).limit(0).count()).toBe(125)
  })

  it('returns a page and the total in one call', async () => {
    const spy = vi.spyOn(store.redis, 'redbinModelQuery')
    const page = await ByAge.query(store).filter({ country: 'even' }).offset(10).limit(4).page()
    expect(spy).toHaveBeenCalledTimes(1)
    spy.mockRestore()
    expect(page.total).toBe(125)
    expect(page.items.map((r) => r.id)).toEqual(['p020', 'p022', 'p024', 'p026'])
    expect(page.items[0]).toMatchObject({ name: 'n20', age: 20, nickname: 'nick20' })
    expect(await ByAge.query(store).offset(500).limit(4).page()).toEqual({ items: [], total: 250 })
  })

  it('returns the first match, or null', async () => {
    expect((await ByAge.query(store).first())?.id).toBe('p000')
    expect((await ByAge.query(store).orderBy('-age').first())?.id).toBe('p249')
    expect((await ByAge.query(store).offset(3).first())?.id).toBe('p003')
    expect(await ByAge.query(store).filter({ country: 'nowhere' }).first()).toBeNull()
  })

  it('streams more than 100 records in pages with for await', async () => {
    const spy = vi.spyOn(store.redis, 'redbinModelQuery')
    const seen: string[] = []
    for await (const person of ByAge.query(store)) seen.push(person.id)
    expect(seen).toEqual(ids)
    expect(spy).toHaveBeenCalledTimes(3) // 100 + 100 + 50
    spy.mockClear()

    const window: string[] = []
    for await (const person of ByAge.query(store).orderBy('-age').offset(5).limit(150).select('age')) {
      // The primary key always comes along, although select()'s type only names 'age'.
      expect(Object.keys(person).sort()).toEqual(['age', 'id'])
      window.push((person as typeof person & { id: string }).id)
    }
    expect(window).toEqual([...ids].reverse().slice(5, 155))
    expect(spy).toHaveBeenCalledTimes(2) // 100 + 50
    spy.mockRestore()

    const odd: string[] = []
    for await (const person of ByAge.query(store).filter({ country: 'odd' })) odd.push(person.id)
    expect(odd).toEqual(ids.filter((_, i) => i % 2 === 1))
  })

  it('select() returns only the selected columns plus the primary key', async () => {
    const rows = await ByAge.query(store).select('age', 'nickname').limit(2).all()
    expect(rows).toEqual([
      { id: 'p000', age: 0, nickname: 'nick0' },
      { id: 'p001', age: 1, nickname: 'nick1' },
    ])
    const onlyId = await ByAge.query(store).select().limit(1).all()
    expect(onlyId).toEqual([{ id: 'p000' }])
    const withId = await ByAge.query(store).select('id', 'name').offset(249).all()
    expect(withId).toEqual([{ id: 'p249', name: 'n249' }])
    const unset = await ByAge.query(store).select('rating', 'joinedAt').first()
    expect(unset).toEqual({ id: 'p000', rating: null, joinedAt: null })
    await rejection(Promise.resolve().then(() => ByAge.query(store).select('nope' as never)), QueryError)
  })

  it('ids() returns the matching ids in order, with offset and limit', async () => {
    expect(await ByAge.query(store).orderBy('-age').limit(3).ids()).toEqual(['p249', 'p248', 'p247'])
    expect(await ByAge.query(store).filter({ country: ['odd', 'even'] }).offset(248).ids()).toEqual(['p248', 'p249'])
  })

  it('leaves no scratch keys behind', async () => {
    await ByAge.query(store).filter({ country: ['odd', 'even'], active: true }).orderBy('-rating').limit(3).all()
    expect(await db.redis.exists(store.keys('byage').tmp, `${store.keys('byage').tmp}:1`)).toBe(0)
  })
})
