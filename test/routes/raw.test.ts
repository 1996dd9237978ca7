// GET /:id/raw and /:id/download: the stored bytes exactly, with headers that keep browsers
// from rendering them and caches from keeping them past the paste's life.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, idFromUrl, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

/** Creates a paste from raw bytes (PUT /), as `curl -T` does. */
async function putRaw(bytes: Buffer, query = ''): Promise<string> {
  const res = await app.inject({ method: 'PUT', url: `/${query}`, payload: bytes, headers: { 'content-type': 'application/octet-stream' } })
  expect(res.statusCode, res.body).toBe(201)
  return idFromUrl(res.body)
}

const CORPUS: Record<string, string> = {
  'CRLF line endings': 'one\r\ntwo\r\nthree\r\n',
  'mixed CR, LF and CRLF': 'a\rb\nc\r\nd',
  'tabs and trailing spaces': '\tindented\t\n  \t  trailing   \n',
  'several trailing newlines': 'text\n\n\n\n',
  'no trailing newline': 'no newline at the end',
  'leading blank lines': '\n\n\nstarts late',
  'unicode and emoji': 'héllo wörld — 日本語 🎉👩‍👩‍👧‍👦 \u{1F600}\n',
  'a byte order mark at the start': '\uFEFFwith a BOM\n',
  'NUL and control characters': 'a\u0000b\u0001c\u001bd\n',
  'HTML that must stay text': '<!doctype html><script>alert(1)</script>\n',
  'backslashes and quotes': 'C:\\path\\"quoted"\\\'\n',
}

describe('GET /:id/raw returns the stored bytes exactly', () => {
  it.each(Object.entries(CORPUS))('%s, uploaded raw', async (_name, text) => {
    const bytes = Buffer.from(text, 'utf8')
    const id = await putRaw(bytes)
    const res = await app.inject({ url: `/${id}/raw` })
    expect(res.statusCode).toBe(200)
    expect(res.rawPayload.equals(bytes)).toBe(true)
    expect(res.headers['content-length']).toBe(String(bytes.length))
  })

  it.each(Object.entries(CORPUS))('%s, sent as JSON', async (_name, text) => {
    const paste = await createPaste(app, { content: text })
    expect(paste.size).toBe(Buffer.byteLength(text))
    const res = await app.inject({ url: `/${paste.id}/raw` })
    expect(res.rawPayload.equals(Buffer.from(text, 'utf8'))).toBe(true)
  })

  it('keeps a BOM sent as raw bytes (EF BB BF) and counts it in the size', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('x = 1\n')])
    const id = await putRaw(bytes)
    expect((await app.inject({ url: `/${id}/raw` })).rawPayload.equals(bytes)).toBe(true)
    expect((await app.inject({ url: `/api/pastes/${id}` })).json()).toMatchObject({ size: 9, lines: 1 })
  })

  it('counts lines as a text editor does: a final newline does not start a new line', async () => {
    const cases: [string, number][] = [['a', 1], ['a\n', 1], ['a\nb', 2], ['a\nb\n', 2], ['a\n\n', 2], ['a\r\nb\r\n', 2]]
    for (const [text, lines] of cases) {
      expect((await createPaste(app, { content: text })).lines, JSON.stringify(text)).toBe(lines)
    }
  })
})

describe('GET /:id/raw headers', () => {
  it('sends text/plain UTF-8, nosniff, a sandboxing CSP and an ETag', async () => {
    const paste = await createPaste(app, { content: '<html>not rendered</html>' })
    const res = await app.inject({ url: `/${paste.id}/raw` })
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox")
    expect(res.headers.etag).toMatch(/^(W\/)?".+"$/)
  })

  it('answers 304 with no body to a matching If-None-Match, 200 to another tag', async () => {
    const paste = await createPaste(app, { content: 'cache me' })
    const etag = String((await app.inject({ url: `/${paste.id}/raw` })).headers.etag)
    for (const tag of [etag, `W/${etag}`, `"other", ${etag}`]) {
      const res = await app.inject({ url: `/${paste.id}/raw`, headers: { 'if-none-match': tag } })
      expect(res.statusCode, tag).toBe(304)
      expect(res.body).toBe('')
      expect(res.headers.etag).toBe(etag)
    }
    const other = await app.inject({ url: `/${paste.id}/raw`, headers: { 'if-none-match': '"something-else"' } })
    expect(other.statusCode).toBe(200)
    expect(other.body).toBe('cache me')
  })

  it('gives different pastes different ETags', async () => {
    const a = await createPaste(app, { content: 'same' })
    const b = await createPaste(app, { content: 'same' })
    const etagA = (await app.inject({ url: `/${a.id}/raw` })).headers.etag
    expect((await app.inject({ url: `/${b.id}/raw`, headers: { 'if-none-match': String(etagA) } })).statusCode).toBe(200)
  })

  it('lets caches keep a never-expiring paste for a bounded time, without X-Expires', async () => {
    const paste = await createPaste(app, { content: 'forever', expires: 'never', visibility: 'public' })
    const res = await app.inject({ url: `/${paste.id}/raw` })
    const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['cache-control']))?.[1])
    expect(maxAge).toBeGreaterThan(0)
    expect(maxAge).toBeLessThanOrEqual(3600)
    expect(res.headers['x-expires']).toBeUndefined()
  })

  it('never lets a cache keep an expiring paste past its expiry, and says when it expires', async () => {
    const paste = await createPaste(app, { content: 'short-lived', expires: 30 })
    const res = await app.inject({ url: `/${paste.id}/raw` })
    const maxAge = Number(/max-age=(\d+)/.exec(String(res.headers['cache-control']))?.[1])
    expect(maxAge).toBeGreaterThanOrEqual(0)
    expect(Date.now() + maxAge * 1000).toBeLessThanOrEqual(Date.parse(paste.expiresAt ?? '') + 1000)
    expect(maxAge).toBeLessThanOrEqual(30)
    expect(res.headers['x-expires']).toBe(paste.expiresAt)
  })

  it('keeps an unlisted paste out of shared caches', async () => {
    const paste = await createPaste(app, { content: 'x', visibility: 'unlisted' })
    expect(String((await app.inject({ url: `/${paste.id}/raw` })).headers['cache-control'])).toMatch(/^private\b/)
  })

  it('sends no-store for a burn paste', async () => {
    const paste = await createPaste(app, { content: 'x', burn: true, expires: '1h' })
    const res = await app.inject({ url: `/${paste.id}/raw` })
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['x-expires']).toBe(paste.expiresAt)
  })

  it('answers HEAD with the headers and no body', async () => {
    const paste = await createPaste(app, { content: 'héad', expires: '1h' })
    const res = await app.inject({ method: 'HEAD', url: `/${paste.id}/raw` })
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('')
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength('héad')))
    expect(res.headers.etag).toBeDefined()
    expect(res.headers['x-expires']).toBe(paste.expiresAt)
  })

  it('answers 404 for an unknown or malformed id', async () => {
    for (const id of ['AAAAAAAAAA', 'abc', 'AAAAAAAAAAA', 'AAAA.AAAAA']) {
      const res = await app.inject({ url: `/${id}/raw` })
      expect(res.statusCode, id).toBe(404)
    }
  })
})

describe('GET /:id/download', () => {
  it.each([
    ['python', 'py'], ['javascript', 'js'], ['plaintext', 'txt'], ['go', 'go'], ['json', 'json'], ['bash', 'sh'], ['typescript', 'ts'],
  ])('names a %s paste <id>.%s as an attachment', async (language, ext) => {
    const paste = await createPaste(app, { content: 'x\r\n\ty\n', language })
    const res = await app.inject({ url: `/${paste.id}/download` })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-disposition']).toBe(`attachment; filename="${paste.id}.${ext}"`)
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.body).toBe('x\r\n\ty\n')
  })
})
