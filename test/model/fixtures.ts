// Shared models and helpers of the model test suite (not a test file itself).
import type { Cluster, Redis } from 'ioredis'
import { expect } from 'vitest'
import { column, defineModel, Store, type StoreOptions } from '../../src/model/index.js'
import { clusterMode, scanKeys, type TestRedis } from '../helpers/redis.js'

/** The model of most tests: every column kind, indexes of each sort, a unique column. */
export const User = defineModel(
  'user',
  {
    id: column.string({ primaryKey: true }),
    name: column.string({ required: true }),
    age: column.int({ required: true, sortable: true }),
    gender: column.enum(['male', 'female', 'other'], { index: true }),
    country: column.string({ index: true }),
    score: column.float({ default: 0, sortable: true }),
    active: column.boolean({ default: true, index: true }),
    createdAt: column.date({ sortable: true, default: () => new Date() }),
    email: column.string({ unique: true }),
    views: column.int({ default: 0, counter: true }),
    bio: column.string(),
  },
  { defaultOrder: '-createdAt', indexes: [['country', 'gender']] },
)

let stores = 0

/**
 * A store under a prefix of its own (inside the test Redis's prefix), so that tests in one file
 * never see each other's records, sweeps or index keys.
 */
export function freshStore(db: TestRedis, options: StoreOptions = {}, client: Redis | Cluster = db.redis): Store {
  return new Store(client, { ...options, prefix: freshPrefix(db) })
}

/** A new key prefix inside the test Redis's prefix, e.g. for several clients on one store. */
export function freshPrefix(db: TestRedis): string {
  stores += 1
  return `${db.prefix}s${stores}:`
}

/** A deterministic PRNG, so that "random" data is the same on every run. */
export { seededRandom as seeded } from '../helpers/random.js'

export function pickOne<T>(random: () => number, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)]
  if (item === undefined) throw new Error('pickOne of an empty list')
  return item
}

/** Every key in the test Redis under `pattern` (SCAN, never KEYS; on a cluster, every master). */
export function scanAll(redis: Redis | Cluster, pattern = '*'): Promise<string[]> {
  return scanKeys(redis, pattern)
}

/**
 * scanAll without the keys that only cluster mode writes and keeps by design (see
 * src/model/keys.ts): each model's write counter, and delete tombstones, which expire after a
 * minute. On a single Redis, every key.
 */
export async function scanRecordsAndIndexes(redis: Redis | Cluster, pattern = '*'): Promise<string[]> {
  const keys = await scanAll(redis, pattern)
  if (!clusterMode) return keys
  return keys.filter((key) => !/^[^{]*\{[^}]*\}:version$/.test(key) && !key.endsWith(':deleted'))
}

/** Awaits `promise`, expecting it to reject with an instance of `type`; returns the error. */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(type)
    return err as E
  }
  throw new Error(`expected a rejection with ${type.name}, but the promise resolved`)
}

/** Calls `fn` until it returns true, every 10 ms, failing after `timeoutMs`. */
export async function waitUntil(fn: () => Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
