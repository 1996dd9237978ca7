// A real Redis for each test file: a throwaway redis-server on a free port with no persistence,
// killed afterwards. With REDIS_URL set, that server is used instead, under a unique key prefix,
// and only keys under that prefix are ever deleted: never flush a Redis this helper did not start.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'

export interface TestRedis {
  url: string
  prefix: string
  /** A client for the test's own use, closed in afterAll. */
  redis: Redis
  /** A new client with the app's fail-fast settings; the caller closes it. */
  connect(): Redis
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

/** Starts (or attaches to) a Redis for the current test file. */
export function useTestRedis(): TestRedis {
  const shared = process.env.REDIS_URL
  const state = {} as TestRedis & { child?: ChildProcess; port?: number }
  const clients: Redis[] = []

  beforeAll(async () => {
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
    const client = new Redis(state.url)
    clients.push(client)
    return client
  }
  state.clear = async () => {
    if (state.owned) {
      await state.redis.flushall()
      return
    }
    let cursor = '0'
    do {
      const [next, keys] = await state.redis.scan(cursor, 'MATCH', `${state.prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await state.redis.unlink(...keys)
    } while (cursor !== '0')
  }
  state.stop = async () => {
    if (!state.child || state.port === undefined) throw new Error('stop() needs a Redis this helper started')
    await stopRedisServer(state.child)
  }
  state.restart = async () => {
    if (state.port === undefined) throw new Error('restart() needs a Redis this helper started')
    state.child = await startRedisServer(state.port)
  }
  return state
}
