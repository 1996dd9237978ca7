// Page views answered before Fastify (src/routes/fastViews.ts), from the page cache or from
// Redis. app.inject() calls Fastify directly, so these go over HTTP to a listening app, and
// compare with what Fastify answers. On a Redis Cluster the cache is off; views from Redis hold.
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../src/model/index.js'
import { clusterMode, useTestRedis } from '../helpers/redis.js'
import type { TestApp } from '../helpers/app.js'
import { createPaste, FORM, HTML_ACCEPT, useApps, waitForStoredPage } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance
let server: TestApp
/** Requests that reached Fastify (its onRequest hooks), by URL. */
const reachedFastify: string[] = []

beforeAll(async () => {
  server = await build()
  app = server.app
  app.addHook('onRequest', async (request) => {
    reachedFastify.push(request.url)
  })
  await server.listen()
})

async function viewOverHttp(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${url}`, { headers: { accept: HTML_ACCEPT, ...headers } })
  const received: Record<string, string> = {}
  res.headers.forEach((value, name) => {
    received[name] = value
  })
  return { status: res.status, headers: received, body: await res.text() }
}

const views = (html: string) => Number(/<span class="num">(\d+)<\/span>/.exec(html)?.[1])
/** The page but its count and the padding that keeps its length (1 view, 2 views). */
const withoutCount = (html: string) => html.replace(/<span class="paste-views">.*?<\/div>/, 'N views')

async function cachedPaste() {
  const paste = await createPaste(app, { content: 'print("cached")\n', language: 'python' })
  await waitForStoredPage(db, paste.id)
  // The first view reads from Redis (through Fastify) and fills the cache.
  await viewOverHttp(`/${paste.id}`)
  return paste
}

/** GET `url` over HTTP and through Fastify: the same status, headers and bytes, but the date and count. */
async function expectSameAsFastify(target: FastifyInstance, base: string, url: string) {
  const before = reachedFastify.length
  const res = await fetch(`${base}${url}`, { headers: { accept: HTML_ACCEPT } })
  const fast = { status: res.status, headers: {} as Record<string, string>, body: await res.text() }
  res.headers.forEach((value, name) => {
    fast.headers[name] = value
  })
  if (target === app) expect(reachedFastify.length).toBe(before)
  const viaFastify = await target.inject({ url, headers: { accept: HTML_ACCEPT } })
  const { date: _a, connection: _c, 'keep-alive': _k, ...fastHeaders } = fast.headers
  const { date: _b, connection: _d, 'keep-alive': _l, ...fastifyHeaders } = viaFastify.headers
  expect(fast.status).toBe(200)
  expect(fastHeaders).toEqual(Object.fromEntries(Object.entries(fastifyHeaders).map(([k, v]) => [k, String(v)])))
  expect(withoutCount(fast.body)).toBe(withoutCount(viaFastify.body))
  expect(Buffer.byteLength(fast.body)).toBe(Number(fast.headers['content-length']))
  expect(views(viaFastify.body)).toBe(views(fast.body) + 1)
}

describe('page views before Fastify', () => {
  it(`answers from ${clusterMode ? 'Redis (the cache is off on a cluster)' : 'the cache'} what GET /:id through Fastify answers: status, headers and bytes, but the count`, async () => {
    const paste = await cachedPaste()
    await expectSameAsFastify(app, server.url, `/${paste.id}`)
  })

  it('answers from Redis what Fastify answers, with the cache off', async () => {
    const uncached = await build({ PAGE_CACHE_BYTES: '0' })
    await uncached.listen()
    const paste = await createPaste(app, { content: 'print("from redis")\n', language: 'python' })
    await waitForStoredPage(db, paste.id)
    await expectSameAsFastify(uncached.app, uncached.url, `/${paste.id}`)
  })

  it('leaves a burn paste to Fastify with its view already read: the warning, counted once', async () => {
    const paste = await createPaste(app, { content: 'once', burn: true })
    const res = await viewOverHttp(`/${paste.id}`)
    expect(res.status).toBe(200)
    expect(res.body).toContain(`action="/${paste.id}/reveal"`)
    expect(reachedFastify.at(-1)).toBe(`/${paste.id}`)
    const counters = new Store(db.redis, { prefix: db.prefix }).keys('paste').counters(paste.id)
    expect(await db.redis.hget(counters, 'views')).toBe('1')
  })

  it('counts every view, in the page and in Redis', async () => {
    const paste = await cachedPaste()
    const counts: number[] = []
    for (let i = 0; i < 5; i++) counts.push(views((await viewOverHttp(`/${paste.id}`)).body))
    expect(counts).toEqual([2, 3, 4, 5, 6])
    // The counts reach Redis within VIEW_COUNT_BATCH_MS; a page of this paste read from Redis
    // (not through the cache, which another app would not share) shows them.
    const { app: uncached } = await build({ PAGE_CACHE_BYTES: '0' })
    await expect.poll(async () => views((await uncached.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })).body)).toBeGreaterThanOrEqual(7)
  })

  it('leaves to Fastify the owner, HEAD, other paths and a paste that does not exist', async () => {
    const paste = await cachedPaste()
    const mine = await cachedPaste()
    const own = `/${mine.id}`
    const cookie = `owner_${mine.id}=${mine.deleteToken}`
    const before = reachedFastify.length
    // The owner's page shows the delete button: Fastify's route reads the cookie.
    expect((await viewOverHttp(own, { cookie })).body).toContain('Delete')
    await fetch(`${server.url}/${paste.id}`, { method: 'HEAD' })
    await viewOverHttp(`/${paste.id}?x=1`)
    await viewOverHttp(`/${paste.id}/`)
    await viewOverHttp('/AAAAAAAAAA')
    expect(reachedFastify.slice(before)).toEqual([own, `/${paste.id}`, `/${paste.id}?x=1`, `/${paste.id}/`, '/AAAAAAAAAA'])
  })

  it('serves nothing of a deleted paste', async () => {
    const paste = await cachedPaste()
    const deleted = await app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: FORM, payload: `token=${paste.deleteToken}` })
    expect(deleted.statusCode).toBeLessThan(400)
    expect((await viewOverHttp(`/${paste.id}`)).status).toBe(404)
  })

  it('answers GET /:id/raw as Fastify does, and leaves it If-None-Match, HEAD and burn pastes', async () => {
    const paste = await createPaste(app, { content: 'raw\r\nbytes\n', language: 'plaintext', expires: '1h', visibility: 'public' })
    for (const url of [`/${paste.id}/raw`, `/${paste.id}/raw`]) {
      const before = reachedFastify.length
      const res = await fetch(`${server.url}${url}`)
      const headers: Record<string, string> = {}
      res.headers.forEach((value, name) => {
        headers[name] = value
      })
      const body = Buffer.from(await res.arrayBuffer())
      expect(reachedFastify.length).toBe(before)
      const viaFastify = await app.inject({ url })
      const { date: _a, connection: _c, 'keep-alive': _k, ...fast } = headers
      const { date: _b, connection: _d, 'keep-alive': _l, ...fastify } = viaFastify.headers
      expect(res.status).toBe(200)
      expect(fast).toEqual(Object.fromEntries(Object.entries(fastify).map(([k, v]) => [k, String(v)])))
      expect(body).toEqual(viaFastify.rawPayload)
      expect(body.toString()).toBe('raw\r\nbytes\n')
    }
    const etag = String((await app.inject({ url: `/${paste.id}/raw` })).headers.etag)
    const before = reachedFastify.length
    expect((await fetch(`${server.url}/${paste.id}/raw`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    expect((await fetch(`${server.url}/${paste.id}/raw`, { method: 'HEAD' })).status).toBe(200)
    expect(reachedFastify.slice(before)).toEqual([`/${paste.id}/raw`, `/${paste.id}/raw`])

    const burn = await createPaste(app, { content: 'read me once', burn: true })
    const first = await fetch(`${server.url}/${burn.id}/raw`)
    expect([first.status, await first.text()]).toEqual([200, 'read me once'])
    expect(reachedFastify.at(-1)).toBe(`/${burn.id}/raw`)
    expect((await fetch(`${server.url}/${burn.id}/raw`)).status).toBe(404)
  })

  it('counts its views in /metrics under the route /:id', async () => {
    const paste = await cachedPaste()
    const metric = async () => {
      const text = (await app.inject({ url: '/metrics' })).body
      return Number(/redbin_paste_views_total (\d+)/.exec(text)?.[1])
    }
    const before = await metric()
    await viewOverHttp(`/${paste.id}`)
    expect(await metric()).toBe(before + 1)
  })
})
