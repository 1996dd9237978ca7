// patch(): change plain columns of an existing record in place, in one round trip.
import { describe, expect, it, vi } from 'vitest'
import { QueryError, Store, ValidationError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshPrefix, freshStore, rejection, scanRecordsAndIndexes, User } from './fixtures.js'

const db = useTestRedis()

describe('patch()', () => {
  it('changes plain columns of an existing record in one call, leaving its indexes valid', async () => {
    const store = new Store(db.connect(), { prefix: freshPrefix(db) })
    await User.create(store, { id: 'p', name: 'Old', age: 3, country: 'US', bio: 'before', email: 'p@x' })
    await User.patch(store, 'p', { bio: 'warm-up' }) // loads the script
    const sent = vi.spyOn(store.redis, 'sendCommand')
    expect(await User.patch(store, 'p', { name: 'New', bio: 'a\0😀' })).toBe(true)
    expect(sent).toHaveBeenCalledTimes(1)
    sent.mockRestore()
    expect(await User.load(store, 'p')).toMatchObject({ name: 'New', bio: 'a\0😀', age: 3, country: 'US', email: 'p@x' })
    expect(await User.query(store).filter({ country: 'US' }).select('name').all()).toEqual([{ id: 'p', name: 'New' }])
    expect(await User.verify(store)).toMatchObject({ ok: true })
  })

  it('returns false for a missing record and never creates one', async () => {
    const store = freshStore(db)
    expect(await User.patch(store, 'ghost', { bio: 'boo' })).toBe(false)
    await User.create(store, { id: 'gone', name: 'G', age: 1 })
    await User.delete(store, 'gone')
    expect(await User.patch(store, 'gone', { bio: 'back?' })).toBe(false)
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })

  it('keeps the record\'s expiry', async () => {
    const store = freshStore(db)
    const at = new Date(Date.now() + 60_000)
    await User.create(store, { id: 'ttl', name: 'T', age: 1 }, { expiresAt: at })
    await User.patch(store, 'ttl', { bio: 'still expiring' })
    expect(await db.redis.call('PEXPIRETIME', store.keys('user').record('ttl'))).toBe(at.getTime())
  })

  it('unsets an optional column given null, and refuses null for a required one', async () => {
    const store = freshStore(db)
    await User.create(store, { id: 'n', name: 'N', age: 1, bio: 'text' })
    await User.patch(store, 'n', { bio: null, views: undefined })
    expect((await User.load(store, 'n'))?.bio).toBeNull()
    const err = await rejection(User.patch(store, 'n', { name: null } as never), ValidationError) // also a type error
    expect(err).toMatchObject({ column: 'name', message: 'user.name is required' })
  })

  it('checks values like a write does, and writes nothing when one is wrong', async () => {
    const store = freshStore(db)
    await User.create(store, { id: 'v', name: 'V', age: 1, bio: 'kept' })
    const err = await rejection(User.patch(store, 'v', { bio: 'changed', name: 5 } as never), ValidationError)
    expect(err.column).toBe('name')
    await rejection(User.patch(store, 'v', { bio: '\uD800' }), ValidationError)
    await rejection(User.patch(store, 5, { bio: 'x' }), ValidationError)
    expect(await User.load(store, 'v')).toMatchObject({ bio: 'kept', views: 0 })
  })

  it('refuses columns an index, claim or key depends on: those need save()', async () => {
    const store = freshStore(db)
    await User.create(store, { id: 'i', name: 'I', age: 1, country: 'US', email: 'i@x' })
    const refused = { id: 'j', age: 2, country: 'CA', gender: 'male', score: 1, active: false, createdAt: new Date(), email: 'j@x' } as const
    for (const [name, value] of Object.entries(refused)) {
      const err = await rejection(User.patch(store, 'i', { [name]: value }), QueryError)
      expect(err.message).toMatch(new RegExp(`user\\.${name} cannot be patched`))
    }
    await expect(User.patch(store, 'i', { nope: 1 } as never)).rejects.toThrow(/no column "nope"/)
    await expect(User.patch(store, 'i', { views: 7 })).rejects.toThrow(/user\.views cannot be patched: it is a counter/)
    expect(await User.load(store, 'i')).toMatchObject({ id: 'i', age: 1, country: 'US', email: 'i@x' })
    expect(await User.verify(store)).toMatchObject({ ok: true })
  })
})
