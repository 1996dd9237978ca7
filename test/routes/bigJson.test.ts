// A JSON create above 64 KB is decoded and parsed over several turns of the event loop, as
// Latin-1 where it can be (src/routes/jsonBody.ts): the same paste, the same refusals as a small
// body.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { useApps } from './fixtures.js'
import { fromLatin1, hasNonAsciiEscape } from '../../src/routes/jsonBody.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const postJson = (payload: string | Buffer) => app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload })
/** ~300 KB of text with multi-byte characters everywhere, so that every decoding slice cuts one. */
const BIG = `${'€ naïve 😀 line\n'.repeat(15_000)}end`

/** JSON as a client that escapes every character beyond ASCII sends it (Python's json.dumps, say). */
const asciiJson = (value: unknown) => JSON.stringify(value).replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)

interface Created { id: string; size: number; lines: number; language: string; title: string }

/** The paste a body makes, and its stored bytes. */
async function created(payload: string | Buffer) {
  const res = await postJson(payload)
  expect(res.statusCode, res.body).toBe(201)
  const paste = res.json<Created>()
  const raw = await app.inject({ url: `/${paste.id}/raw` })
  return { size: paste.size, lines: paste.lines, language: paste.language, title: paste.title, bytes: raw.rawPayload }
}

describe('POST /api/pastes with a big JSON body', () => {
  it('stores the content exactly, multi-byte characters included', async () => {
    const res = await postJson(JSON.stringify({ content: BIG, language: 'plaintext' }))
    expect(res.statusCode, res.body).toBe(201)
    const { id, size, lines } = res.json<{ id: string; size: number; lines: number }>()
    expect(size).toBe(Buffer.byteLength(BIG))
    expect(lines).toBe(15_001)
    const raw = await app.inject({ url: `/${id}/raw` })
    expect(raw.rawPayload.equals(Buffer.from(BIG))).toBe(true)
  })

  it('refuses prototype-poisoning keys, as in a small body', async () => {
    const res = await postJson(`{"content":${JSON.stringify(BIG)},"__proto__":{"polluted":true}}`)
    expect(res.statusCode, res.body).toBe(400)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('answers 400 to a big body that is not JSON', async () => {
    const res = await postJson(`{"content":${JSON.stringify(BIG)}`)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toEqual({ error: expect.stringContaining('JSON') })
  })

  it('decodes a big body that is not UTF-8 as a small one is: a replacement character', async () => {
    const body = Buffer.from(JSON.stringify({ content: BIG }))
    body[body.length - 5] = 0xff
    const res = await postJson(body)
    expect(res.statusCode, res.body).toBe(201)
    const raw = await app.inject({ url: `/${res.json<{ id: string }>().id}/raw` })
    expect(raw.body.endsWith('\uFFFDnd')).toBe(true)
  })

  it('makes the same paste of a text whether its characters come as they are or as \\u escapes', async () => {
    const paste = { content: `// café\n${BIG}`, title: 'Café — ☕ notes', language: 'auto' }
    const plain = await created(JSON.stringify(paste))
    const escaped = await created(asciiJson(paste))
    expect(plain.bytes.equals(Buffer.from(paste.content))).toBe(true)
    expect(plain.title).toBe(paste.title)
    expect(escaped).toEqual(plain)
  })

  it('keeps escapes of ASCII characters, and text that only looks like an escape, exactly', async () => {
    const ascii = `tab\there "quoted" back\\slash a/b \u0001 bell \u007f del €\r\n`.repeat(8_000)
    const lookalike = `C:\\users\\u00e9 is not an escape ${ascii}`
    for (const content of [ascii, lookalike]) {
      const { bytes } = await created(JSON.stringify({ content, language: 'plaintext' }))
      expect(bytes.equals(Buffer.from(content))).toBe(true)
    }
  })

  it('names a field the schema does not know as it was sent, characters beyond ASCII included', async () => {
    const res = await postJson(JSON.stringify({ content: BIG, 'tïtle': 'x' }))
    expect(res.statusCode, res.body).toBe(400)
    expect(res.json<{ error: string }>().error).toContain('tïtle')
  })

  it('answers a big body with a syntax error as a small one, whatever the characters in it', async () => {
    const big = await postJson(`{"content":${JSON.stringify(BIG)},"title":"é" "x"}`)
    const small = await postJson(`{"content":"x","title":"é" "x"}`)
    expect(big.statusCode).toBe(400)
    expect(small.statusCode).toBe(400)
    expect(big.json<{ error: string }>().error.replace(/\d+/g, 'N')).toBe(small.json<{ error: string }>().error.replace(/\d+/g, 'N'))
  })
})

describe('the Latin-1 parse', () => {
  it('is refused by any \\u escape beyond ASCII, and not by text that only looks like one', () => {
    const refused = (json: string) => hasNonAsciiEscape(Buffer.from(json))
    expect(refused('{"a":"\\u0041\\u007f\\n"}')).toBe(false)
    expect(refused('{"a":"\\u0080"}')).toBe(true)
    expect(refused('{"a":"\\uD83D\\uDE00"}')).toBe(true)
    // A backslash, then the text u00e9; then a backslash and an escape.
    expect(refused('{"a":"\\\\u00e9 \\\\users"}')).toBe(false)
    expect(refused('{"a":"\\\\\\u00e9"}')).toBe(true)
    // Not an escape JSON allows: the parse that reports it is the usual one.
    expect(refused('{"a":"\\u00zz"}')).toBe(true)
  })

  it('decodes every string and key but the content, which stays its bytes', () => {
    const latin1 = (value: string) => Buffer.from(value).toString('latin1')
    const parsed = JSON.parse(latin1(JSON.stringify({ content: 'é€', title: 'é€', envelope: { 'kéy': ['é', 1, null] } }))) as unknown
    expect(fromLatin1(parsed, true)).toEqual({ content: latin1('é€'), title: 'é€', envelope: { 'kéy': ['é', 1, null] } })
  })
})
