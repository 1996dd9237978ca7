// Operations: liveness, readiness and Prometheus metrics (the outage cases are in outage.test.ts).
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

/** The value of one Prometheus sample, by its full name and labels. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

describe('health', () => {
  it('GET /healthz answers 200 while the process runs', async () => {
    const res = await app.inject({ url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
    expect(res.headers['cache-control']).toBe('no-store')
  })

  it('GET /readyz answers 200 when Redis answers PING', async () => {
    const res = await app.inject({ url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ok' })
  })
})

describe('GET /metrics', () => {
  it('is Prometheus text with requests and latency by route, creates, views and event-loop delay', async () => {
    const paste = await createPaste(app, { content: 'metrics' })
    await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
    await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
    await app.inject({ url: `/${paste.id}/raw` })
    await app.inject({ url: '/AAAAAAAAAA' })

    const res = await app.inject({ url: '/metrics' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = res.body

    expect(sample(text, 'redbin_pastes_created_total')).toBe(1)
    expect(sample(text, 'redbin_paste_views_total')).toBe(2)
    expect(sample(text, 'redbin_redis_errors_total')).toBe(0)
    expect(text).toContain('# TYPE redbin_http_requests_total counter')
    expect(sample(text, 'redbin_http_requests_total{method="POST",route="/api/pastes",status="201"}')).toBe(1)
    expect(sample(text, 'redbin_http_requests_total{method="GET",route="/:id",status="200"}')).toBe(2)
    expect(sample(text, 'redbin_http_requests_total{method="GET",route="/:id/raw",status="200"}')).toBe(1)
    expect(sample(text, 'redbin_http_requests_total{method="GET",route="/:id",status="404"}')).toBe(1)
    // Route patterns, never raw URLs: ids must not explode the label set.
    expect(text).not.toContain(paste.id)

    expect(text).toContain('# TYPE redbin_http_request_duration_seconds histogram')
    expect(sample(text, 'redbin_http_request_duration_seconds_count{method="GET",route="/:id"}')).toBe(3)
    expect(sample(text, 'redbin_http_request_duration_seconds_bucket{method="GET",route="/:id",le="+Inf"}')).toBe(3)
    expect(sample(text, 'redbin_http_request_duration_seconds_sum{method="GET",route="/:id"}')).toBeGreaterThan(0)

    expect(text).toMatch(/^redbin_event_loop_delay_seconds\{quantile="0\.99"\} \d/m)
    expect(text).toMatch(/^redbin_event_loop_delay_max_seconds \d/m)
  })

  it('has cumulative histogram buckets', async () => {
    const text = (await app.inject({ url: '/metrics' })).body
    const buckets = text.split('\n')
      .filter((l) => l.startsWith('redbin_http_request_duration_seconds_bucket{method="GET",route="/:id",'))
      .map((l) => Number(l.split(' ').pop()))
    expect(buckets.length).toBeGreaterThan(5)
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b))
  })

  it('counts burns', async () => {
    const before = sample((await app.inject({ url: '/metrics' })).body, 'redbin_pastes_burned_total') ?? 0
    const paste = await createPaste(app, { content: 'x', burn: true })
    await app.inject({ method: 'POST', url: `/${paste.id}/reveal` })
    expect(sample((await app.inject({ url: '/metrics' })).body, 'redbin_pastes_burned_total')).toBe(before + 1)
  })
})

describe('static assets and small routes', () => {
  it('serves /static/ assets with long-lived caching, and no external resources in pages', async () => {
    const home = (await app.inject({ url: '/' })).body
    const css = /href="(\/static\/style\.css\?v=[^"]+)"/.exec(home)?.[1]
    expect(css).toBeDefined()
    const res = await app.inject({ url: css ?? '' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toMatch(/max-age=31536000/)
    expect(home).not.toMatch(/<(script|img|iframe|audio|video|source)\b[^>]*\ssrc="(https?:)?\/\//)
    expect(home).not.toMatch(/<link\b(?![^>]*rel="canonical")[^>]*href="(https?:)?\/\//)
  })

  it('serves robots.txt that keeps crawlers off raw and API URLs', async () => {
    const res = await app.inject({ url: '/robots.txt' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('Disallow: /api/')
    // Edit forms and diffs are computed per request: not for crawlers.
    expect(res.body).toContain('Disallow: /*/edit')
    expect(res.body).toContain('Disallow: /*/diff')
    expect(res.body).toContain('Disallow: /diff/')
  })
})
