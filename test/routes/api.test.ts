// The JSON API: POST/GET/DELETE /api/pastes[/:id], and the OpenAPI document that describes it.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { scanKeys, useTestRedis } from '../helpers/redis.js'
import { createPaste, expectNoStack, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const FIELDS = ['id', 'url', 'rawUrl', 'title', 'language', 'createdAt', 'expiresAt', 'burn', 'visibility', 'size', 'lines', 'revision', 'revisions', 'forkOf']
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/pastes', payload: payload as Record<string, unknown> })

describe('POST /api/pastes', () => {
  it('answers 201 with exactly the contract fields', async () => {
    const before = Date.now()
    const res = await post({ content: 'print("hi")\nprint("bye")\n', title: 'Hi', language: 'python', expires: '1h', visibility: 'public', burn: false })
    expect(res.statusCode).toBe(201)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    const body = res.json<Record<string, unknown>>()
    expect(Object.keys(body).sort()).toEqual([...FIELDS, 'deleteToken'].sort())
    const id = String(body.id)
    expect(id).toMatch(/^[A-Za-z0-9_-]{10}$/)
    expect(body).toMatchObject({
      url: `http://redbin.test/${id}`, rawUrl: `http://redbin.test/${id}/raw`, title: 'Hi', language: 'python',
      burn: false, visibility: 'public', size: 25, lines: 2,
    })
    expect(body.deleteToken).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    expect(body.createdAt).toMatch(ISO)
    expect(body.expiresAt).toMatch(ISO)
    expect(Date.parse(String(body.createdAt))).toBeGreaterThanOrEqual(before - 5)
    expect(Date.parse(String(body.expiresAt)) - Date.parse(String(body.createdAt))).toBe(3600_000)
    expect(res.headers.location).toBe(`http://redbin.test/${id}`)
  })

  it('fills the defaults: no title, auto language, unlisted, not burning, never expiring', async () => {
    const paste = await createPaste(app, { content: 'just text' })
    expect(paste).toMatchObject({ title: '', language: 'plaintext', visibility: 'unlisted', burn: false, expiresAt: null })
  })

  it('accepts expires as a number of seconds, too', async () => {
    const paste = await createPaste(app, { content: 'x', expires: 120 })
    expect(Date.parse(paste.expiresAt ?? '') - Date.parse(paste.createdAt)).toBe(120_000)
  })

  it('gives every paste its own id and token', async () => {
    const pastes = await Promise.all(Array.from({ length: 20 }, () => createPaste(app, { content: 'same' })))
    expect(new Set(pastes.map((p) => p.id)).size).toBe(20)
    expect(new Set(pastes.map((p) => p.deleteToken)).size).toBe(20)
  })

  it('never stores the delete token in clear', async () => {
    const paste = await createPaste(app, { content: 'x' })
    const keys = await scanKeys(db.redis, `${db.prefix}*`)
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      const type = await db.redis.type(key)
      const values = type === 'hash' ? Object.values(await db.redis.hgetall(key)) : type === 'string' ? [await db.redis.get(key)] : []
      for (const value of values) expect(value ?? '').not.toContain(paste.deleteToken)
    }
  })
})

describe('POST /api/pastes validation', () => {
  it.each([
    ['content', {}],
    ['content', { content: { text: 'x' } }],
    ['content', { content: ['x'] }],
    ['content', { content: 123 }],
    ['content', { content: null }],
    ['title', { content: 'x', title: { a: 1 } }],
    ['title', { content: 'x', title: 't'.repeat(201) }],
    ['language', { content: 'x', language: 'cobol' }],
    ['language', { content: 'x', language: ['python'] }],
    ['visibility', { content: 'x', visibility: 'secret' }],
    ['visibility', { content: 'x', visibility: 'PUBLIC' }],
    ['expires', { content: 'x', expires: 'tomorrow' }],
    ['expires', { content: 'x', expires: 0 }],
    ['expires', { content: 'x', expires: -60 }],
    ['expires', { content: 'x', expires: 1.5 }],
    ['burn', { content: 'x', burn: 'maybe' }],
    ['burn', { content: 'x', burn: { yes: true } }],
    ['burn', { content: 'x', burn: 'true' }],
    ['burn', { content: 'x', burn: 1 }],
    ['title', { content: 'x', title: 42 }],
  ])('answers 400 JSON naming %s for %j', async (field, payload) => {
    const res = await post(payload)
    expect(res.statusCode, res.body).toBe(400)
    const body = res.json<{ error: string }>()
    expect(Object.keys(body)).toEqual(['error'])
    expect(body.error).toContain(field)
    expectNoStack(res)
  })

  it('answers an expiry beyond what a date can hold with a 400 about expires, not an internal field', async () => {
    for (const expires of [9_999_999_999_999, '9007199254740991']) {
      const res = await post({ content: 'x', expires })
      expect(res.statusCode).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(/^expires .*never/)
    }
    expect((await post({ content: 'x', expires: 99_999_999_999 })).statusCode).toBe(201)
  })

  it('answers 400 to a body that is not JSON', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: '{"content": ' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: expect.stringContaining('JSON') })
  })

  it('refuses a field it does not know, naming it: a typo must not be silently ignored', async () => {
    const res = await post({ content: 'x', expire: '1h' })
    expect(res.statusCode, res.body).toBe(400)
    expect(res.json<{ error: string }>().error).toContain('expire')
  })

  it('refuses prototype-poisoning keys', async () => {
    for (const body of ['{"content":"x","__proto__":{"polluted":true}}', '{"content":"x","constructor":{"prototype":{"polluted":true}}}']) {
      const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: body })
      expect(res.statusCode, res.body).toBe(400)
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('answers 400 to an empty JSON body', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: '' })
    expect(res.statusCode).toBe(400)
  })

  it('answers 415 to a body that is not JSON at all', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'image/png' }, payload: 'x' })
    expect(res.statusCode).toBe(415)
    expect(res.json()).toEqual({ error: expect.any(String) })
  })
})

describe('GET /api/pastes/:id', () => {
  it('returns the same fields plus kind and content, without the delete token', async () => {
    const created = await createPaste(app, { content: 'a\r\n\tb 🎉\n', title: 'T', language: 'go', expires: '1d', visibility: 'public' })
    const res = await app.inject({ url: `/api/pastes/${created.id}` })
    expect(res.statusCode).toBe(200)
    const body = res.json<Record<string, unknown>>()
    expect(Object.keys(body).sort()).toEqual([...FIELDS, 'kind', 'content'].sort())
    const { deleteToken: _token, ...rest } = created
    expect(body).toEqual({ ...rest, kind: 'plain', content: 'a\r\n\tb 🎉\n' })
  })

  it('does not count as a page view', async () => {
    const created = await createPaste(app, { content: 'x' })
    await app.inject({ url: `/api/pastes/${created.id}` })
    expect((await app.inject({ url: `/${created.id}` })).body).toContain('<span class="num">1</span> view<')
  })

  it('answers 404 JSON {error} for an unknown or malformed id', async () => {
    for (const id of ['AAAAAAAAAA', 'short', 'AAAAAAAAAAAAAAAA', 'AAAA%20AAAAA']) {
      const res = await app.inject({ url: `/api/pastes/${id}`, headers: { accept: 'text/html' } })
      expect(res.statusCode, id).toBe(404)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(res.json()).toEqual({ error: expect.any(String) })
    }
  })

  it('answers unknown API paths with 404 JSON', async () => {
    const res = await app.inject({ url: '/api/nothing-here' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: expect.any(String) })
  })
})

describe('GET /openapi.json', () => {
  type Doc = {
    openapi: string
    info: { title: string; version: string }
    paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: { content: Record<string, { schema: unknown }> }; parameters?: { name: string; in: string }[] }>>
    components?: { schemas?: Record<string, unknown> }
  }

  it('is an OpenAPI 3 document with the API routes, their parameters, bodies and responses', async () => {
    const res = await app.inject({ url: '/openapi.json' })
    expect(res.statusCode).toBe(200)
    const doc = res.json<Doc>()
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/)
    expect(doc.info.title).toBe('redbin')
    expect(doc.info.version).toBeTruthy()

    const list = doc.paths['/api/pastes']
    const one = doc.paths['/api/pastes/{id}']
    expect(list && Object.keys(list).sort()).toEqual(['get', 'post'])
    expect(one && Object.keys(one).sort()).toEqual(expect.arrayContaining(['delete', 'get']))
    expect(Object.keys(list?.post?.requestBody?.content ?? {})).toContain('application/json')
    expect(Object.keys(list?.post?.responses ?? {})).toEqual(expect.arrayContaining(['201', '400', '413', '429']))
    expect(list?.get?.parameters?.map((p) => p.name).sort()).toEqual(['language', 'limit', 'offset'])
    expect(one?.get?.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'id', in: 'path' })]))
    expect(Object.keys(one?.delete?.responses ?? {})).toEqual(expect.arrayContaining(['204', '401', '403', '404']))
    // The create routes for curl are documented too.
    expect(doc.paths['/']?.post).toBeDefined()
    expect(doc.paths['/']?.put).toBeDefined()
    expect(doc.paths['/{id}/raw']?.get).toBeDefined()
  })

  it('is well-formed: every operation has responses, every path parameter is declared, every $ref resolves', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json<Doc>()
    for (const [path, operations] of Object.entries(doc.paths)) {
      expect(path.startsWith('/'), path).toBe(true)
      for (const [method, op] of Object.entries(operations)) {
        expect(['get', 'put', 'post', 'delete', 'head', 'patch', 'options']).toContain(method)
        expect(Object.keys(op.responses).length, `${method} ${path}`).toBeGreaterThan(0)
        for (const name of path.match(/\{(\w+)\}/g) ?? []) {
          const declared = op.parameters?.some((p) => p.in === 'path' && `{${p.name}}` === name)
          expect(declared, `${method} ${path} declares ${name}`).toBe(true)
        }
      }
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1] ?? '')
    for (const ref of refs) {
      expect(ref.startsWith('#/'), ref).toBe(true)
      let node: unknown = doc
      for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part]
      expect(node, ref).toBeDefined()
    }
  })
})
