// Expiry with real one-second expiries: visible before, gone everywhere after.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, idFromUrl, useApps, waitUntil } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

type List = { items: { id: string }[]; total: number }
const apiList = async (query = '') => (await app.inject({ url: `/api/pastes${query}` })).json<List>()

describe('a paste with expires=1', () => {
  it('is visible before it expires and gone from the page, raw, API, lists and totals after', async () => {
    const keeper = await createPaste(app, { content: 'stays', title: 'keeper', language: 'go', visibility: 'public' })
    const viaJson = await createPaste(app, { content: 'short-lived json', title: 'json-expiring', language: 'go', visibility: 'public', expires: 1 })
    const viaForm = await app.inject({
      method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'content=short-lived%20form&title=form-expiring&language=go&visibility=public&expires=1',
    })
    const viaPut = await app.inject({ method: 'PUT', url: '/put-expiring.go?expires=1&visibility=public', payload: 'short-lived put' })
    expect(viaForm.statusCode).toBe(201)
    expect(viaPut.statusCode).toBe(201)
    for (const res of [viaForm, viaPut]) {
      const expires = Date.parse(String(res.headers['x-expires']))
      expect(expires - Date.now()).toBeLessThanOrEqual(1000)
    }
    const ids = [viaJson.id, idFromUrl(viaForm.body), idFromUrl(viaPut.body)]

    // Before: everywhere.
    for (const id of ids) {
      expect((await app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT } })).statusCode).toBe(200)
      expect((await app.inject({ url: `/${id}/raw` })).statusCode).toBe(200)
      expect((await app.inject({ url: `/api/pastes/${id}` })).statusCode).toBe(200)
    }
    const before = await apiList('?limit=100')
    expect(before.total).toBe(4)
    expect(before.items.map((i) => i.id)).toEqual(expect.arrayContaining([...ids, keeper.id]))
    expect((await apiList('?language=go')).total).toBe(4)
    const raw = await app.inject({ url: `/${viaJson.id}/raw` })
    expect(Number(/max-age=(\d+)/.exec(String(raw.headers['cache-control']))?.[1])).toBeLessThanOrEqual(1)
    expect((await app.inject({ url: '/pastes' })).body).toContain('json-expiring')

    // After: nowhere (polling, so the test takes as long as the expiry and no longer).
    await waitUntil(async () => {
      const answers = await Promise.all(ids.map((id) => app.inject({ url: `/${id}/raw` })))
      return answers.every((r) => r.statusCode === 404)
    }, 4000)
    for (const id of ids) {
      const page = await app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT } })
      expect(page.statusCode).toBe(404)
      expect(page.headers['content-type']).toMatch(/^text\/html/)
      expect((await app.inject({ url: `/${id}/raw` })).statusCode).toBe(404)
      expect((await app.inject({ url: `/${id}/download` })).statusCode).toBe(404)
      const api = await app.inject({ url: `/api/pastes/${id}` })
      expect(api.statusCode).toBe(404)
      expect(api.json()).toEqual({ error: expect.any(String) })
      expect((await app.inject({ method: 'POST', url: `/${id}/reveal` })).statusCode).toBe(404)
    }
    expect(await apiList('?limit=100')).toEqual({ items: [expect.objectContaining({ id: keeper.id })], total: 1 })
    expect((await apiList('?language=go')).total).toBe(1)
    for (const url of ['/pastes', '/pastes?language=go', '/']) {
      const html = (await app.inject({ url })).body
      for (const title of ['json-expiring', 'form-expiring', 'put-expiring.go']) expect(html, url).not.toContain(title)
      expect(html).toContain('keeper')
    }
    expect((await app.inject({ url: '/pastes' })).body).toContain('1 public paste<')
  })

  it('cannot be deleted or forked once expired', async () => {
    const paste = await createPaste(app, { content: 'fork me quickly', expires: 1 })
    await waitUntil(async () => (await app.inject({ url: `/api/pastes/${paste.id}` })).statusCode === 404, 4000)
    const del = await app.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } })
    expect(del.statusCode).toBe(404)
    expect((await app.inject({ url: `/?fork=${paste.id}` })).body).not.toContain('fork me quickly')
  })

  it('a burn paste that expires unread is gone too', async () => {
    const paste = await createPaste(app, { content: 'never read', burn: true, expires: 1 })
    expect((await app.inject({ url: `/${paste.id}` })).statusCode).toBe(200)
    await waitUntil(async () => (await app.inject({ url: `/${paste.id}` })).statusCode === 404, 4000)
    expect((await app.inject({ method: 'POST', url: `/${paste.id}/reveal` })).statusCode).toBe(404)
  })
})

describe('MAX_EXPIRES', () => {
  it('refuses a longer expiry, and "never", with a 400 naming expires', async () => {
    const { app: capped } = await build({ MAX_EXPIRES: '1d', DEFAULT_EXPIRES: '1h' })
    for (const expires of ['1w', 'never', '86401']) {
      const res = await capped.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'x', expires } })
      expect(res.statusCode, expires).toBe(400)
      expect(res.json<{ error: string }>().error).toContain('expires')
    }
    const defaulted = await createPaste(capped, { content: 'x' })
    expect(Date.parse(defaulted.expiresAt ?? '') - Date.parse(defaulted.createdAt)).toBe(3600_000)
    // The form offers only the allowed choices.
    const home = (await capped.inject({ url: '/' })).body
    expect(home).not.toContain('<option value="never"')
    expect(home).not.toContain('<option value="1w"')
    expect(home).toContain('<option value="1h" selected>')
  })
})
