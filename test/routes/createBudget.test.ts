// CREATE_BYTES_IN_FLIGHT: the body bytes of creates in flight are bounded; a create beyond the
// bound waits its turn with its body unread (CREATE_WAIT_MS), then gets a 503 with Retry-After,
// and the bytes come back on every way a create ends (answered, refused, or its client gone).
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { useTestRedis } from '../helpers/redis.js'
import { useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
const BUDGET = 100_000
const WAIT_MS = 300
let server: TestApp
let port: number

beforeAll(async () => {
  server = await build({ CREATE_BYTES_IN_FLIGHT: String(BUDGET), CREATE_WAIT_MS: String(WAIT_MS) })
  port = Number(new URL(await server.listen()).port)
})

/**
 * A request (`PUT /slow.txt`, its headers, an ASCII body) whose client has sent the headers and
 * `sent` bytes of the body, and waits; finish() sends the rest and returns the whole answer.
 */
async function slowRequest(line: string, headers: Record<string, string>, body: string, sent: number): Promise<{ socket: Socket; finish: () => Promise<string> }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const head = Object.entries({ host: 'x', ...headers, 'content-length': String(body.length), connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`).join('')
  socket.write(`${line} HTTP/1.1\r\n${head}\r\n`)
  socket.write(body.slice(0, sent))
  await waitForInFlight(body.length)
  return {
    socket,
    finish: async () => {
      socket.write(body.slice(sent))
      await ended
      return answer
    },
  }
}

/** A raw upload of `length` bytes whose client has sent the headers and `sent` bytes, and waits. */
const slowUpload = (length: number, sent: number) => slowRequest('PUT /slow.txt', { 'content-type': 'text/plain' }, 'a'.repeat(length), sent)

async function gauge(name: string): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  return Number(new RegExp(`^redbin_${name} (\\d+)`, 'm').exec(metrics)?.[1])
}

const inFlight = () => gauge('create_bytes_in_flight')

async function waitForInFlight(bytes: number): Promise<void> {
  for (let i = 0; i < 100 && (await inFlight()) !== bytes; i++) await sleep(20)
  expect(await inFlight()).toBe(bytes)
}

async function waitForQueued(requests: number): Promise<void> {
  for (let i = 0; i < 100 && (await gauge('creates_waiting')) !== requests; i++) await sleep(10)
  expect(await gauge('creates_waiting')).toBe(requests)
}

const createJson = (content: string) => fetch(`${server.url}/api/pastes`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content }),
})

describe('creates in flight are bounded by their body bytes', () => {
  it('holds a create beyond the bound until the bytes before it are back, then takes it', async () => {
    const upload = await slowUpload(80_000, 1000)
    const waiting = createJson('x'.repeat(30_000))
    await waitForQueued(1)
    // First come, first served: a create that would fit waits behind it.
    const behind = createJson('small paste')
    await waitForQueued(2)
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    expect([(await waiting).status, (await behind).status]).toEqual([201, 201])
    await waitForInFlight(0)
    expect(await gauge('creates_waiting')).toBe(0)
  })

  it('answers 503 with Retry-After to a create that waited CREATE_WAIT_MS in vain; those behind it go on', async () => {
    const upload = await slowUpload(80_000, 1000)
    const started = Date.now()
    const refused = await createJson('x'.repeat(30_000))
    expect(refused.status).toBe(503)
    expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 20)
    expect(refused.headers.get('retry-after')).toBe('2')
    expect((await refused.json() as { error: string }).error).toMatch(/busy/)
    // A create that fits in what is left is taken meanwhile.
    expect((await createJson('small paste')).status).toBe(201)
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    await waitForInFlight(0)
    expect((await createJson('x'.repeat(30_000))).status).toBe(201)
  })

  it('bounds forms and raw uploads too, before reading their bodies', async () => {
    const upload = await slowUpload(90_000, 10)
    const form = await fetch(`${server.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `content=${'y'.repeat(20_000)}` })
    const raw = await fetch(`${server.url}/notes.txt`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(20_000) })
    expect([form.status, raw.status]).toEqual([503, 503])
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    await waitForInFlight(0)
  })

  it('always takes one create, even one larger than the bound', async () => {
    const res = await fetch(`${server.url}/big.txt`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'b'.repeat(BUDGET * 2) })
    expect(res.status).toBe(201)
    await waitForInFlight(0)
  })

  it('gives the bytes back when a client goes away in the middle of its body', async () => {
    const upload = await slowUpload(70_000, 500)
    upload.socket.destroy()
    await waitForInFlight(0)
  })

  it('forgets a waiting create whose client went away: it takes nothing', async () => {
    const upload = await slowUpload(80_000, 1000)
    const controller = new AbortController()
    const waiting = fetch(`${server.url}/api/pastes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'w'.repeat(30_000) }), signal: controller.signal }).catch(() => 'aborted')
    await waitForQueued(1)
    controller.abort()
    expect(await waiting).toBe('aborted')
    await waitForQueued(0)
    expect(await inFlight()).toBe(80_000)
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    await waitForInFlight(0)
  })

  it('gives the bytes back after a create through app.inject, as the tests send them', async () => {
    const res = await server.app.inject({ method: 'PUT', url: '/', headers: { 'content-type': 'text/plain' }, payload: 'i'.repeat(60_000) })
    expect(res.statusCode).toBe(201)
    await waitForInFlight(0)
  })

  it('gives the bytes back when a create is refused for its content', async () => {
    const res = await createJson(' \n ')
    expect(res.status).toBe(400)
    await waitForInFlight(0)
  })
})

