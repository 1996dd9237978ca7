// Two app instances on one Redis (a single server, or the cluster under npm run test:cluster),
// as two processes behind a load balancer would be: every piece of state lives in Redis, so it
// does not matter which instance a request reaches.
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../src/model/index.js'
import { Paste } from '../../src/pastes/Paste.js'
import { buildTestApp, closeAppsAfterAll } from '../helpers/app.js'
import { useTestRedis } from '../helpers/redis.js'

const db = useTestRedis()
const closeLater = closeAppsAfterAll()
let a: FastifyInstance
let b: FastifyInstance
let limitedA: FastifyInstance
let limitedB: FastifyInstance

const HTML = 'text/html,application/xhtml+xml'
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** An app instance with a connection of its own, the way a separate process would have one. */
async function instance(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const client = await db.connectApp()
  return closeLater(await buildTestApp({ ...db, connect: () => client }, env)).app
}

beforeAll(async () => {
  a = await instance()
  b = await instance()
  limitedA = await instance({ RATE_LIMIT_CREATES_PER_MINUTE: '4' })
  limitedB = await instance({ RATE_LIMIT_CREATES_PER_MINUTE: '4' })
})

function cookieOf(res: LightMyRequestResponse, name: string): string {
  const cookie = res.cookies.find((c) => c.name === name)
  if (!cookie) throw new Error(`no ${name} cookie in ${JSON.stringify(res.headers['set-cookie'])}`)
  return `${cookie.name}=${cookie.value}`
}

describe('two app instances on one Redis', () => {
  it('lets a delete token handed out by one instance delete the paste through the other', async () => {
    const created = await a.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'made on A' } })
    expect(created.statusCode).toBe(201)
    const { id, deleteToken } = created.json<{ id: string; deleteToken: string }>()
    expect((await b.inject({ url: `/${id}/raw` })).body).toBe('made on A')

    const wrong = await b.inject({ method: 'DELETE', url: `/api/pastes/${id}`, headers: { authorization: 'Bearer not-the-token' } })
    expect(wrong.statusCode).toBe(403)
    const deleted = await b.inject({ method: 'DELETE', url: `/api/pastes/${id}`, headers: { authorization: `Bearer ${deleteToken}` } })
    expect(deleted.statusCode).toBe(204)
    expect((await a.inject({ url: `/${id}/raw` })).statusCode).toBe(404)
  })

  it('recognises the creator\'s cookie from one instance on the other, and deletes with it there', async () => {
    const created = await a.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML }, payload: 'content=browser+paste' })
    expect(created.statusCode).toBe(303)
    const id = String(created.headers.location).slice(1)
    const cookie = cookieOf(created, `owner_${id}`)

    const asOwner = await b.inject({ url: `/${id}`, headers: { accept: HTML, cookie } })
    expect(asOwner.statusCode).toBe(200)
    expect(asOwner.body).toContain(`action="/${id}/delete"`)
    const asStranger = await b.inject({ url: `/${id}`, headers: { accept: HTML } })
    expect(asStranger.body).not.toContain(`action="/${id}/delete"`)

    const deleted = await b.inject({ method: 'POST', url: `/${id}/delete`, headers: { accept: HTML, cookie } })
    expect(deleted.statusCode).toBe(303)
    expect((await a.inject({ url: `/${id}`, headers: { accept: HTML } })).statusCode).toBe(404)
  })

  it('counts the create rate limit across both instances', async () => {
    const create = (app: FastifyInstance) => app.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'x' }, remoteAddress: '203.0.113.9' })
    const statuses = []
    for (const app of [limitedA, limitedB, limitedA, limitedB, limitedA, limitedB]) statuses.push((await create(app)).statusCode)
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429])
    // Another client is not affected.
    expect((await limitedB.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'x' }, remoteAddress: '203.0.113.10' })).statusCode).toBe(201)
  })

  it('burns a paste once, whichever instance reads it', async () => {
    const created = await a.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'once', burn: true } })
    const { id } = created.json<{ id: string }>()
    const reads = await Promise.all([a, b, a, b].map((app) => app.inject({ method: 'POST', url: `/${id}/reveal`, headers: { accept: HTML } })))
    expect(reads.map((r) => r.statusCode).sort()).toEqual([200, 404, 404, 404])
  })

  it('adds up the views both instances serve', async () => {
    const { id } = (await a.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'viewed' } })).json<{ id: string }>()
    await Promise.all([a, b, b, a, b].map((app) => app.inject({ url: `/${id}`, headers: { accept: HTML } })))
    // buildTestApp puts the apps' keys under the test's prefix.
    expect((await Paste.load(new Store(db.redis, { prefix: db.prefix }), id))?.views).toBe(5)
  })
})
