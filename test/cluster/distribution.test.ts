// On a 3-master Redis Cluster, records spread over every master by id, while each model's index
// keys all sit on the one master that owns its hash tag; queries read across all of them.
import type { Cluster } from 'ioredis'
import { beforeAll, describe, expect, it } from 'vitest'
import { column, defineModel, scanServer, Store } from '../../src/model/index.js'
import { Paste } from '../../src/pastes/Paste.js'
import { buildTestApp } from '../helpers/app.js'
import { useTestCluster } from '../helpers/redis.js'

const db = useTestCluster()
let redis: Cluster

beforeAll(async () => {
  redis = (await db.connectApp()) as Cluster
})

const Item = defineModel('item', {
  id: column.string({ primaryKey: true }),
  group: column.string({ index: true }),
  n: column.int({ required: true, sortable: true }),
}, { defaultOrder: 'n' })

/** How many keys matching `pattern` each master holds, by its port. */
async function keysPerMaster(pattern: string): Promise<Map<number, string[]>> {
  const perMaster = new Map<number, string[]>()
  for (const node of redis.nodes('master')) perMaster.set(Number(node.options.port), await scanServer(node, pattern))
  return perMaster
}

describe('records on a 3-master cluster', () => {
  it('has three masters', () => {
    expect(redis.nodes('master')).toHaveLength(3)
  })

  it('puts 300 records on all three masters, and every index key of the model on one', async () => {
    const store = new Store(redis, { prefix: `${db.prefix}spread:` })
    await Promise.all(Array.from({ length: 300 }, (_, n) => Item.create(store, { id: `item-${n}`, group: `g${n % 3}`, n })))

    const records = await keysPerMaster(`${store.prefix}item:{*`)
    const counts = [...records.values()].map((keys) => keys.length)
    expect(counts).toHaveLength(3)
    expect(counts.reduce((a, b) => a + b)).toBe(300)
    // 100 each on average; every master holds a fair share.
    for (const count of counts) expect(count).toBeGreaterThan(60)

    const indexSide = await keysPerMaster(`${store.prefix}{item}:*`)
    const holding = [...indexSide.entries()].filter(([, keys]) => keys.length > 0)
    expect(holding).toHaveLength(1)
    expect(holding[0]?.[1]).toEqual(expect.arrayContaining([
      `${store.prefix}{item}:all`, `${store.prefix}{item}:idx:group:["g1"]`, `${store.prefix}{item}:memo:item-7`,
    ]))

    // Queries read ids off that one master and the records off all three.
    expect(await Item.query(store).count()).toBe(300)
    const all = await Item.query(store).all()
    expect(all.map((r) => r.n)).toEqual(Array.from({ length: 300 }, (_, n) => n))
    expect(await Item.query(store).filter({ group: 'g1' }).orderBy('-n').limit(3).ids()).toEqual(['item-298', 'item-295', 'item-292'])
    expect(await Item.verify(store)).toMatchObject({ ok: true, records: 300 })
  })

  it('spreads pastes created through the app over all three masters, and lists them', async () => {
    const { app, config } = await buildTestApp({ ...db, connect: () => redis }, { REDIS_PREFIX: `${db.prefix}app:` })
    try {
      const ids: string[] = []
      for (let i = 0; i < 60; i++) {
        const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: `paste ${i}`, visibility: 'public', language: 'plaintext' } })
        expect(res.statusCode, res.body).toBe(201)
        ids.push(res.json<{ id: string }>().id)
      }
      const perMaster = await keysPerMaster(`${config.redisPrefix}paste:{*`)
      for (const keys of perMaster.values()) expect(keys.length).toBeGreaterThan(5)
      for (const id of ids.slice(0, 10)) expect((await app.inject({ url: `/${id}/raw` })).body).toMatch(/^paste \d+/)
      const listed = await Paste.query(new Store(redis, { prefix: config.redisPrefix })).filter({ visibility: 'public' }).count()
      expect(listed).toBe(60)
      const list = await app.inject({ url: '/api/pastes?limit=50' })
      expect(list.statusCode, list.body).toBe(200)
      const page = list.json<{ items: { id: string }[]; total: number }>()
      expect(page.total).toBe(60)
      expect(page.items).toHaveLength(50)
      expect(new Set(page.items.map((p) => p.id)).size).toBe(50)
      for (const item of page.items) expect(ids).toContain(item.id)
    } finally {
      await app.close()
    }
  })
})
