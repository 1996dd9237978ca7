// A real Redis for each test file: a throwaway redis-server on a free port with no persistence,
// killed afterwards. With REDIS_URL set, that server is used instead, under a unique key prefix,
// and only keys under that prefix are ever deleted: never flush a Redis this helper did not start.
//
// With REDIS_CLUSTER_NODES set (npm run test:cluster sets it, see test/cluster/globalSetup.ts),
// the test runs against that Redis Cluster: `redis` and `connect()` give Cluster clients, and
// clear() deletes the prefix's keys on every master. Such a cluster is shared, so `owned` is false.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { loadConfig, type HostPort } from '../../src/config.js'
import { scanKeys as scanAllKeys } from '../../src/model/index.js'
import { connectCluster, connectRedis } from '../../src/redis/client.js'
import { LocalCluster } from './cluster.js'

export interface TestRedis {
  /** The server's URL; on a cluster, the URL of its first node (a single-server client there meets MOVED). */
  url: string
  prefix: string
  /** A client for the test's own use, closed in afterAll. A Cluster in cluster mode. */
  redis: Redis | Cluster
  /** A new client with ioredis' defaults (offline queue on), closed in afterAll. A Cluster in cluster mode. */
  connect(): Redis | Cluster
  /**
   * A new, connected client with the app's fail-fast settings (src/redis/client.ts), of the
   * kind production would use here: a Cluster in cluster mode. Closed in afterAll.
   */
  connectApp(): Promise<Redis | Cluster>
  /** The cluster's nodes when running against a Redis Cluster, else undefined. */
  clusterNodes: HostPort[] | undefined
  /** Stops the throwaway server (to test outages); restart() brings it back on the same port. */
  stop(): Promise<void>
  restart(): Promise<void>
  /** Deletes this test's keys (FLUSHALL only on a server this helper started). */
  clear(): Promise<void>
  /** True when this helper started the server, false on a shared REDIS_URL. */
  owned: boolean
}

export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

async function waitForPing(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    probe.on('error', () => {})
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return
    } catch (err) {
      probe.disconnect()
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 25))
    }
  }
}

export async function startRedisServer(port: number, extraArgs: string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'noeviction', '--loglevel', 'warning', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  )
  await waitForPing(`redis://127.0.0.1:${port}`)
  return child
}

export async function stopRedisServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGKILL')
  await exited
}

/** The cluster the tests run against (REDIS_CLUSTER_NODES), or undefined. */
export function testClusterNodes(): HostPort[] | undefined {
  const raw = process.env.REDIS_CLUSTER_NODES
  return raw ? loadConfig({ REDIS_CLUSTER_NODES: raw }).redisClusterNodes : undefined
}

/** True when this run uses a Redis Cluster (npm run test:cluster). */
export const clusterMode = testClusterNodes() !== undefined

/** Every key matching `pattern`, sorted (every master on a cluster). */
export async function scanKeys(redis: Redis | Cluster, pattern = '*'): Promise<string[]> {
  return (await scanAllKeys(redis, pattern)).sort()
}

/**
 * How many scripts a single Redis has run (EVALSHA and EVAL calls, from INFO commandstats: the
 * commands a script calls are counted apart). Counts every client's: compare before and after
 * on a server only the test uses, with its scripts loaded (a first EVALSHA fails, then EVAL).
 */
export async function scriptCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats')
  let calls = 0
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1])
  return calls
}

/** A Cluster client with ioredis' defaults (offline queue on, so it can be used before it is ready). */
function clusterClient(nodes: HostPort[]): Cluster {
  const client = new Cluster(nodes)
  client.on('error', () => {})
  return client
}

/**
 * Everything Redis holds under `prefix`: key names and every value, as text. Tests that must
 * find some secret nowhere (an encrypted paste's text or title) search this.
 */
export async function everythingStored(redis: Redis | Cluster, prefix: string): Promise<string> {
  const parts: string[] = []
  for (const key of await scanKeys(redis, `${prefix}*`)) {
    parts.push(key)
    const type = await redis.type(key)
    if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat())
    else if (type === 'zset') parts.push(...await redis.zrange(key, 0, -1))
    else if (type === 'set') parts.push(...await redis.smembers(key))
    else if (type === 'string') parts.push((await redis.get(key)) ?? '')
    else if (type === 'list') parts.push(...await redis.lrange(key, 0, -1))
    else throw new Error(`a ${type} key this scan cannot read: ${key}`)
  }
  return parts.join('\n')
}

export interface TestRedisOptions {
  /**
   * The cluster to use, asked in beforeAll (so a cluster started by an earlier beforeAll can
   * answer); by default REDIS_CLUSTER_NODES. Undefined: a single Redis.
   */
  clusterNodes?: () => HostPort[] | undefined
}

/** Starts (or attaches to) a Redis for the current test file. */
export function useTestRedis(options: TestRedisOptions = {}): TestRedis {
  const shared = process.env.REDIS_URL
  const state = {} as TestRedis & { child?: ChildProcess; port?: number }
  const clients: (Redis | Cluster)[] = []

  beforeAll(async () => {
    state.clusterNodes = options.clusterNodes ? options.clusterNodes() : testClusterNodes()
    if (state.clusterNodes) {
      const first = state.clusterNodes[0] as HostPort
      state.url = `redis://${first.host}:${first.port}`
      state.owned = false
      state.prefix = `test:${randomBytes(6).toString('hex')}:`
      state.redis = clusterClient(state.clusterNodes)
      clients.push(state.redis)
      await state.redis.ping() // so that clear() knows every master even if the test never used this client
      return
    }
    if (shared) {
      state.url = shared
      state.owned = false
    } else {
      state.port = await freePort()
      state.child = await startRedisServer(state.port)
      state.url = `redis://127.0.0.1:${state.port}`
      state.owned = true
    }
    state.prefix = `test:${randomBytes(6).toString('hex')}:`
    state.redis = new Redis(state.url)
    clients.push(state.redis)
  })

  afterAll(async () => {
    if (!state.owned && state.redis) await state.clear()
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())))
    if (state.child) await stopRedisServer(state.child)
  })

  state.connect = () => {
    const client = state.clusterNodes ? clusterClient(state.clusterNodes) : new Redis(state.url)
    clients.push(client)
    return client
  }
  state.connectApp = async () => {
    const client = state.clusterNodes ? await connectCluster(state.clusterNodes) : await connectRedis(state.url)
    clients.push(client)
    return client
  }
  state.clear = async () => {
    if (state.owned) {
      await state.redis.flushall()
      return
    }
    const client = state.redis
    if (client instanceof Cluster) {
      // Keys of different slots cannot go in one UNLINK, even on one node: one key per command.
      for (const node of client.nodes('master')) {
        let cursor = '0'
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${state.prefix}*`, 'COUNT', 1000)
          cursor = next
          await Promise.all(keys.map((key) => node.unlink(key)))
        } while (cursor !== '0')
      }
      return
    }
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${state.prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await client.unlink(...keys)
    } while (cursor !== '0')
  }
  state.stop = async () => {
    if (state.clusterNodes) throw new Error('stop() needs a single Redis this helper started (this run uses a shared cluster)')
    if (!state.child || state.port === undefined) throw new Error('stop() needs a Redis this helper started')
    await stopRedisServer(state.child)
  }
  state.restart = async () => {
    if (state.clusterNodes) throw new Error('restart() needs a single Redis this helper started (this run uses a shared cluster)')
    if (state.port === undefined) throw new Error('restart() needs a Redis this helper started')
    state.child = await startRedisServer(state.port)
  }
  return state
}

export interface TestCluster extends TestRedis {
  /** The cluster this file started, whose nodes it may kill and restart; undefined on a shared one. */
  local: LocalCluster | undefined
}

/**
 * A TestRedis on a Redis Cluster for this test file: the run's cluster under
 * `npm run test:cluster` (REDIS_CLUSTER_NODES), else a local 3-master cluster of its own. With
 * `own`, always a cluster of its own (needed to kill nodes without disturbing other files).
 */
export function useTestCluster({ own = false } = {}): TestCluster {
  let local: LocalCluster | undefined
  // Registered before useTestRedis's hooks: the cluster starts first and stops last.
  beforeAll(async () => {
    if (own || !testClusterNodes()) local = await LocalCluster.start(3)
  }, 60_000)
  afterAll(async () => {
    await local?.stop()
  })
  const db = useTestRedis({ clusterNodes: () => local?.nodes ?? testClusterNodes() })
  return Object.defineProperty(db as TestCluster, 'local', { get: () => local })
}
