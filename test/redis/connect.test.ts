import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import type { Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { connectRedis } from '../../src/redis/client.js'
import { openRedis } from '../../src/redis/connect.js'
import { useTestRedis } from '../helpers/redis.js'

const testRedis = useTestRedis()
const dataDirs: string[] = []

afterAll(async () => {
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'redbin-connect-'))
  dataDirs.push(dir)
  return dir
}

describe('openRedis', () => {
  it('connects to REDIS_URL when it is set', async () => {
    const connection = await openRedis(loadConfig({ REDIS_URL: testRedis.url }))
    expect(connection.embedded).toBeUndefined()
    expect(await connection.redis.ping()).toBe('PONG')
    await connection.close()
    await expect(connection.redis.ping()).rejects.toThrow()
  })

  it('starts an embedded redis-server in DATA_DIR without REDIS_URL, and stops it on close', async () => {
    const dataDir = await tempDataDir()
    const connection = await openRedis(loadConfig({ DATA_DIR: dataDir }))
    expect(connection.embedded?.socketPath).toBe(join(dataDir, 'redis.sock'))
    expect(await connection.redis.ping()).toBe('PONG')
    await connection.close()
    await expect(connection.redis.ping()).rejects.toThrow()
    expect(() => process.kill(connection.embedded?.pid ?? -1, 0)).toThrow()
  })

  // Connecting to a real cluster: test/cluster/connect.test.ts.
  it('refuses REDIS_CLUSTER_NODES together with REDIS_URL instead of picking one', async () => {
    await expect(openRedis(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_URL: testRedis.url }))).rejects.toThrow(/either REDIS_CLUSTER_NODES or REDIS_URL/)
  })

  it('fails fast when no node of REDIS_CLUSTER_NODES answers', async () => {
    const started = Date.now()
    await expect(openRedis(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:1,127.0.0.1:2' }))).rejects.toThrow(/None of startup nodes is available/)
    expect(Date.now() - started).toBeLessThan(3000)
  })
})

describe('connectRedis', () => {
  it('sends commands issued together in one write', async () => {
    await withClient(async (client) => {
      const keys = Array.from({ length: 20 }, (_, i) => `${testRedis.prefix}coalesced:${i}`)
      await Promise.all(keys.map((key, i) => client.set(key, String(i))))
      const { writes } = watchWrites(client)
      const values = await Promise.all(keys.map((key) => client.get(key)))
      expect(values).toEqual(keys.map((_, i) => String(i)))
      expect(writes()).toBe(1)
      // Later commands are written too, never left held.
      expect(await client.get(keys[0] ?? '')).toBe('0')
      expect(writes()).toBe(2)
    })
  })
})

describe('connectRedis: a turn with binary arguments, and the end of a connection', () => {
  it('writes strings and a binary argument of one turn in one write, the bytes intact', async () => {
    await withClient(async (client) => {
      const { writes } = watchWrites(client)
      const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256))
      const [a, b, c] = ['a', 'b', 'c'].map((name) => `${testRedis.prefix}mixed:${name}`) as [string, string, string]
      await Promise.all([client.set(a, 'before'), client.set(b, bytes), client.set(c, 'after')])
      expect(writes()).toBe(1)
      expect((await client.getBuffer(b))?.equals(bytes)).toBe(true)
      expect(await client.mget(a, c)).toEqual(['before', 'after'])
    })
  })

  it('writes a large binary argument as it is, never a copy, in scripts too', async () => {
    await withClient(async (client) => {
      const { chunks } = watchWrites(client)
      const bytes = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 13) % 256))
      const small = Buffer.from([0, 1, 2, 255])
      const key = `${testRedis.prefix}parts`
      client.defineCommand('setBoth', { numberOfKeys: 1, lua: "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('APPEND', KEYS[1], ARGV[2])" })
      const setBoth = (client as unknown as { setBoth: (...args: unknown[]) => Promise<number> }).setBoth.bind(client)
      // EVAL the first time on this connection, EVALSHA the second: both written in parts.
      expect(await setBoth(key, bytes, small)).toBe(100_004)
      expect(await setBoth(key, bytes, '')).toBe(100_000)
      await client.set(`${key}:plain`, bytes)
      expect(chunks().filter((chunk) => chunk === bytes)).toHaveLength(3)
      expect((await client.getBuffer(key))?.equals(bytes)).toBe(true)
      expect((await client.getBuffer(`${key}:plain`))?.equals(bytes)).toBe(true)
    })
  })

  it('writes what the turn holds before the socket ends, and nothing to a socket destroyed meanwhile (ioredis sends the command again on its next connection)', async () => {
    await withClient(async (client) => {
      const { socket, writes } = watchWrites(client)
      client.get(`${testRedis.prefix}ending`).catch(() => {})
      expect(writes()).toBe(0)
      socket.end()
      expect(writes()).toBe(1)
    })
    await withClient(async (client) => {
      const { socket, writes } = watchWrites(client)
      const retried = client.get(`${testRedis.prefix}destroyed`)
      socket.destroy()
      expect(await retried).toBeNull()
      expect(writes()).toBe(0)
      expect(client.stream).not.toBe(socket)
    })
  })
})

/** A connected client for `test`, disconnected after it. */
async function withClient(test: (client: Redis) => Promise<void>): Promise<void> {
  const client = await connectRedis(testRedis.url)
  try {
    await client.ping()
    await test(client)
  } finally {
    client.disconnect()
  }
}

/** Counts the writes the client's current socket makes from now on: what a net.Socket calls for each write, one chunk or several at once. */
function watchWrites(client: Redis) {
  const socket = client.stream as unknown as Socket & { _write: (chunk: unknown, ...rest: unknown[]) => void; _writev: (chunks: { chunk: unknown }[], ...rest: unknown[]) => void }
  const single = vi.spyOn(socket, '_write')
  const batched = vi.spyOn(socket, '_writev')
  return {
    socket,
    writes: () => single.mock.calls.length + batched.mock.calls.length,
    /** What those writes were given, chunk by chunk. */
    chunks: () => [...single.mock.calls.map(([chunk]) => chunk), ...batched.mock.calls.flatMap(([list]) => list.map(({ chunk }) => chunk))],
  }
}

describe('connectRedis during an outage', () => {
  it('fails fast while Redis is down and recovers by itself when it returns', async ({ skip }) => {
    if (!testRedis.owned) skip() // needs a server this test may stop
    const client = await connectRedis(testRedis.url)
    try {
      await client.set('before', '1')
      await testRedis.stop()

      const started = Date.now()
      await expect(client.get('before')).rejects.toThrow()
      expect(Date.now() - started).toBeLessThan(1500)

      await testRedis.restart()
      const deadline = Date.now() + 5000
      for (;;) {
        const reply = await client.ping().catch((err: Error) => err)
        if (reply === 'PONG') break
        if (Date.now() > deadline) throw reply
        await new Promise((r) => setTimeout(r, 50))
      }
    } finally {
      client.disconnect()
    }
  })
})
