// The page cache's connection pair (src/redis/TrackingConnections.ts) against a real Redis:
// what ioredis hands over of an invalidation message, and when the pair says it is up.
import { afterEach, describe, expect, it } from 'vitest'
import { connectRedis } from '../../src/redis/client.js'
import { TrackingConnections } from '../../src/redis/TrackingConnections.js'
import { useTestRedis } from '../helpers/redis.js'

const db = useTestRedis({ clusterNodes: () => undefined })
const closers: (() => Promise<unknown>)[] = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

async function openPair() {
  const client = await connectRedis(db.url)
  const tracking = new TrackingConnections(client)
  closers.push(async () => {
    await tracking.close()
    await client.quit()
  })
  const heard: (string[] | null)[] = []
  tracking.on('invalidate', (keys) => heard.push(keys))
  await tracking.start()
  return { tracking, heard }
}

async function until(check: () => boolean) {
  const deadline = Date.now() + 2000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('not within 2 s')
    await new Promise((r) => setTimeout(r, 5))
  }
}

describe('the tracking connection pair', () => {
  it('is up once started, with the reader tracked and redirected to the subscriber', async () => {
    const { tracking } = await openPair()
    expect(tracking.up).toBe(true)
    const [, flags, , redirect] = (await tracking.reader.client('TRACKINGINFO')) as unknown as [string, string[], string, number]
    expect(flags).toEqual(['on'])
    // The connection it redirects to is the subscriber (flags=P in CLIENT LIST).
    const subscriber = String(await db.redis.client('LIST')).split('\n').find((line) => / flags=P /.test(line))
    expect(subscriber).toContain(`id=${redirect} `)
  })

  it('hands over the invalidated keys as they are named, commas and spaces included', async () => {
    const { tracking, heard } = await openPair()
    const key = `${db.prefix}a,b c`
    await db.redis.set(key, '1')
    await tracking.reader.get(key)
    await db.redis.set(key, '2')
    await until(() => heard.length > 0)
    expect(heard).toEqual([[key]])
  })

  it('hands over null when the database is flushed', async () => {
    const { heard } = await openPair()
    await db.redis.flushall()
    await until(() => heard.length > 0)
    expect(heard).toEqual([null])
  })

  it('tells of a key only if the reader read it since its last invalidation (default mode, not BCAST)', async () => {
    const { tracking, heard } = await openPair()
    const read = `${db.prefix}read`
    await db.redis.set(`${db.prefix}unread`, '1')
    await db.redis.set(read, '1')
    await tracking.reader.get(read)
    await db.redis.set(`${db.prefix}unread`, '2')
    await db.redis.set(read, '2')
    await db.redis.set(read, '3')
    await until(() => heard.length > 0)
    await new Promise((r) => setTimeout(r, 50))
    expect(heard).toEqual([[read]])
  })

  it('goes down when it is closed, and closes both its connections', async () => {
    const clients = async () => String(await db.redis.client('LIST')).trim().split('\n').length
    const before = await clients()
    const { tracking } = await openPair()
    expect(await clients()).toBe(before + 3) // the app's client and the pair
    const downs: number[] = []
    tracking.on('down', () => downs.push(1))
    await tracking.close()
    expect(tracking.up).toBe(false)
    expect(downs).toHaveLength(1)
    // QUIT is answered before the server drops the connection: let it.
    for (let i = 0; i < 100 && (await clients()) !== before + 1; i++) await new Promise((r) => setTimeout(r, 10))
    expect(await clients()).toBe(before + 1)
  })
})
