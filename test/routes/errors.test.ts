// Errors are clear and never a 500: 404 pages and JSON, 400s that name the field, the size
// limit (413) and the create rate limit (429). No error body shows a stack trace.
import { Readable } from 'node:stream'
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, expectNoStack, FORM, HTML_ACCEPT, idFromUrl, multipart, storedPaste, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

const MAX = 1000

beforeAll(async () => {
  ;({ app } = await build({ MAX_PASTE_BYTES: String(MAX) }))
})


describe('404', () => {
  it('an unknown id gets an HTML 404 page on page routes for a browser', async () => {
    for (const url of ['/AAAAAAAAAA', '/AAAAAAAAAA/raw', '/AAAAAAAAAA/download']) {
      const res = await app.inject({ url, headers: { accept: HTML_ACCEPT } })
      expect(res.statusCode, url).toBe(404)
      expect(res.headers['content-type'], url).toMatch(/^text\/html/)
      expect(res.body).toContain('Paste not found')
      expect(res.body).toContain('<meta name="robots" content="noindex">')
      expectNoStack(res)
    }
  })

  it('an unknown id gets a plain-text 404 for curl', async () => {
    const res = await app.inject({ url: '/AAAAAAAAAA/raw', headers: { accept: '*/*' } })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.body).toMatch(/does not exist/)
  })

  it('an unknown id gets JSON {error} on the API', async () => {
    const res = await app.inject({ url: '/api/pastes/AAAAAAAAAA' })
    expect(res.statusCode).toBe(404)
    expect(res.json()).toEqual({ error: expect.stringMatching(/no such paste/i) })
  })

  it.each(['/abc', '/AAAAAAAAA', '/AAAAAAAAAAA', '/AAAA.AAAAA', '/AAAA%20AAAA', '/%C3%A9AAAAAAAAA', '/AAAA+AAAAA'])('a malformed id (%s) gets 404', async (url) => {
    for (const suffix of ['', '/raw', '/download']) {
      const res = await app.inject({ url: `${url}${suffix}`, headers: { accept: HTML_ACCEPT } })
      expect(res.statusCode, `${url}${suffix}`).toBe(404)
    }
  })

  it('an unknown address gets a 404 page, not a 500', async () => {
    const res = await app.inject({ url: '/a/b/c/d', headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(404)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
  })
})

describe('400: invalid input names the field', () => {
  const EMPTY = ['', ' ', '\n', ' \t\r\n  \n', '\u00a0\u2003\n']
  it.each(EMPTY.map((s) => [JSON.stringify(s), s]))('empty or whitespace-only content %s is refused everywhere', async (_label, content) => {
    const requests: InjectOptions[] = [
      { method: 'POST', url: '/api/pastes', payload: { content } },
      { method: 'POST', url: '/', headers: FORM, payload: new URLSearchParams({ content }).toString() },
      { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: content },
      { method: 'PUT', url: '/', payload: content },
      { method: 'PUT', url: '/empty.txt', payload: content },
    ]
    for (const request of requests) {
      const res = await app.inject(request)
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(400)
      expect(res.body).toContain('content')
      expectNoStack(res)
    }
    const form = await multipart({ content: { value: content, filename: 'empty.txt' } })
    expect((await app.inject({ method: 'POST', url: '/', ...form })).statusCode).toBe(400)
  })

  it.each([
    ['a lone 0xFF byte', [0x41, 0xff, 0x42]],
    ['a truncated sequence', [0x41, 0xe2, 0x82]],
    ['an overlong encoding', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['Latin-1 text', [...Buffer.from('caf'), 0xe9]],
  ])('a raw body that is not valid UTF-8 (%s) gets a 400 naming the content', async (_name, bytes) => {
    for (const request of [
      { method: 'PUT', url: '/' },
      { method: 'PUT', url: '/latin1.txt' },
      { method: 'POST', url: '/', headers: { 'content-type': 'application/octet-stream' } },
      { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' } },
    ] as InjectOptions[]) {
      const res = await app.inject({ ...request, payload: Buffer.from(bytes) })
      expect(res.statusCode, String(request.url)).toBe(400)
      expect(res.body).toMatch(/content must be valid UTF-8/)
    }
    const form = await multipart({ content: { value: Buffer.from(bytes), filename: 'bad.txt' } })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode).toBe(400)
    expect(res.body).toMatch(/UTF-8/)
  })

  it('JSON content with a lone surrogate gets a 400', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: '{"content":"a\\ud800b"}' })
    expect(res.statusCode).toBe(400)
    expect(res.json<{ error: string }>().error).toContain('content')
  })

  it('a 400 for a browser is an HTML page that says what went wrong', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=x&expires=someday' })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).toContain('expires must be one of')
    expectNoStack(res)
  })
})

describe('413: content over MAX_PASTE_BYTES', () => {
  const justRight = 'a'.repeat(MAX)
  const tooBig = 'a'.repeat(MAX + 1)

  it('accepts exactly MAX_PASTE_BYTES through every route', async () => {
    const form = await multipart({ content: { value: justRight, filename: 'a.txt' } })
    for (const request of [
      { method: 'POST', url: '/api/pastes', payload: { content: justRight } },
      { method: 'POST', url: '/', headers: FORM, payload: `content=${justRight}` },
      { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: justRight },
      { method: 'PUT', url: '/', payload: justRight },
      { method: 'POST', url: '/', ...form },
    ] as InjectOptions[]) {
      expect((await app.inject(request)).statusCode, `${request.method} ${request.url}`).toBe(201)
    }
  })

  it('refuses one byte more through every route with 413', async () => {
    const file = await multipart({ content: { value: tooBig, filename: 'a.txt' } })
    const field = await multipart({ content: tooBig })
    const requests: [string, InjectOptions][] = [
      ['JSON', { method: 'POST', url: '/api/pastes', payload: { content: tooBig } }],
      ['urlencoded form', { method: 'POST', url: '/', headers: FORM, payload: `content=${tooBig}` }],
      ['text/plain', { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: tooBig }],
      ['octet-stream', { method: 'POST', url: '/', headers: { 'content-type': 'application/octet-stream' }, payload: tooBig }],
      ['PUT /', { method: 'PUT', url: '/', payload: tooBig }],
      ['PUT /<name>', { method: 'PUT', url: '/big.txt', payload: tooBig }],
      ['multipart file', { method: 'POST', url: '/', ...file }],
      ['multipart field', { method: 'POST', url: '/', ...field }],
    ]
    for (const [what, request] of requests) {
      const res = await app.inject(request)
      expect(res.statusCode, what).toBe(413)
      expectNoStack(res)
    }
  })

  it('counts bytes, not characters', async () => {
    const accented = 'é'.repeat(MAX / 2) // 2 bytes each: exactly the limit
    expect((await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: accented } })).statusCode).toBe(201)
    const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: `${accented}é` } })
    expect(res.statusCode).toBe(413)
    expect(res.json()).toEqual({ error: expect.stringContaining(`${MAX}`) })
  })

  it('refuses far larger bodies too: JSON, forms, raw and multipart', async () => {
    const huge = 'x'.repeat(200_000)
    const form = await multipart({ content: { value: huge, filename: 'huge.txt' } })
    for (const request of [
      { method: 'POST', url: '/api/pastes', payload: { content: huge } },
      { method: 'POST', url: '/', headers: FORM, payload: `content=${huge}` },
      { method: 'PUT', url: '/', payload: huge },
      { method: 'POST', url: '/', ...form },
    ] as InjectOptions[]) {
      const res = await app.inject(request)
      expect(res.statusCode, `${request.method} ${request.url}`).toBe(413)
    }
  })

  it('stops reading a raw upload of unknown length at the limit', async () => {
    let sent = 0
    const chunk = Buffer.alloc(16 * 1024, 'a')
    const body = new Readable({
      read() {
        sent += chunk.length
        this.push(sent > 1024 * 1024 ? null : chunk)
      },
    })
    const res = await app.inject({ method: 'PUT', url: '/', payload: body, headers: { 'content-type': 'text/plain' } })
    expect(res.statusCode).toBe(413)
  })

  it('the 413 is JSON on the API and a page for a browser', async () => {
    expect((await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: tooBig } })).json()).toEqual({ error: expect.any(String) })
    const page = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: `content=${tooBig}` })
    expect(page.statusCode).toBe(413)
    expect(page.headers['content-type']).toMatch(/^text\/html/)
  })
})

describe('429: the create rate limit', () => {
  let limited: FastifyInstance
  let other: FastifyInstance

  beforeAll(async () => {
    // Two app instances on one Redis, as two server processes would be.
    ;({ app: limited } = await build({ RATE_LIMIT_CREATES_PER_MINUTE: '3' }))
    ;({ app: other } = await build({ RATE_LIMIT_CREATES_PER_MINUTE: '3' }))
  })

  const create = (target: FastifyInstance, ip: string, request: InjectOptions = { method: 'POST', url: '/api/pastes', payload: { content: 'x' } }) =>
    target.inject({ ...request, remoteAddress: ip })

  it('the fourth create in a minute gets 429 with Retry-After', async () => {
    for (let i = 0; i < 3; i++) expect((await create(limited, '10.0.0.1')).statusCode).toBe(201)
    const res = await create(limited, '10.0.0.1')
    expect(res.statusCode).toBe(429)
    const retryAfter = Number(res.headers['retry-after'])
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(res.json()).toEqual({ error: expect.stringContaining('3') })
  })

  it('counts every create route together, and answers each in its own form', async () => {
    const ip = '10.0.0.2'
    expect((await create(limited, ip, { method: 'PUT', url: '/', payload: 'x' })).statusCode).toBe(201)
    expect((await create(limited, ip, { method: 'POST', url: '/', headers: FORM, payload: 'content=x' })).statusCode).toBe(201)
    expect((await create(limited, ip, { method: 'POST', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'x' })).statusCode).toBe(201)
    const curl = await create(limited, ip, { method: 'PUT', url: '/notes.txt', payload: 'x' })
    expect(curl.statusCode).toBe(429)
    expect(curl.headers['retry-after']).toBeDefined()
    expect(curl.body).toMatch(/Too many pastes/)
    const browser = await create(limited, ip, { method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=x' })
    expect(browser.statusCode).toBe(429)
    expect(browser.headers['content-type']).toMatch(/^text\/html/)
    expectNoStack(browser)
  })

  it('holds across two app instances sharing the Redis', async () => {
    const ip = '10.0.0.3'
    expect((await create(limited, ip)).statusCode).toBe(201)
    expect((await create(other, ip)).statusCode).toBe(201)
    expect((await create(limited, ip)).statusCode).toBe(201)
    expect((await create(other, ip)).statusCode).toBe(429)
    expect((await create(limited, ip)).statusCode).toBe(429)
  })

  it('limits each client on its own, and never limits reads', async () => {
    const paste = await createPaste(other, { content: 'read me' })
    for (let i = 0; i < 4; i++) await create(limited, '10.0.0.4')
    expect((await create(limited, '10.0.0.5')).statusCode).toBe(201)
    for (let i = 0; i < 10; i++) {
      expect((await limited.inject({ url: `/${paste.id}/raw`, remoteAddress: '10.0.0.4' })).statusCode).toBe(200)
    }
  })

  it('does not count refused input against the limit', async () => {
    const ip = '10.0.0.6'
    for (let i = 0; i < 5; i++) {
      expect((await create(limited, ip, { method: 'POST', url: '/api/pastes', payload: { content: 1 } })).statusCode).toBe(400)
    }
    expect((await create(limited, ip)).statusCode).toBe(201)
  })
})

// Issue 15: the reproductions of a hostile-input fuzz. Every one gets a 4xx in the app's own
// form (JSON {error} on the API, a page for a browser, a line for curl) with its security headers.
describe('hostile input gets the app\'s own 4xx', () => {
  const expectAppHeaders = (res: { headers: Record<string, unknown> }) => {
    expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/)
    expect(res.headers['x-frame-options']).toBe('DENY')
    expect(res.headers['cache-control']).toBe('no-store')
  }

  it('a multipart boundary over the 70 characters of RFC 2046 gets a 400 that says so', async () => {
    for (const length of [71, 300, 5000]) {
      const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': `multipart/form-data; boundary=${'x'.repeat(length)}` }, payload: 'x' })
      expect(res.statusCode, `${length}`).toBe(400)
      expect(res.body).toBe(`The multipart boundary is ${length} characters long; RFC 2046 allows at most 70.\n`)
      expectAppHeaders(res)
    }
    const quoted = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': `multipart/form-data; boundary="${'y'.repeat(257)}"` }, payload: 'x' })
    expect(quoted.statusCode).toBe(400)
    expect(quoted.body).toMatch(/RFC 2046/)
  })

  it('a boundary of exactly 70 characters still works', async () => {
    const boundary = 'b'.repeat(70)
    const payload = `--${boundary}\r\nContent-Disposition: form-data; name="content"\r\n\r\nseventy\r\n--${boundary}--\r\n`
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, payload })
    expect(res.statusCode, res.body).toBe(201)
  })

  const badUrl = `/%zz${'a'.repeat(5000)}`
  it.each([
    ['a broken percent-encoding', badUrl, 400, /broken percent-encoding/],
    ['a broken percent-encoding on the API', `/api${badUrl}`, 400, /broken percent-encoding/],
    ['an over-long path parameter', `/${'a'.repeat(5000)}`, 414, /too long/],
    ['an over-long paste id on the API', `/api/pastes/${'a'.repeat(5000)}`, 414, /too long/],
  ])('%s gets the app\'s form and headers, never the URL back', async (_what, url, status, message) => {
    const api = url.startsWith('/api')
    for (const accept of [HTML_ACCEPT, '*/*']) {
      const res = await app.inject({ url, headers: { accept } })
      expect(res.statusCode).toBe(status)
      expectAppHeaders(res)
      expect(res.body).not.toMatch(/aaaaaaaaaa|FST_ERR|statusCode/)
      expect(res.body.length).toBeLessThan(4000)
      if (api) expect(res.json()).toEqual({ error: expect.stringMatching(message) })
      else if (accept === HTML_ACCEPT) {
        expect(res.headers['content-type']).toMatch(/^text\/html/)
        expect(res.body).toMatch(message)
      } else {
        expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
        expect(res.body).toMatch(new RegExp(`^[^\\n]*${message.source}[^\\n]*\\n$`))
      }
    }
    const head = await app.inject({ method: 'HEAD', url })
    expect(head.statusCode).toBe(status)
    expect(head.body).toBe('')
  })

  it('a JSON body that does not parse is refused without quoting it', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: '{"content": secretsecret' })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: expect.stringMatching(/^The body is not valid JSON/) })
    const poisoned = await app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload: '{"content":"x","__proto__":{"a":1}}' })
    expect(poisoned.statusCode).toBe(400)
    expect(poisoned.json()).toEqual({ error: expect.stringMatching(/__proto__/) })
  })

  it.each(['constructor', 'x.constructor', '__proto__', 'x.__proto__', 'toString', 'hasOwnProperty.py', 'valueOf'])(
    'an upload named %s is a paste with that title', async (name) => {
      const res = await app.inject({ method: 'PUT', url: `/${name}`, payload: 'hello\n' })
      expect(res.statusCode, res.body).toBe(201)
      const stored = await storedPaste(app, idFromUrl(res.body))
      expect(stored.title).toBe(name)
      expect(stored.content).toBe('hello\n')
      expect(stored.language).toBe(name.endsWith('.py') ? 'python' : 'plaintext')
    })

  it('form fields named after Object\'s properties are ignored, not read', async () => {
    const form = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: 'content=hi&constructor=x&toString=y&__proto__=z&hasOwnProperty=1' })
    expect(form.statusCode, form.body).toBe(201)
    const missing = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: 'constructor=x&valueOf=y' })
    expect(missing.statusCode).toBe(400)
    expect(missing.body).toMatch(/no "content" field/)
    // @fastify/multipart refuses such field names outright.
    const parts = await multipart({ content: 'hi', constructor: 'x' })
    const res = await app.inject({ method: 'POST', url: '/', ...parts })
    expect(res.statusCode).toBe(400)
    expect(res.body).toMatch(/field name/)
  })
})
