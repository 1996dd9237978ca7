// What only a real socket shows: requests the HTTP parser rejects, answers on keep-alive
// connections, and HEAD. A HEAD's answer never has a body, whatever produced it: the bytes of
// one would be read as the start of the next response (issue 15).
import { request as httpRequest, Agent } from 'node:http'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Cluster } from 'ioredis'
import { exchange, parseResponses, type RawResponse } from '../helpers/rawHttp.js'
import { useTestRedis } from '../helpers/redis.js'
import { curl, HTML_ACCEPT, idFromUrl, parseCurlResponse, storedPaste, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance
let port: number
let dir: string

beforeAll(async () => {
  const testApp = await build()
  app = testApp.app
  port = Number(new URL(await testApp.listen()).port)
  dir = await mkdtemp(join(tmpdir(), 'redbin-framing-'))
})

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

function expectAppHeaders(res: RawResponse) {
  expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/)
  expect(res.headers['x-frame-options']).toBe('DENY')
  expect(res.headers['x-content-type-options']).toBe('nosniff')
}

const BIG_HEADER = `x-big: ${'a'.repeat(20_000)}\r\n`

describe('the HTTP parser\'s rejections', () => {
  it('headers over the limit get a 431 in the app\'s form, with its headers', async () => {
    const cases: [string, RegExp, (body: string) => void][] = [
      [`GET /pastes HTTP/1.1\r\nHost: x\r\nAccept: ${HTML_ACCEPT}\r\n`, /^text\/html/, (body) => expect(body).toContain('headers are larger')],
      ['GET /api/pastes HTTP/1.1\r\nHost: x\r\n', /^application\/json/, (body) => expect(JSON.parse(body)).toEqual({ error: expect.stringMatching(/headers are larger/) })],
      ['GET /pastes HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n', /^text\/plain/, (body) => expect(body).toBe('The request headers are larger than this server accepts.\n')],
    ]
    for (const [head, type, checkBody] of cases) {
      const { bytes, closedByServer } = await exchange(port, `${head}${BIG_HEADER}\r\n`)
      const [res] = parseResponses(bytes, ['GET'])
      expect(res?.status).toBe(431)
      expect(res?.headers['content-type']).toMatch(type)
      expect(res?.headers.connection).toBe('close')
      expectAppHeaders(res as RawResponse)
      checkBody(res?.body.toString() ?? '')
      expect(closedByServer).toBe(true)
    }
  })

  it('a HEAD with headers over the limit gets a 431 with no body', async () => {
    const { bytes } = await exchange(port, `HEAD /pastes HTTP/1.1\r\nHost: x\r\nAccept: ${HTML_ACCEPT}\r\n${BIG_HEADER}\r\n`)
    // Framed as the answer to a GET, a body would have to follow: there is none.
    const [res] = parseResponses(bytes, ['GET'])
    expect(res?.status).toBe(431)
    expect(res?.headers['content-length']).toBe('0')
    expect(res?.body.length).toBe(0)
    expectAppHeaders(res as RawResponse)
  })

  it.each([
    ['bytes that are not HTTP', 'GARBAGE\r\n\r\n'],
    ['Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['a broken chunk size', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a space before a header\'s colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
  ])('%s get a 400 with the app\'s headers, and the connection closes', async (_what, raw) => {
    const { bytes, closedByServer } = await exchange(port, raw)
    const [res] = parseResponses(bytes, ['GET'])
    expect(res?.status).toBe(400)
    expectAppHeaders(res as RawResponse)
    expect(res?.body.toString()).not.toMatch(/FST_|statusCode|Client Error/)
    expect(closedByServer).toBe(true)
  })

  it('a HEAD whose framing is broken gets a 400 with no body', async () => {
    const { bytes } = await exchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')
    const [res] = parseResponses(bytes, ['GET'])
    expect(res?.status).toBe(400)
    expect(res?.body.length).toBe(0)
  })
})

describe('a request that arrives too slowly', () => {
  it('gets a 408 in the app\'s form after REQUEST_TIMEOUT_MS, and is counted in /metrics', async () => {
    const slow = await build({ REQUEST_TIMEOUT_MS: '300' })
    const slowPort = Number(new URL(await slow.listen()).port)
    const rejected = async () => Number(/^redbin_requests_rejected_total (\d+)$/m.exec((await slow.app.inject({ url: '/metrics' })).body)?.[1])
    const before = await rejected()
    const started = Date.now()
    // The head never ends: the parser is still waiting for it when the time is up.
    const { bytes, closedByServer } = await exchange(slowPort, 'GET /api/pastes HTTP/1.1\r\nHost: x\r\n', 2_000)
    const [res] = parseResponses(bytes, ['GET'])
    expect(res?.status).toBe(408)
    expect(res?.headers.connection).toBe('close')
    expectAppHeaders(res as RawResponse)
    // Node keeps none of the bytes of a request that timed out: it may have been a HEAD, so no body.
    expect(res?.headers['content-length']).toBe('0')
    expect(res?.body.length).toBe(0)
    expect(closedByServer).toBe(true)
    // Node checks every quarter of the timeout here (every 30 s by its default).
    expect(Date.now() - started).toBeLessThan(1_500)
    expect(await rejected()).toBe(before + 1)
  })

  it('counts every answer of the parser\'s rejections', async () => {
    const count = async () => Number(/^redbin_requests_rejected_total (\d+)$/m.exec((await app.inject({ url: '/metrics' })).body)?.[1])
    const before = await count()
    await exchange(port, `GET /pastes HTTP/1.1\r\nHost: x\r\n${BIG_HEADER}\r\n`)
    await exchange(port, 'NOT HTTP AT ALL\r\n\r\n')
    expect(await count()).toBe(before + 2)
  })
})

describe('HEAD on a keep-alive connection', () => {
  it('a HEAD that carries a body (Node\'s client sends it unframed) leaves the next request\'s answer intact', async () => {
    // The reproduction: Node's http client with a keep-alive agent.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const send = (method: string, path: string, body?: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
        })
        req.on('error', reject)
        req.end(body)
      })
    try {
      for (const type of ['text/plain', 'image/png', 'application/json']) {
        const head = await send('HEAD', '/pastes', 'abc', { 'content-type': type })
        expect(head.body).toBe('')
        const next = await send('GET', '/healthz')
        expect(next).toEqual({ status: 200, body: '{"status":"ok"}' })
      }
    } finally {
      agent.destroy()
    }
  })

  it('pipelined HEADs, errors among them, are each answered without a body', async () => {
    const requests = [
      ['HEAD', '/pastes'], ['HEAD', '/AAAAAAAAAA'], ['HEAD', '/api/pastes/AAAAAAAAAA'], ['HEAD', '/%zz'],
      ['HEAD', `/${'a'.repeat(300)}`], ['HEAD', '/nothing/here'], ['GET', '/healthz'],
    ] as const
    const raw = requests.map(([method, path]) => `${method} ${path} HTTP/1.1\r\nHost: x\r\nAccept: ${HTML_ACCEPT}\r\n\r\n`).join('')
    const { bytes } = await exchange(port, raw)
    const responses = parseResponses(bytes, requests.map(([method]) => method))
    expect(responses.map((r) => r.status)).toEqual([200, 404, 404, 400, 414, 404, 200])
    for (const res of responses.slice(0, -1)) {
      expect(res.body.length).toBe(0)
      expectAppHeaders(res)
    }
    expect(responses.at(-1)?.body.toString()).toBe('{"status":"ok"}')
  })

  it('a HEAD followed by bytes that are not HTTP gets no body, whichever is answered first', async () => {
    for (const tail of ['abc', 'abcGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', '\u0000\u0001garbage\r\n\r\n']) {
      const { bytes } = await exchange(port, `HEAD /pastes HTTP/1.1\r\nHost: x\r\n\r\n${tail}`)
      // The client waits for one answer (to its HEAD), and then perhaps one to the junk.
      const responses = parseResponses(bytes, ['HEAD', 'GET'])
      expect(responses[0]?.body.length).toBe(0)
      expect(responses.length).toBeGreaterThanOrEqual(1)
    }
  })
})

/** Stops Redis answering anyone for `ms` (every master, on a cluster). */
async function pauseRedis(ms: number) {
  const servers = db.redis instanceof Cluster ? db.redis.nodes('master') : [db.redis]
  await Promise.all(servers.map((server) => server.call('CLIENT', 'PAUSE', String(ms), 'ALL')))
}

async function unpauseRedis() {
  const servers = db.redis instanceof Cluster ? db.redis.nodes('master') : [db.redis]
  await Promise.all(servers.map((server) => server.call('CLIENT', 'UNPAUSE')))
}

describe('bytes the parser refuses while a request is in flight', () => {
  // Redis paused: the HEAD's handler waits for it, so the junk after the HEAD, written a
  // moment later, is read and refused while the HEAD is unanswered. The client reads the
  // refusal as the answer to its HEAD: no body, whatever the junk looked like.
  it.each(['xGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', 'abc', 'GET / HTTP/9.9\r\n\r\n'])('answers a HEAD in flight without a body (junk %j)', async (junk) => {
    await pauseRedis(400)
    try {
      const { bytes } = await exchange(port, ['HEAD /pastes HTTP/1.1\r\nHost: x\r\n\r\n', junk])
      const [res] = parseResponses(bytes, ['HEAD'])
      expect(res?.status).toBe(400)
      expect(res?.headers.connection).toBe('close')
      expectAppHeaders(res as RawResponse)
    } finally {
      await unpauseRedis()
    }
  })

  it('answers a GET in flight in its form, with a body', async () => {
    await pauseRedis(400)
    try {
      const { bytes } = await exchange(port, ['GET /api/pastes HTTP/1.1\r\nHost: x\r\n\r\n', 'HEAD\u0000 junk\r\n\r\n'])
      const [res] = parseResponses(bytes, ['GET'])
      expect(res?.status).toBe(400)
      expect(JSON.parse(res?.body.toString() ?? '')).toEqual({ error: 'The request is not valid HTTP.' })
    } finally {
      await unpauseRedis()
    }
  })
})

describe('curl -T with a name that is an Object property', () => {
  it.each(['constructor', '__proto__', 'toString'])('curl -T %s URL/ creates a paste titled %s', async (name) => {
    await writeFile(join(dir, name), 'a file with an awkward name\n')
    const res = parseCurlResponse(await curl(['-i', '-T', name, `http://127.0.0.1:${port}/`], dir))
    expect(res.status, res.body).toBe(201)
    const stored = await storedPaste(app, idFromUrl(res.body))
    expect(stored).toMatchObject({ title: name, content: 'a file with an awkward name\n', language: 'plaintext' })
  })
})
