// A JSON create above 64 KB is decoded and parsed over several turns of the event loop: the
// same paste, the same refusals as a small body.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const postJson = (payload: string | Buffer) => app.inject({ method: 'POST', url: '/api/pastes', headers: { 'content-type': 'application/json' }, payload })
/** ~300 KB of text with multi-byte characters everywhere, so that every decoding slice cuts one. */
const BIG = `${'€ naïve 😀 line\n'.repeat(15_000)}end`

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
})
