// The model layer throws its own typed errors, exported from the package, each with its name.
import { describe, expect, it } from 'vitest'
import * as model from '../../src/model/index.js'
import { DuplicateKeyError, QueryError, UniqueConstraintError, ValidationError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshStore, User } from './fixtures.js'

const db = useTestRedis()

const classes = { ValidationError, QueryError, DuplicateKeyError, UniqueConstraintError } as const

/** Runs `fn` and returns what it threw (synchronously or by rejecting). */
async function thrownBy(fn: () => unknown): Promise<unknown> {
  try {
    await fn()
  } catch (err) {
    return err
  }
  throw new Error('nothing was thrown')
}

describe('errors', () => {
  it('exports every error class from the model package', () => {
    for (const [name, type] of Object.entries(classes)) {
      expect((model as Record<string, unknown>)[name]).toBe(type)
    }
  })

  it.each<[keyof typeof classes, () => unknown]>([
    ['ValidationError', () => User.create(freshStore(db), { id: 'x', name: 'n', age: 'old' } as never)],
    ['QueryError', () => User.query(freshStore(db)).filter({ name: 'x' } as never).all()],
    ['QueryError', () => User.query(freshStore(db)).limit(-1)],
    ['DuplicateKeyError', async () => {
      const store = freshStore(db)
      await User.create(store, { id: 'd', name: 'n', age: 1 })
      await User.create(store, { id: 'd', name: 'n', age: 1 })
    }],
    ['UniqueConstraintError', async () => {
      const store = freshStore(db)
      await User.create(store, { id: 'a', name: 'n', age: 1, email: 'same' })
      await User.create(store, { id: 'b', name: 'n', age: 1, email: 'same' })
    }],
  ])('throws a %s that is an Error with its own name', async (name, fn) => {
    const err = await thrownBy(fn)
    const type = classes[name]
    expect(err).toBeInstanceOf(type)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe(name)
    expect(String(err)).toMatch(new RegExp(`^${name}: \\S`))
    expect((err as Error).stack).toContain(name)
    // It is none of the other model errors.
    for (const [other, otherType] of Object.entries(classes)) if (other !== name) expect(err).not.toBeInstanceOf(otherType)
  })

  it('carries the details a caller needs to react', () => {
    expect(new ValidationError('user', 'age', 'is required')).toMatchObject({ model: 'user', column: 'age', problem: 'is required', message: 'user.age is required' })
    expect(new DuplicateKeyError('user', 'u1')).toMatchObject({ model: 'user', id: 'u1', message: 'user "u1" already exists' })
    expect(new UniqueConstraintError('user', 'email')).toMatchObject({ model: 'user', column: 'email' })
    expect(new QueryError('bad')).toMatchObject({ name: 'QueryError', message: 'bad' })
  })
})
