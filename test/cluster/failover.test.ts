// A master of a 3-master Redis Cluster dies (SIGKILL) under a load of reads and writes, then
// comes back on its port with its nodes.conf (so it rejoins holding its slots). The cluster
// has no replicas and no persistence, so that master's keys are lost: what is under test is
// the client and the model layer:
// - errors are bounded to the dead master's keys, and come as "unavailable" errors within about
//   a second (the app answers 503, never 500, never a hang);
// - reads and writes of keys on the other masters keep working throughout;
// - when the node is back, the same client works again by itself.
// A model's index keys all live on the master of its hash tag: when THAT one dies, queries and
// creates fail, while loads by id of records on the other masters keep working.
import type { FastifyInstance } from 'fastify'
import type { Cluster } from 'ioredis'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import { column, defineModel, Store } from '../../src/model/index.js'
import { isRedisUnavailable } from '../../src/plugins/errors.js'
import { buildTestApp } from '../helpers/app.js'
import type { LocalCluster } from '../helpers/cluster.js'
import { useTestCluster } from '../helpers/redis.js'

const db = useTestCluster({ own: true })
let redis: Cluster
let local: LocalCluster
/** [first slot, last slot, master port] of every slot range. */
let slotRanges: [number, number, number][]

beforeAll(async () => {
  local = db.local as LocalCluster
  redis = (await db.connectApp()) as Cluster
  const slots = await redis.cluster('SLOTS')
  slotRanges = slots.map(([first, last, master]) => [first, last, Number(master?.[1])])
}, 60_000)

/** The port of the master that holds `key`. */
async function masterOf(key: string): Promise<number> {
  const slot = Number(await redis.cluster('KEYSLOT', key))
  const range = slotRanges.find(([first, last]) => slot >= first && slot <= last)
  if (!range) throw new Error(`no master for slot ${slot}`)
  return range[2]
}

/** Candidate ids grouped by the master their record key lands on. */
async function idsByMaster(recordKey: (id: string) => string, count: number, label: string): Promise<Map<number, string[]>> {
  const ids = Array.from({ length: count }, (_, i) => `${label}${i}`)
  const owners = await Promise.all(ids.map((id) => masterOf(recordKey(id))))
  const byMaster = new Map<number, string[]>(local.ports.map((port) => [port, []]))
  ids.forEach((id, i) => byMaster.get(owners[i] as number)?.push(id))
  return byMaster
}

/** Runs `attempt` until it succeeds, every 100 ms, for at most `timeoutMs`; returns how long it took. */
async function recovers(attempt: () => Promise<unknown>, timeoutMs = 20_000): Promise<number> {
  const started = Date.now()
  for (;;) {
    try {
      await attempt()
      return Date.now() - started
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err
      await sleep(100)
    }
  }
}

interface Outcome {
  master: number
  kind: 'load' | 'create'
  start: number
  end: number
  error: Error | null
}

/**
 * Keeps `workers` loops of loads and creates going on every master until stop() is called,
 * and records every outcome.
 */
function startLoad(store: Store, model: typeof Item, existing: Map<number, string[]>, fresh: Map<number, string[]>, workers = 6) {
  const outcomes: Outcome[] = []
  let running = true
  let n = 0
  const loop = async () => {
    while (running) {
      const master = local.ports[n++ % local.ports.length] as number
      const kind = n % 3 === 0 ? 'create' : 'load'
      const start = Date.now()
      let error: Error | null = null
      try {
        if (kind === 'load') {
          const ids = existing.get(master) ?? []
          await model.load(store, ids[n % ids.length] as string)
        } else {
          const id = fresh.get(master)?.pop()
          if (id === undefined) throw new Error(`test ran out of fresh ids on ${master}`)
          await model.create(store, { id, group: 'load', n })
        }
      } catch (err) {
        error = err as Error
      }
      outcomes.push({ master, kind, start, end: Date.now(), error })
      await sleep(5)
    }
  }
  const loops = Array.from({ length: workers }, loop)
  return {
    outcomes,
    async stop() {
      running = false
      await Promise.all(loops)
    },
  }
}

const Item = defineModel('item', {
  id: column.string({ primaryKey: true }),
  group: column.string({ index: true }),
  n: column.int({ required: true, sortable: true }),
}, { defaultOrder: 'n' })

function describeErrors(outcomes: Outcome[]): string {
  return outcomes.map((o) => `${o.kind}@${o.master}: ${o.error?.message}`).slice(0, 5).join('; ')
}

describe('a master that holds records, not the index, dies and comes back', () => {
  it('fails only that master\'s keys, quickly and as unavailable, and recovers by itself', async () => {
    const store = new Store(redis, { prefix: `${db.prefix}records:` })
    const keys = store.keys('item')
    const indexMaster = await masterOf(keys.base + 'all')
    const victim = local.ports.find((port) => port !== indexMaster) as number
    const existing = await idsByMaster((id) => keys.record(id), 150, 'old')
    const fresh = await idsByMaster((id) => keys.record(id), 3000, 'new')
    for (const ids of existing.values()) {
      expect(ids.length).toBeGreaterThan(10)
      await Promise.all(ids.map((id, n) => Item.create(store, { id, group: 'old', n })))
    }

    const load = startLoad(store, Item, existing, fresh)
    let killed = 0
    let restarting = 0
    let recovered = 0
    try {
      await sleep(300)
      await local.kill(victim)
      killed = Date.now()
      await sleep(3000)

      // Queries read the index (alive) and then the listed records: those on the dead master fail.
      const query = await Item.query(store).filter({ group: 'old' }).all().catch((err: Error) => err)
      expect(query).toBeInstanceOf(Error)
      expect(isRedisUnavailable(query), String(query)).toBe(true)

      restarting = Date.now()
      await local.restart(victim)
      const victimFresh = fresh.get(victim) as string[]
      await recovers(() => Item.create(store, { id: victimFresh.pop() as string, group: 'after', n: 0 }))
      recovered = Date.now()
      await sleep(500)
    } finally {
      await load.stop()
      await local.restart(victim)
    }

    const outcomes = load.outcomes
    const others = outcomes.filter((o) => o.master !== victim)
    const duringOutage = outcomes.filter((o) => o.master === victim && o.start > killed && o.end < restarting)
    const afterRecovery = outcomes.filter((o) => o.master === victim && o.start > recovered)
    expect(others.length).toBeGreaterThan(200)
    expect(duringOutage.length).toBeGreaterThan(5)
    expect(afterRecovery.length).toBeGreaterThan(5)

    // Keys on the other masters: every load and create succeeded, before, during and after.
    expect(describeErrors(others.filter((o) => o.error))).toBe('')
    // Keys on the dead master: every operation failed as "unavailable", and fast.
    for (const o of duringOutage) {
      expect(o.error, `${o.kind} on the dead master succeeded`).not.toBeNull()
      expect(isRedisUnavailable(o.error), o.error?.message).toBe(true)
      expect(o.end - o.start).toBeLessThan(2000)
    }
    // Back: the same client reads and writes there again.
    expect(describeErrors(afterRecovery.filter((o) => o.error))).toBe('')
    // From starting the node to the first write that worked there (the node's own start-up and
    // its rejoining the cluster included).
    expect(recovered - restarting).toBeLessThan(15_000)

    // Its records were lost with it (no replica, no persistence): queries skip their dangling
    // index entries instead of failing or returning nulls.
    const listed = await Item.query(store).filter({ group: 'old' }).all()
    expect(listed.length).toBe(150 - (existing.get(victim)?.length ?? 0))
  }, 60_000)
})

describe('the master of a model\'s index dies and comes back', () => {
  it('fails creates and queries, keeps loads by id of records on the other masters, and recovers', async () => {
    const store = new Store(redis, { prefix: `${db.prefix}index:` })
    const keys = store.keys('item')
    const victim = await masterOf(keys.base + 'all')
    const existing = await idsByMaster((id) => keys.record(id), 90, 'old')
    for (const ids of existing.values()) await Promise.all(ids.map((id, n) => Item.create(store, { id, group: 'old', n })))
    const fresh = await idsByMaster((id) => keys.record(id), 300, 'new')
    const liveIds = local.ports.filter((port) => port !== victim).flatMap((port) => existing.get(port) ?? [])

    await local.kill(victim)
    try {
      const started = Date.now()
      for (const id of liveIds) expect(await Item.load(store, id), id).toMatchObject({ id })
      expect(Date.now() - started).toBeLessThan(2000)

      for (const port of local.ports) {
        const create = await Item.create(store, { id: fresh.get(port)?.pop() as string, group: 'new', n: 1 }).catch((err: Error) => err)
        expect(isRedisUnavailable(create), String(create)).toBe(true)
      }
      const query = await Item.query(store).count().catch((err: Error) => err)
      expect(isRedisUnavailable(query), String(query)).toBe(true)
    } finally {
      await local.restart(victim)
    }
    await recovers(() => Item.create(store, { id: fresh.get(victim)?.pop() as string, group: 'new', n: 2 }))
    for (const port of local.ports) await Item.create(store, { id: fresh.get(port)?.pop() as string, group: 'new', n: 3 })
    expect(await Item.query(store).filter({ group: 'new' }).count()).toBe(4)
  }, 60_000)
})

describe('the app while a master is down', () => {
  let app: FastifyInstance
  let prefix: string

  beforeAll(async () => {
    ;({ app, config: { redisPrefix: prefix } } = await buildTestApp({ ...db, connect: () => redis }, { REDIS_PREFIX: `${db.prefix}app:` }))
    return () => app.close()
  })

  async function create(): Promise<{ status: number; id?: string }> {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'on a shard', language: 'plaintext' } })
    return { status: res.statusCode, id: res.statusCode === 201 ? res.json<{ id: string }>().id : undefined }
  }

  it('serves pastes on live masters, answers 503 (never 500) for the dead one, and recovers', async () => {
    const indexMaster = await masterOf(`${prefix}{paste}:all`)
    const victim = local.ports.find((port) => port !== indexMaster) as number
    const byMaster = new Map<number, string[]>(local.ports.map((port) => [port, []]))
    while ([...byMaster.values()].some((ids) => ids.length < 3)) {
      const { status, id } = await create()
      expect(status).toBe(201)
      byMaster.get(await masterOf(`${prefix}paste:{${id}}`))?.push(id as string)
    }

    await local.kill(victim)
    try {
      const html = { accept: 'text/html' }
      for (const [port, ids] of byMaster) {
        for (const id of ids.slice(0, 3)) {
          for (const request of [{ url: `/${id}`, headers: html }, { url: `/${id}/raw` }, { url: `/api/pastes/${id}` }]) {
            const started = Date.now()
            const res = await app.inject(request)
            expect(res.statusCode, `${request.url} on ${port === victim ? 'the dead' : 'a live'} master`).toBe(port === victim ? 503 : 200)
            expect(Date.now() - started).toBeLessThan(2000)
            if (port === victim) expect(res.headers['retry-after']).toBe('5')
          }
        }
      }
      // Views of pastes on live masters keep working while those of the dead one fail.
      const views = await Promise.all([...byMaster].flatMap(([port, ids]) => ids.map(async (id) => ({ port, status: (await app.inject({ url: `/${id}`, headers: html })).statusCode }))))
      for (const { port, status } of views) expect(status).toBe(port === victim ? 503 : 200)
      // A create whose new id falls on the dead master fails; the others succeed. Never a 500.
      const statuses = await Promise.all(Array.from({ length: 12 }, async () => (await create()).status))
      expect(statuses.every((s) => s === 201 || s === 503), statuses.join()).toBe(true)
      expect(statuses).toContain(201)
      // Not ready while a master is down: every time, not by the luck of which node a PING meets.
      for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503)
    } finally {
      await local.restart(victim)
    }
    await recovers(async () => {
      const { status, id } = await create()
      if (status !== 201 || (await masterOf(`${prefix}paste:{${id}}`)) !== victim) throw new Error(`not yet (${status})`)
      const raw = await app.inject({ url: `/${id}/raw` })
      if (raw.statusCode !== 200) throw new Error(`raw answered ${raw.statusCode}`)
      const ready = await app.inject({ url: '/readyz' })
      if (ready.statusCode !== 200) throw new Error(`readyz answered ${ready.statusCode}`)
    })
    for (const id of byMaster.get(indexMaster) ?? []) expect((await app.inject({ url: `/${id}/raw` })).statusCode).toBe(200)
  }, 60_000)
})
