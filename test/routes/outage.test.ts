// Redis goes away: every route that needs it answers 503 quickly (never 500, never a hang),
// routes that don't need it keep working, and the app heals by itself when Redis returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, expectNoStack, HTML_ACCEPT, multipart, useApps, waitUntil, type CreatedPaste } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance
let paste: CreatedPaste

beforeAll(async () => {
  // The helper's own client has no error listener: keep its reconnect attempts out of the output.
  db.redis.on('error', () => {})
  ;({ app } = await build())
  paste = await createPaste(app, { content: 'before the outage', visibility: 'public' })
})

afterAll(async () => {
  // Leave the server running for the helper's own cleanup, whatever a failed test left behind.
  if ((await app.inject({ url: '/readyz' })).statusCode !== 200) await db.restart().catch(() => {})
})

/** Injects and measures how long the answer took. */
async function timed(options: InjectOptions | string) {
  const started = performance.now()
  const res = await app.inject(options)
  return { res, ms: performance.now() - started }
}

describe('while Redis is down', () => {
  beforeAll(async () => {
    await db.stop()
  })

  it('GET /readyz answers 503 within a second, and /healthz still 200', async () => {
    const { res, ms } = await timed('/readyz')
    expect(res.statusCode).toBe(503)
    expect(ms).toBeLessThan(1000)
    expect((await app.inject('/healthz')).statusCode).toBe(200)
  })

  it('page routes answer a 503 HTML page within a second, never 500, with no stack trace', async () => {
    const form = await multipart({ content: 'x' })
    const requests: InjectOptions[] = [
      { url: `/${paste.id}` },
      { url: '/' },
      { url: `/?fork=${paste.id}` },
      { url: '/pastes' },
      { method: 'POST', url: `/${paste.id}/reveal` },
      { method: 'POST', url: `/${paste.id}/delete`, headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${paste.deleteToken}` },
      { method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'content=x' },
      { method: 'POST', url: '/', ...form },
    ]
    for (const request of requests) {
      const { res, ms } = await timed({ ...request, headers: { accept: HTML_ACCEPT, ...request.headers } })
      const what = `${request.method ?? 'GET'} ${request.url}`
      expect(res.statusCode, what).toBe(503)
      expect(ms, what).toBeLessThan(1000)
      expect(res.headers['content-type'], what).toMatch(/^text\/html/)
      expect(res.headers['retry-after'], what).toBeDefined()
      expect(res.body, what).toContain('Temporarily unavailable')
      expectNoStack(res)
    }
  })

  it('the API answers 503 JSON {error} within a second', async () => {
    const requests: InjectOptions[] = [
      { url: `/api/pastes/${paste.id}` },
      { url: '/api/pastes' },
      { method: 'POST', url: '/api/pastes', payload: { content: 'x' } },
      { method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } },
    ]
    for (const request of requests) {
      const { res, ms } = await timed(request)
      const what = `${request.method ?? 'GET'} ${request.url}`
      expect(res.statusCode, what).toBe(503)
      expect(ms, what).toBeLessThan(1000)
      expect(res.json(), what).toEqual({ error: expect.any(String) })
      expectNoStack(res)
    }
  })

  it('raw uploads and raw reads from curl answer 503 text within a second', async () => {
    for (const request of [
      { url: `/${paste.id}/raw` },
      { method: 'HEAD', url: `/${paste.id}/raw` },
      { url: `/${paste.id}/download` },
      { method: 'PUT', url: '/notes.txt', payload: 'x' },
      { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'x' },
    ] as InjectOptions[]) {
      const { res, ms } = await timed(request)
      expect(res.statusCode, String(request.url)).toBe(503)
      expect(ms).toBeLessThan(1000)
      expectNoStack(res)
    }
  })

  it('malformed ids still get 404: they never reach Redis', async () => {
    for (const url of ['/short', '/AAAA.AAAAA', '/AAAAAAAAAAA/raw', '/x/download', '/api/pastes/nope', '/%3Cscript%3E']) {
      const res = await app.inject({ url, headers: { accept: HTML_ACCEPT } })
      expect(res.statusCode, url).toBe(404)
    }
    expect((await app.inject({ method: 'POST', url: '/short/reveal' })).statusCode).toBe(404)
    expect((await app.inject({ method: 'DELETE', url: '/api/pastes/nope', headers: { authorization: 'Bearer x' } })).statusCode).toBe(404)
  })

  it('routes that need no Redis keep working: input errors are still 400, static files and OpenAPI still served', async () => {
    expect((await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: 1 } })).statusCode).toBe(400)
    expect((await app.inject('/openapi.json')).statusCode).toBe(200)
    expect((await app.inject('/robots.txt')).statusCode).toBe(200)
  })

  it('counts Redis errors in /metrics', async () => {
    const text = (await app.inject('/metrics')).body
    const errors = Number(/^redbin_redis_errors_total (\d+)$/m.exec(text)?.[1])
    expect(errors).toBeGreaterThan(0)
    expect(text).toContain('status="503"')
    expect(text).not.toContain('status="500"')
  })
})

describe('when Redis returns', () => {
  it('the app recovers by itself: ready again, creates and serves pastes', async () => {
    await db.restart()
    await waitUntil(async () => (await app.inject('/readyz')).statusCode === 200, 10_000, 50)
    const fresh = await createPaste(app, { content: 'after the outage' })
    const page = await app.inject({ url: `/${fresh.id}`, headers: { accept: HTML_ACCEPT } })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('after the outage')
    expect((await app.inject(`/${fresh.id}/raw`)).body).toBe('after the outage')
  })
})
