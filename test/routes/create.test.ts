// POST /, PUT / and PUT /<name>: every way the contract lets a client create a paste, and the
// two kinds of answer (browsers are redirected, other clients get the URL as text).
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { expectNoStack, FORM, HTML_ACCEPT, idFromUrl, multipart, storedPaste, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})


const stored = (id: string) => storedPaste(app, id)

describe('POST / from a non-browser client', () => {
  it('answers 201 with "<PUBLIC_URL>/<id>\\n" as text/plain, a Location and a delete token', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: '*/*' }, payload: 'content=hello%20world&title=Greeting' })
    expect(res.statusCode).toBe(201)
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.body).toMatch(/^http:\/\/redbin\.test\/[A-Za-z0-9_-]{10}\n$/)
    expect(res.headers.location).toBe(res.body.trim())
    expect(res.headers['x-delete-token']).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    const paste = await stored(idFromUrl(res.body))
    expect(paste).toMatchObject({ content: 'hello world', title: 'Greeting', visibility: 'unlisted', burn: false, expiresAt: null })
  })

  it('sends X-Expires only when the paste expires', async () => {
    const never = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: 'content=x' })
    expect(never.statusCode).toBe(201)
    expect(never.headers['x-expires']).toBeUndefined()

    const before = Date.now()
    const hour = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: 'content=x&expires=1h' })
    expect(hour.statusCode).toBe(201)
    const expires = Date.parse(String(hour.headers['x-expires']))
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000 - 1000)
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000)
  })

  it('takes every form option: title, language, expires, visibility and burn', async () => {
    const res = await app.inject({
      method: 'POST', url: '/', headers: FORM,
      payload: new URLSearchParams({ content: 'print(1)\n', title: 'T', language: 'python', expires: '10m', visibility: 'public', burn: 'on' }).toString(),
    })
    expect(res.statusCode, res.body).toBe(201)
    const id = idFromUrl(res.body)
    // A burn paste is consumed by the API read, so read it once, here.
    const paste = await stored(id)
    // A burn paste is never listed, so it is stored unlisted whatever the form asked.
    expect(paste).toMatchObject({ content: 'print(1)\n', title: 'T', language: 'python', visibility: 'unlisted', burn: true })
    expect(Date.parse(paste.expiresAt ?? '')).toBeGreaterThan(Date.now() + 590_000)
  })

  it('keeps a form\'s content byte for byte, CRLF and lone CR included: only a browser\'s textarea is normalised', async () => {
    const bytes = 'one\r\n\ttwo\r\n\r\nthree\rfour\n'
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: '*/*' }, payload: new URLSearchParams({ content: bytes }).toString() })
    expect(res.statusCode).toBe(201)
    const raw = await app.inject({ url: `/${idFromUrl(res.body)}/raw` })
    expect(raw.rawPayload.equals(Buffer.from(bytes))).toBe(true)
  })

  it('keeps a multipart text field byte for byte (curl -F "content=<file")', async () => {
    const bytes = 'one\r\ntwo\r\n'
    const form = await multipart({ content: bytes })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode).toBe(201)
    expect((await stored(idFromUrl(res.body))).content).toBe(bytes)
  })

  it.each(['1', 'on', 'true'])('accepts burn=%s', async (burn) => {
    const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: `content=x&burn=${burn}` })
    expect(res.statusCode).toBe(201)
    expect((await stored(idFromUrl(res.body))).burn).toBe(true)
  })

  it('accepts every expiry preset and a number of seconds', async () => {
    for (const expires of ['10m', '1h', '1d', '1w', '30d', '1y', 'never', '90']) {
      const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: `content=x&expires=${expires}` })
      expect(res.statusCode, `${expires}: ${res.body}`).toBe(201)
      expect(res.headers['x-expires'] === undefined, expires).toBe(expires === 'never')
    }
  })

  it('explains how to upload a raw file when an urlencoded body has no content field (curl --data-binary)', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: 'def main():\n    pass\n' })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('content')
    expect(res.body).toContain('curl -T')
    expect(res.body).toContain("-H 'Content-Type: text/plain'")
    expect(res.body).toContain('curl -F content=@')
    expectNoStack(res)
  })

  it('answers a form without content with the same hint as an HTML page to a browser', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'title=only' })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).toContain('curl -T')
  })
})

describe('POST / from a browser', () => {
  it('redirects with 303 to /<id> and keeps the delete token in an HttpOnly cookie scoped to the paste', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=from%20a%20browser' })
    expect(res.statusCode).toBe(303)
    const location = String(res.headers.location)
    expect(location).toMatch(/^\/[A-Za-z0-9_-]{10}$/)
    const id = location.slice(1)
    expect(res.headers['x-delete-token']).toBeUndefined()
    const cookie = res.cookies.find((c) => c.name === `owner_${id}`)
    expect(cookie).toBeDefined()
    expect(cookie).toMatchObject({ path: `/${id}`, httpOnly: true })
    expect(String(cookie?.sameSite).toLowerCase()).toBe('lax')
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    expect((await stored(id)).content).toBe('from a browser')
  })

  it('stores form text with LF line ends: browsers send a textarea as CRLF whatever it held', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=a%0D%0Ab%0D%0A' })
    expect((await stored(String(res.headers.location).slice(1))).content).toBe('a\nb\n')
  })

  it('normalises a multipart form\'s text field the same way', async () => {
    const form = await multipart({ content: 'a\r\nb\r\n' })
    const res = await app.inject({ method: 'POST', url: '/', payload: form.payload, headers: { ...form.headers, accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(303)
    expect((await stored(String(res.headers.location).slice(1))).content).toBe('a\nb\n')
  })

  it('shows the form again with the reason and the text when a create is refused', async () => {
    const res = await app.inject({
      method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT },
      payload: new URLSearchParams({ content: 'keep <this> text', title: 'Mine', expires: 'soon' }).toString(),
    })
    expect(res.statusCode).toBe(400)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).toContain('id="paste-form"')
    expect(res.body).toMatch(/role="alert">.*Your paste was not created.*expires/)
    expect(res.body).toContain('keep &lt;this&gt; text')
    expect(res.body).toContain('value="Mine"')
  })

  it('gives an expiring paste a cookie that lives no longer than the paste', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=x&expires=10m' })
    expect(res.statusCode).toBe(303)
    const cookie = res.cookies.find((c) => c.name.startsWith('owner_'))
    expect(cookie?.maxAge).toBeGreaterThan(0)
    expect(cookie?.maxAge).toBeLessThanOrEqual(600)
  })
})

describe('POST / multipart', () => {
  it('takes content and options as text fields', async () => {
    // (FormData, like a browser, turns LF into CRLF in text fields: one line keeps this exact.)
    const form = await multipart({ content: 'fn main() {}', title: 'Rusty', language: 'rust', visibility: 'public' })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode, res.body).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ content: 'fn main() {}', title: 'Rusty', language: 'rust', visibility: 'public' })
  })

  it('takes content as a file part (curl -F content=@file): its filename becomes the title and hints the language', async () => {
    const form = await multipart({ content: { value: 'x = 1\n', filename: 'script.py' } })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode, res.body).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ content: 'x = 1\n', title: 'script.py', language: 'python' })
  })

  it('prefers an explicit title field over the filename', async () => {
    const form = await multipart({ title: 'Mine', content: { value: 'x = 1\n', filename: 'script.py' } })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'Mine', language: 'python' })
  })

  it('keeps a file part byte for byte', async () => {
    const bytes = 'line one\r\n\ttabbed\r\n\n\n'
    const form = await multipart({ content: { value: Buffer.from(bytes), filename: 'notes.txt' } })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode).toBe(201)
    const raw = await app.inject({ url: `/${idFromUrl(res.body)}/raw` })
    expect(raw.rawPayload.equals(Buffer.from(bytes))).toBe(true)
  })

  it('takes options from the query string too, with the form fields winning', async () => {
    const form = await multipart({ content: 'x', title: 'from the form' })
    const res = await app.inject({ method: 'POST', url: '/?title=from%20the%20query&visibility=public&expires=1h', ...form })
    expect(res.statusCode).toBe(201)
    expect(res.headers['x-expires']).toBeDefined()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'from the form', visibility: 'public' })
  })

  it('answers a multipart form without content with the raw-upload hint', async () => {
    const form = await multipart({ title: 'no content' })
    const res = await app.inject({ method: 'POST', url: '/', ...form })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('curl -T')
  })
})

describe('raw uploads', () => {
  it.each(['text/plain', 'text/plain; charset=utf-8', 'application/octet-stream'])('POST / with Content-Type %s takes the body as the content', async (type) => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': type }, payload: 'raw body\n' })
    expect(res.statusCode, res.body).toBe(201)
    expect(res.body).toMatch(/^http:\/\/redbin\.test\/[A-Za-z0-9_-]{10}\n$/)
    expect((await stored(idFromUrl(res.body))).content).toBe('raw body\n')
  })

  it('takes the options of a raw upload from the query string', async () => {
    const res = await app.inject({
      method: 'POST', url: '/?expires=1h&language=go&title=x&visibility=public',
      headers: { 'content-type': 'text/plain' }, payload: 'package main\n',
    })
    expect(res.statusCode).toBe(201)
    expect(res.headers['x-expires']).toBeDefined()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'x', language: 'go', visibility: 'public', burn: false })
  })

  it('PUT / (curl -T file URL) creates a paste from the body, whatever its Content-Type', async () => {
    for (const type of [undefined, 'application/x-www-form-urlencoded', 'application/json', 'image/png']) {
      const res = await app.inject({ method: 'PUT', url: '/', headers: type ? { 'content-type': type } : {}, payload: 'a=b&c' })
      expect(res.statusCode, `${type}: ${res.body}`).toBe(201)
      expect((await stored(idFromUrl(res.body))).content).toBe('a=b&c')
    }
  })

  it('PUT /<name> takes the name as the title and its extension as the language hint', async () => {
    const res = await app.inject({ method: 'PUT', url: '/notes.py', payload: 'x = 1\n' })
    expect(res.statusCode, res.body).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'notes.py', language: 'python', content: 'x = 1\n' })
  })

  it('PUT /<name> with query options: an explicit title and language win over the name', async () => {
    const res = await app.inject({ method: 'PUT', url: '/main.go?title=Server&language=rust&expires=10m&burn=1', payload: 'x' })
    expect(res.statusCode).toBe(201)
    expect(res.headers['x-expires']).toBeDefined()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'Server', language: 'rust', burn: true })
  })

  it('takes a big upload as the same paste as its text in JSON: bytes, lines and language', async () => {
    // Past the part a create decodes (64 KB), with multi-byte characters across that cut.
    const text = `#!/usr/bin/env python3\n${'print("héllo €😀")\n'.repeat(20_000)}no newline at the end`
    const raw = await app.inject({ method: 'PUT', url: '/', headers: { 'content-type': 'text/plain' }, payload: Buffer.from(text) })
    const json = await app.inject({ method: 'POST', url: '/api/pastes', payload: { content: text } })
    expect([raw.statusCode, json.statusCode]).toEqual([201, 201])
    const fromRaw = (await app.inject({ url: `/api/pastes/${idFromUrl(raw.body)}` })).json<{ content: string; lines: number; language: string; size: number }>()
    const fromJson = (await app.inject({ url: `/api/pastes/${json.json<{ id: string }>().id}` })).json<{ content: string; lines: number; language: string; size: number }>()
    expect(fromRaw.content).toBe(text)
    expect(fromRaw).toMatchObject({ lines: 20_002, language: 'python', size: Buffer.byteLength(text) })
    expect({ ...fromRaw, id: '', url: '', rawUrl: '', createdAt: '' }).toEqual({ ...fromJson, id: '', url: '', rawUrl: '', createdAt: '' })
    const rawBytes = await app.inject({ url: `/${idFromUrl(raw.body)}/raw` })
    expect(rawBytes.rawPayload.equals(Buffer.from(text))).toBe(true)
  })

  it('checks the whole of a big upload: blanks only, text after blanks, bytes that are not UTF-8', async () => {
    const put = (payload: Buffer) => app.inject({ method: 'PUT', url: '/', headers: { 'content-type': 'text/plain' }, payload })
    const blanks = ' \n\t'.repeat(40_000)
    const empty = await put(Buffer.from(blanks))
    expect([empty.statusCode, empty.body.trim()]).toEqual([400, 'content is empty'])
    const late = await put(Buffer.from(`${blanks}text at last\n`))
    expect(late.statusCode).toBe(201)
    expect((await stored(idFromUrl(late.body))).content).toBe(`${blanks}text at last\n`)
    const broken = Buffer.from('a'.repeat(200_000))
    broken[150_000] = 0xff
    const refused = await put(broken)
    expect([refused.statusCode, refused.body.trim()]).toEqual([400, 'content must be valid UTF-8 text'])
  })

  it('a browser PUT is redirected like a browser POST', async () => {
    const res = await app.inject({ method: 'PUT', url: '/', headers: { accept: HTML_ACCEPT }, payload: 'x' })
    expect(res.statusCode).toBe(303)
    expect(res.cookies.some((c) => c.name.startsWith('owner_') && c.httpOnly)).toBe(true)
  })
})

describe('create options are validated wherever they come from', () => {
  const cases: [string, string][] = [
    ['expires', 'expires=tomorrow'],
    ['expires', 'expires=0'],
    ['expires', 'expires=-5'],
    ['expires', 'expires=1.5'],
    ['expires', 'expires=1e3'],
    ['expires', 'expires=9999999999999'],
    ['visibility', 'visibility=secret'],
    ['language', 'language=cobol'],
    ['burn', 'burn=maybe'],
  ]
  it.each(cases)('a form with a bad %s (%s) gets a 400 naming the field', async (field, option) => {
    const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: `content=x&${option}` })
    expect(res.statusCode, res.body).toBe(400)
    expect(res.body).toContain(field)
    expectNoStack(res)
  })

  it.each(cases)('a raw upload with a bad %s in the query (%s) gets a 400 naming the field', async (field, option) => {
    const res = await app.inject({ method: 'PUT', url: `/?${option}`, payload: 'x' })
    expect(res.statusCode, res.body).toBe(400)
    expect(res.body).toContain(field)
  })

  it('a title over 200 characters gets a 400 naming the title', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: `content=x&title=${'t'.repeat(201)}` })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('title')
  })

  it('accepts a language given as a file extension (py → python)', async () => {
    const res = await app.inject({ method: 'PUT', url: '/?language=py', payload: 'x' })
    expect(res.statusCode).toBe(201)
    expect((await stored(idFromUrl(res.body))).language).toBe('python')
  })
})
