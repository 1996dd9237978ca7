// Key layout: everything under the store prefix; records spread over cluster slots by id, and a
// model's index keys share one hash tag so that its scripts run on one shard.
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { column, defineModel, Store } from '../../src/model/index.js'
import { clusterMode, freePort, startRedisServer, stopRedisServer, useTestRedis } from '../helpers/redis.js'
import { freshStore, scanAll, scanRecordsAndIndexes, User, waitUntil } from './fixtures.js'

const db = useTestRedis()

const Note = defineModel('note', {
  id: column.string({ primaryKey: true }),
  topic: column.string({ index: true }),
  stars: column.int({ sortable: true }),
  slug: column.string({ unique: true }),
})

/** Does everything the model layer can do, so that every kind of key gets written. */
async function exerciseEverything(store: Store): Promise<void> {
  const expiring: string[] = []
  for (let i = 0; i < 30; i++) {
    if (i % 5 === 0) expiring.push(`u${i}`)
    await User.create(store, {
      id: `u${i}`, name: `n${i}`, age: i, country: i % 2 ? 'US' : null, gender: i % 3 ? 'male' : 'female',
      email: `e${i}@x`, createdAt: new Date(i),
    }, i % 5 === 0 ? { expiresAt: new Date(Date.now() + 150) } : {})
    await Note.create(store, { id: `n${i}`, topic: `t${i % 4}`, stars: i, slug: `s${i}` })
  }
  await User.save(store, { id: 'u1', name: 'changed', age: 99, country: 'FR', email: 'new@x' })
  await User.delete(store, 'u2')
  await User.take(store, 'u3')
  await User.load(store, 'u4', { select: ['views'], increment: { views: 1 } })
  await User.query(store).filter({ country: ['US', 'FR'], gender: 'male', active: true }).orderBy('-age').offset(1).limit(3).page()
  await User.query(store).filter({ country: 'US', gender: ['male', 'female'] }).count()
  await Note.query(store).filter({ topic: ['t1', 't2'] }).orderBy('stars').all()
  await Note.query(store).filter({ topic: 'x'.repeat(500) }).all()
  await waitUntil(async () => (await User.loadMany(store, expiring)).every((r) => r === null))
  await User.create(store, { id: 'late', name: 'late', age: 1 }) // sweeps some expired users
  await User.sweepExpired(store)
  await Note.create(store, { id: 'expiring', topic: 't0', slug: 'expiring' }, { expiresAt: new Date(Date.now() + 60_000) })
}

describe('key names', () => {
  it('writes every key under the store prefix, and leaves no scratch keys', async (ctx) => {
    // A REDIS_URL may be someone's shared Redis: its other keys are none of our business.
    if (!db.owned && !clusterMode) ctx.skip()
    await db.clear()
    const store = freshStore(db)
    await exerciseEverything(store)
    const keys = await scanAll(db.redis)
    expect(keys.filter((key) => key.startsWith(store.prefix)).length).toBeGreaterThan(60)
    // The test cluster is shared by the test files, each under its own test:… prefix: a key
    // outside every prefix would be one the model wrote unprefixed.
    const outside = clusterMode ? keys.filter((key) => !key.startsWith('test:')) : keys.filter((key) => !key.startsWith(store.prefix))
    expect(outside).toEqual([])
    expect(keys.filter((key) => key.startsWith(store.prefix) && key.includes('}:tmp'))).toEqual([])
    expect(await User.verify(store)).toMatchObject({ ok: true })
    expect(await Note.verify(store)).toMatchObject({ ok: true })
  })

  it('lays out one record as documented in keys.ts', async () => {
    const store = freshStore(db)
    const p = store.prefix
    await Note.create(store, { id: 'abc', topic: 'redis', stars: 5, slug: 'hello' }, { expiresAt: new Date(Date.now() + 60_000) })
    // On a cluster, writes are ordered by a version: the model's counter, and ~v in the record
    // and its memo (with ~written, the time of the index step).
    expect(await scanAll(db.redis, `${p}*`)).toEqual(
      [
        `${p}note:{abc}`,
        `${p}{note}:all`,
        `${p}{note}:expiry`,
        `${p}{note}:idx:topic:["redis"]`,
        `${p}{note}:memo:abc`,
        `${p}{note}:sort:stars`,
        `${p}{note}:uniq:slug`,
        ...(clusterMode ? [`${p}{note}:version`] : []),
      ].sort(),
    )
    const cluster = clusterMode ? { '~v': '1' } : {}
    expect(await db.redis.hgetall(`${p}note:{abc}`)).toEqual({ id: 'abc', topic: 'redis', stars: '5', slug: 'hello', ...cluster })
    expect(await db.redis.hgetall(`${p}{note}:memo:abc`)).toEqual({
      [`${p}{note}:all`]: 'z',
      [`${p}{note}:idx:topic:["redis"]`]: 'z',
      [`${p}{note}:sort:stars`]: 'z',
      [`${p}{note}:uniq:slug`]: 'uhello',
      ...(clusterMode ? { ...cluster, '~written': expect.stringMatching(/^t\d{13}$/) } : {}),
    })
    if (clusterMode) {
      await Note.delete(store, 'abc')
      expect(await scanAll(db.redis, `${p}*`)).toEqual([`${p}note:{abc}:deleted`, `${p}{note}:version`])
      expect(await db.redis.get(`${p}note:{abc}:deleted`)).toBe('2')
      expect(await db.redis.pttl(`${p}note:{abc}:deleted`)).toBeGreaterThan(50_000)
    }
  })

  it('keeps index key names short by hashing long values', async () => {
    const store = freshStore(db)
    await Note.create(store, { id: 'long', topic: '😀'.repeat(5000) })
    const keys = await scanAll(db.redis, `${store.prefix}*`)
    expect(Math.max(...keys.map((k) => k.length))).toBeLessThan(store.prefix.length + 100)
    expect(keys.some((k) => k.includes('idx:topic:sha1:'))).toBe(true)
    expect(await Note.query(store).filter({ topic: '😀'.repeat(5000) }).ids()).toEqual(['long'])
    expect(await Note.query(store).filter({ topic: '😀'.repeat(4999) }).ids()).toEqual([])
  })

  it('keeps two prefixes apart: the same model and ids in two stores are separate records', async () => {
    const a = freshStore(db)
    const b = freshStore(db)
    await Note.create(a, { id: 'same', topic: 'a', slug: 'same' })
    await Note.create(b, { id: 'same', topic: 'b', slug: 'same' })
    expect((await Note.load(a, 'same'))?.topic).toBe('a')
    expect(await Note.query(b).filter({ topic: 'a' }).count()).toBe(0)
    await Note.delete(a, 'same')
    expect((await Note.load(b, 'same'))?.topic).toBe('b')
  })

  it('uses redbin: as the default prefix', () => {
    const store = new Store(db.redis)
    expect(store.prefix).toBe('redbin:')
    expect(store.keys('note').record('x')).toBe('redbin:note:{x}')
    expect(store.keys('note').base).toBe('redbin:{note}:')
  })

  it('refuses prefixes and model names with braces, which would break hash tags', () => {
    expect(() => new Store(db.redis, { prefix: 'a{b}:' }).keys('note')).toThrow(/must not contain \{ or \}/)
    expect(() => new Store(db.redis, { prefix: 'ok:' }).keys('no}te')).toThrow(/must not contain \{ or \}/)
  })

  it('accepts ids with braces, colons, spaces, NUL bytes and emoji', async () => {
    const store = freshStore(db)
    const ids = ['a}b', '{x}', 'c:d', 'e f', 'g\0h', '😀', '}', '{']
    for (const [i, id] of ids.entries()) await Note.create(store, { id, topic: 'odd', stars: i, slug: id })
    for (const id of ids) expect((await Note.load(store, id))?.id).toBe(id)
    expect(await Note.query(store).filter({ topic: 'odd' }).orderBy('stars').ids()).toEqual(ids)
    expect(await Note.verify(store)).toMatchObject({ ok: true, records: ids.length })
    for (const id of ids) expect(await Note.take(store, id)).toMatchObject({ id })
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })
})

describe('cluster hash slots', () => {
  // CLUSTER KEYSLOT needs a server with cluster support: a throwaway node (no slots assigned,
  // it stores nothing) answers it with the real Redis hash function.
  let node: ChildProcess
  let slots: Redis
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'redbin-keyslot-'))
    const port = await freePort()
    node = await startRedisServer(port, ['--cluster-enabled', 'yes', '--dir', dir, '--cluster-config-file', join(dir, 'nodes.conf')])
    slots = new Redis(port, '127.0.0.1')
  })
  afterAll(async () => {
    await slots?.quit()
    if (node) await stopRedisServer(node)
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const slotOf = (key: string) => slots.cluster('KEYSLOT', key) as Promise<number>

  it('spreads records over slots by id, and puts every index, memo and expiry key on the model\'s slot', async () => {
    const store = freshStore(db)
    await exerciseEverything(store)
    const keys = await scanAll(db.redis, `${store.prefix}*`)
    // Record keys, and on a cluster the tombstones deletes leave next to them (M:{id}:deleted).
    const records = keys.filter((k) => k.startsWith(`${store.prefix}user:{`) || k.startsWith(`${store.prefix}note:{`))
    const indexSide = keys.filter((k) => !records.includes(k))
    expect(records.length).toBeGreaterThan(40)
    expect(indexSide.some((k) => k.endsWith(':expiry'))).toBe(true)
    expect(indexSide.some((k) => k.includes('}:memo:'))).toBe(true)
    expect(indexSide.some((k) => k.includes('}:uniq:'))).toBe(true)

    // A record key hashes as its id alone.
    const recordSlots = new Set<number>()
    for (const key of records) {
      const id = key.slice(key.indexOf('{') + 1, key.indexOf('}'))
      const slot = await slotOf(key)
      expect(slot, key).toBe(await slotOf(id))
      recordSlots.add(slot)
    }
    expect(recordSlots.size).toBeGreaterThan(records.length / 2)

    // Every other key of a model hashes as the model name.
    const userSlot = await slotOf('user')
    const noteSlot = await slotOf('note')
    expect(userSlot).not.toBe(noteSlot)
    for (const key of indexSide) {
      const model = key.startsWith(`${store.prefix}{user}:`) ? 'user' : 'note'
      expect(await slotOf(key), key).toBe(model === 'user' ? userSlot : noteSlot)
    }
  })

  it('puts the record keys of different ids on different slots', async () => {
    const store = freshStore(db)
    const keys = store.keys('user')
    const ids = Array.from({ length: 20 }, (_, i) => `paste-${i}`)
    const recordSlots = await Promise.all(ids.map((id) => slotOf(keys.record(id))))
    expect(new Set(recordSlots).size).toBeGreaterThan(15)
    const modelSlots = await Promise.all([keys.base + 'all', keys.memo('paste-1'), keys.expiry, keys.tmp].map(slotOf))
    expect(new Set(modelSlots)).toEqual(new Set([await slotOf('user')]))
  })
})
