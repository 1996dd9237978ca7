// The lean HMGET connection (src/redis/HashReader.ts) against a redis-server of this file's own:
// the same answers as ioredis, replies split across socket reads, errors, authentication, and
// every way the connection can fail. Always a single Redis: the reader is never used on a cluster.
import { setTimeout as sleep } from 'node:timers/promises'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ChildProcess } from 'node:child_process'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { HASH_READER_NAME, HashReader, HashReplyError, type HashReaderOptions } from '../../src/redis/HashReader.js'
import { freePort, startRedisServer, stopRedisServer } from '../helpers/redis.js'

let port: number
let server: ChildProcess
let redis: Redis
const readers: HashReader[] = []

beforeAll(async () => {
  port = await freePort()
  server = await startRedisServer(port)
  redis = new Redis({ port })
})

afterEach(() => {
  for (const reader of readers.splice(0)) reader.close()
})

afterAll(async () => {
  redis.disconnect()
  await stopRedisServer(server)
})

async function until(condition: () => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await sleep(5)
  }
}

/** A server of its own that asks for the password s3cret (set after start: the helper's ping has none). */
async function passwordServer() {
  const authPort = await freePort()
  const secured = await startRedisServer(authPort)
  const setup = new Redis({ port: authPort })
  await setup.config('SET', 'requirepass', 's3cret')
  setup.disconnect()
  return { authPort, secured }
}

async function openReader(target: ConstructorParameters<typeof HashReader>[0] = { port }, options: HashReaderOptions = {}) {
  const reader = new HashReader(target, options)
  readers.push(reader)
  await until(() => reader.ready)
  return reader
}

describe('HashReader', () => {
  it('answers HMGET as ioredis does: Buffers, null for a missing field, all null for a missing key', async () => {
    await redis.hset('h:1', { title: 'héllo', body: Buffer.from([0, 13, 10, 255, 36, 42]), empty: '' })
    const reader = await openReader()
    const fields = ['title', 'body', 'empty', 'absent']
    expect(await reader.hmget('h:1', fields)).toEqual(await redis.hmgetBuffer('h:1', ...fields))
    expect(await reader.hmget('h:none', fields)).toEqual([null, null, null, null])
    expect((await reader.hmget('h:1', fields))[0]?.toString()).toBe('héllo')
  })

  it('keeps values byte-exact and replies in order when they cross socket reads: 300 reads of 11 KB at once, and 1 MiB', async () => {
    const values = Array.from({ length: 300 }, (_, i) => Buffer.alloc(11_000 + i, i % 251))
    await Promise.all(values.map((value, i) => redis.hset(`h:page:${i}`, 'page', value, 'n', String(i))))
    const large = Buffer.alloc(1 << 20)
    for (let i = 0; i < large.length; i++) large[i] = (i * 7) & 255
    await redis.hset('h:large', 'page', large)
    const reader = await openReader()
    const fields = ['n', 'page']
    const replies = await Promise.all(values.map((_, i) => reader.hmget(`h:page:${i}`, fields)))
    replies.forEach(([n, page], i) => {
      expect(n?.toString()).toBe(String(i))
      expect(page?.equals(values[i]!)).toBe(true)
    })
    const [, read] = await reader.hmget('h:large', fields)
    expect(read?.equals(large)).toBe(true)
  })

  it('sends the commands of one turn in one write at its end', async () => {
    await redis.hset('h:turn', 'f', 'v')
    const reader = await openReader()
    const { commands, writes } = reader.stats
    const replies = [reader.hmget('h:turn', ['f']), reader.hmget('h:turn', ['f'])]
    await new Promise((resolve) => setImmediate(resolve))
    expect(reader.stats).toEqual({ commands: commands + 2, writes: writes + 1 })
    await Promise.all(replies)
    await reader.hmget('h:turn', ['f'])
    expect(reader.stats).toEqual({ commands: commands + 3, writes: writes + 2 })
  })

  it('with batchMs, holds the commands of later turns within that long of a write and sends them together; one after a quiet spell goes at once', async () => {
    await redis.hset('h:batch', 'f', 'v')
    const reader = await openReader({ port }, { batchMs: 500 })
    // Past the window of the handshake's write.
    await sleep(550)
    const { commands, writes } = reader.stats
    const first = reader.hmget('h:batch', ['f'])
    await new Promise((resolve) => setImmediate(resolve))
    expect(reader.stats).toEqual({ commands: commands + 1, writes: writes + 1 })
    expect((await first)[0]?.toString()).toBe('v')
    // Within 500 ms of that write: three commands in three turns wait for the window's end.
    const later: Promise<(Buffer | null)[]>[] = []
    for (let i = 0; i < 3; i++) {
      later.push(reader.hmget('h:batch', ['f']))
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(reader.stats).toEqual({ commands: commands + 4, writes: writes + 1 })
    expect((await Promise.all(later)).map(([value]) => value?.toString())).toEqual(['v', 'v', 'v'])
    expect(reader.stats).toEqual({ commands: commands + 4, writes: writes + 2 })
  })

  it('fails only the command Redis refuses, with its error', async () => {
    await redis.set('h:string', 'not a hash')
    await redis.hset('h:2', 'a', '1')
    const reader = await openReader()
    const [refused, answered] = await Promise.allSettled([reader.hmget('h:string', ['a']), reader.hmget('h:2', ['a'])])
    expect(refused.status).toBe('rejected')
    expect((refused as PromiseRejectedResult).reason).toBeInstanceOf(HashReplyError)
    expect((refused as PromiseRejectedResult).reason.message).toMatch(/^WRONGTYPE/)
    expect(answered).toEqual({ status: 'fulfilled', value: [Buffer.from('1')] })
  })

  it('runs a script by its SHA: nested arrays, integers, bulk strings and nil as ioredis\'s Buffer replies; NOSCRIPT until Redis has it', async () => {
    const lua = "return {KEYS[1], tonumber(ARGV[1]) + 1, false, {ARGV[2], {}, {7, ARGV[3]}}, {}}"
    const sha = String(await redis.script('LOAD', lua))
    const reader = await openReader()
    const args = ['k:1', 41, 'x'.repeat(70_000), 'héllo'] as const
    const replies = await Promise.all([1, 2, 3].map(() => reader.evalsha(sha, 1, args)))
    const expected = await redis.callBuffer('EVALSHA', sha, 1, ...args)
    expect(expected).toEqual([Buffer.from('k:1'), 42, null, [Buffer.from('x'.repeat(70_000)), [], [7, Buffer.from('héllo')]], []])
    for (const reply of replies) expect(reply).toEqual(expected)
    const unknown = reader.evalsha('0'.repeat(40), 0, [])
    await expect(unknown).rejects.toBeInstanceOf(HashReplyError)
    await expect(unknown).rejects.toThrow(/^NOSCRIPT/)
    // The connection goes on.
    expect(await reader.evalsha(sha, 1, args)).toEqual(expected)
  })

  it('lets go of a reply once it is settled, while later commands are still in flight', async () => {
    // A full collection on demand: `gc` from a context made after --expose-gc is set.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    await redis.hset('h:gc', 'page', Buffer.alloc(64 * 1024, 120))
    // A script that writes: CLIENT PAUSE WRITE holds it, and lets the HMGET before it through.
    const sha = String(await redis.script('LOAD', "redis.call('SET', KEYS[1], '1') return 1"))
    const reader = await openReader()
    await redis.client('PAUSE', 1000, 'WRITE')
    try {
      // Sent together: the HMGET is answered, the script after it waits for the pause to end.
      let reply: WeakRef<object> | undefined
      const read = reader.hmget('h:gc', ['page']).then((values) => {
        reply = new WeakRef(values)
      })
      const held = reader.evalsha(sha, 1, ['gc:written'])
      await read
      const before = await Promise.race([held.then(() => 'answered'), sleep(50).then(() => 'in flight')])
      expect(before).toBe('in flight')
      gc()
      expect(reply?.deref()).toBeUndefined()
      await redis.client('UNPAUSE')
      expect(await held).toBe(1)
    } finally {
      await redis.client('UNPAUSE')
    }
  })

  it('authenticates and selects the database of the target, and names its connection', async () => {
    const { authPort, secured } = await passwordServer()
    try {
      const admin = new Redis({ port: authPort, password: 's3cret', db: 3 })
      await admin.hset('h:db3', 'a', 'three')
      const reader = await openReader({ port: authPort, password: 's3cret', db: 3 })
      expect(await reader.hmget('h:db3', ['a'])).toEqual([Buffer.from('three')])
      expect(await admin.client('LIST')).toContain(`name=${HASH_READER_NAME}`)
      admin.disconnect()
    } finally {
      await stopRedisServer(secured)
    }
  })

  it('is never ready with a wrong password, and says why', async () => {
    const { authPort, secured } = await passwordServer()
    try {
      const errors: Error[] = []
      const reader = new HashReader({ port: authPort, password: 'wrong' }, { onError: (err) => errors.push(err) })
      readers.push(reader)
      await until(() => errors.length > 0)
      expect(reader.ready).toBe(false)
      expect(errors[0]?.message).toMatch(/WRONGPASS|invalid/i)
      await expect(reader.hmget('h:1', ['a'])).rejects.toThrow(/not connected/)
    } finally {
      await stopRedisServer(secured)
    }
  })

  it('fails what is in flight when its connection is killed, then connects again', async () => {
    await redis.hset('h:3', 'a', '1')
    const reader = await openReader()
    await redis.client('PAUSE', 300, 'ALL')
    // Its outcome is taken at once: the kill may fail it before the KILL's own reply is back.
    const inFlight = reader.hmget('h:3', ['a']).then(() => 'answered', (err: Error) => err.message)
    await sleep(20)
    await redis.client('KILL', 'SKIPME', 'yes', 'TYPE', 'normal')
    expect(await inFlight).toMatch(/connection lost/)
    expect(reader.ready).toBe(false)
    await until(() => reader.ready)
    expect(await reader.hmget('h:3', ['a'])).toEqual([Buffer.from('1')])
  })

  it('gives up on a Redis that does not answer within its timeout, and recovers once it does', async () => {
    await redis.hset('h:4', 'a', '1')
    const reader = await openReader({ port }, { timeoutMs: 100 })
    await redis.client('PAUSE', 600, 'ALL')
    // Only the timeout fails it so: once the pause is over, Redis would have answered.
    await expect(reader.hmget('h:4', ['a'])).rejects.toThrow(/no reply from Redis in 100 ms/)
    await until(() => reader.ready)
    await sleep(600)
    expect(await reader.hmget('h:4', ['a'])).toEqual([Buffer.from('1')])
  })

  it('connects again after Redis restarts', async () => {
    const ownPort = await freePort()
    let own = await startRedisServer(ownPort)
    try {
      const reader = await openReader({ port: ownPort })
      await stopRedisServer(own)
      await until(() => !reader.ready)
      await expect(reader.hmget('h:5', ['a'])).rejects.toThrow(/not connected/)
      own = await startRedisServer(ownPort)
      await until(() => reader.ready)
      expect(await reader.hmget('h:5', ['a'])).toEqual([null])
    } finally {
      await stopRedisServer(own)
    }
  })

  it('fails what is in flight on close, and stays closed', async () => {
    const reader = await openReader()
    await redis.client('PAUSE', 200, 'ALL')
    const inFlight = reader.hmget('h:1', ['a']).then(() => 'answered', (err: Error) => err.message)
    await sleep(20)
    reader.close()
    expect(await inFlight).toMatch(/closed/)
    await sleep(1200)
    expect(reader.ready).toBe(false)
  })
})
