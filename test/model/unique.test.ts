// Unique columns: one live record per value, enforced atomically inside Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { column, defineModel, Store, UniqueConstraintError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshPrefix, freshStore, rejection, User } from './fixtures.js'

const db = useTestRedis()

const user = (id: string, email: string | null) => ({ id, name: id, age: 30, email })

describe('unique columns', () => {
  let store: Store
  beforeAll(() => {
    store = freshStore(db)
  })
  afterAll(async () => {
    expect(await User.verify(store)).toMatchObject({ ok: true, problems: [] })
  })

  it('lets exactly one of two concurrent creates from two clients claim a value', async () => {
    // Two connections to one store: the same prefix, so the same records and claims.
    const prefix = freshPrefix(db)
    const a = new Store(db.connect(), { prefix })
    const b = new Store(db.connect(), { prefix })
    for (let round = 0; round < 25; round++) {
      const email = `race${round}@example.com`
      const results = await Promise.allSettled([
        User.create(a, user(`a${round}`, email)),
        User.create(b, user(`b${round}`, email)),
      ])
      const won = results.filter((r) => r.status === 'fulfilled')
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      expect(won).toHaveLength(1)
      expect(lost).toHaveLength(1)
      expect(lost[0]?.reason).toBeInstanceOf(UniqueConstraintError)
      expect(lost[0]?.reason).toMatchObject({ model: 'user', column: 'email' })
      // The loser left nothing behind.
      const loser = results[0]?.status === 'rejected' ? `a${round}` : `b${round}`
      expect(await User.load(a, loser)).toBeNull()
    }
    expect(await User.query(a).count()).toBe(25)
    expect(await User.verify(a)).toMatchObject({ ok: true })
  })

  it('lets exactly one of many concurrent creates claim a value', async () => {
    const prefix = freshPrefix(db)
    const clients = [1, 2, 3, 4].map(() => new Store(db.connect(), { prefix }))
    const s = clients[0] as Store
    const attempts = Array.from({ length: 40 }, (_, i) => User.create(clients[i % clients.length] as Store, user(`many${i}`, 'same@example.com')))
    const results = await Promise.allSettled(attempts)
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(UniqueConstraintError)
    expect(await User.query(s).count()).toBe(1)
  })

  it('reports the column and writes nothing when a create breaks a claim', async () => {
    await User.create(store, user('owner', 'taken@example.com'))
    const err = await rejection(User.create(store, { ...user('intruder', 'taken@example.com'), country: 'US' }), UniqueConstraintError)
    expect(err.column).toBe('email')
    expect(err.message).toBe('user.email must be unique: another record already has this value')
    expect(await User.load(store, 'intruder')).toBeNull()
    expect(await User.query(store).filter({ country: 'US' }).ids()).toEqual([])
    expect(await db.redis.hget(store.keys('user').base + 'uniq:email', 'taken@example.com')).toBe('owner')
  })

  it('releases the claim when the record is deleted', async () => {
    await User.create(store, user('leaver', 'reuse@example.com'))
    await rejection(User.create(store, user('waiting', 'reuse@example.com')), UniqueConstraintError)
    expect(await User.delete(store, 'leaver')).toBe(true)
    await User.create(store, user('waiting', 'reuse@example.com'))
    expect((await User.load(store, 'waiting'))?.email).toBe('reuse@example.com')
  })

  it('releases the claim when the record is taken', async () => {
    await User.create(store, user('taken-once', 'take@example.com'))
    expect(await User.take(store, 'taken-once')).not.toBeNull()
    await User.create(store, user('after-take', 'take@example.com'))
  })

  it('moves the claim when save() changes the value: the old value is freed, the new one taken', async () => {
    await User.create(store, user('mover', 'old@example.com'))
    await User.save(store, user('mover', 'new@example.com'))
    // The old value is free for anyone ...
    await User.create(store, user('newcomer', 'old@example.com'))
    // ... and the new one is held.
    const err = await rejection(User.create(store, user('late', 'new@example.com')), UniqueConstraintError)
    expect(err.column).toBe('email')
    const claims = await db.redis.hgetall(store.keys('user').base + 'uniq:email')
    expect(claims['old@example.com']).toBe('newcomer')
    expect(claims['new@example.com']).toBe('mover')
  })

  it('lets a record save its own value again', async () => {
    await User.create(store, user('keeper', 'mine@example.com'))
    await User.save(store, { ...user('keeper', 'mine@example.com'), country: 'FR' })
    expect((await User.load(store, 'keeper'))?.country).toBe('FR')
  })

  it('refuses a save that takes another record\'s value, leaving the record as it was', async () => {
    await User.create(store, user('first', 'first@example.com'))
    await User.create(store, { ...user('second', 'second@example.com'), country: 'CA' })
    const err = await rejection(User.save(store, { ...user('second', 'first@example.com'), country: 'US' }), UniqueConstraintError)
    expect(err.column).toBe('email')
    expect(await User.load(store, 'second')).toMatchObject({ email: 'second@example.com', country: 'CA' })
    expect(await User.query(store).filter({ country: 'CA' }).ids()).toContain('second')
    // It still holds its own claim.
    await rejection(User.create(store, user('third', 'second@example.com')), UniqueConstraintError)
  })

  it('frees the claim when save() sets the value to null', async () => {
    await User.create(store, user('dropper', 'dropped@example.com'))
    await User.save(store, user('dropper', null))
    await User.create(store, user('picker', 'dropped@example.com'))
  })

  it('lets any number of records leave a unique column unset: null claims nothing', async () => {
    const s = freshStore(db)
    await Promise.all(Array.from({ length: 5 }, (_, i) => User.create(s, user(`nobody${i}`, null))))
    expect(await User.query(s).count()).toBe(5)
    expect(await db.redis.exists(s.keys('user').base + 'uniq:email')).toBe(0)
  })

  it('treats the empty string as a value like any other', async () => {
    await User.create(store, user('empty1', ''))
    await rejection(User.create(store, user('empty2', '')), UniqueConstraintError)
  })

  it('compares values exactly: case, NUL bytes and emoji make different values', async () => {
    await User.create(store, user('exact1', 'Case@example.com'))
    await User.create(store, user('exact2', 'case@example.com'))
    await User.create(store, user('exact3', 'a\0b'))
    await User.create(store, user('exact4', 'a\0c'))
    await User.create(store, user('exact5', '😀'))
    await rejection(User.create(store, user('exact6', '😀')), UniqueConstraintError)
  })

  it('checks every unique column, and 0 and -0 are one value of an int column', async () => {
    const Account = defineModel('account', {
      id: column.string({ primaryKey: true }),
      handle: column.string({ unique: true }),
      code: column.int({ unique: true }),
    })
    const s = freshStore(db)
    await Account.create(s, { id: 'a', handle: 'ann', code: 0 })
    expect((await rejection(Account.create(s, { id: 'b', handle: 'bob', code: -0 }), UniqueConstraintError)).column).toBe('code')
    expect((await rejection(Account.create(s, { id: 'b', handle: 'ann', code: 1 }), UniqueConstraintError)).column).toBe('handle')
    await Account.create(s, { id: 'b', handle: 'bob', code: 1 })
    expect(await Account.verify(s)).toMatchObject({ ok: true })
  })
})
