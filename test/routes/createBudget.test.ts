// CREATE_BYTES_IN_FLIGHT: the body bytes of creates in flight are bounded; a create beyond the
// bound gets a 503 with Retry-After before its body is read, and the bytes come back on every
// way a create ends (answered, refused, or its client gone).
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { beforeAll, describe, expect, it } from 'vitest'
import type { TestApp } from '../helpers/app.js'
import { useTestRedis } from '../helpers/redis.js'
import { useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
const BUDGET = 100_000
let server: TestApp
let port: number

beforeAll(async () => {
  server = await build({ CREATE_BYTES_IN_FLIGHT: String(BUDGET) })
  port = Number(new URL(await server.listen()).port)
})

/** A raw upload of `length` bytes whose client has sent the headers and `sent` bytes, and waits. */
async function slowUpload(length: number, sent: number): Promise<{ socket: Socket; finish: () => Promise<string> }> {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let answer = ''
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.write(`PUT /slow.txt HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`)
  socket.write('a'.repeat(sent))
  await waitForInFlight(length)
  return {
    socket,
    finish: async () => {
      socket.write('a'.repeat(length - sent))
      await ended
      return answer
    },
  }
}

async function inFlight(): Promise<number> {
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  return Number(/^redbin_create_bytes_in_flight (\d+)/m.exec(metrics)?.[1])
}

async function waitForInFlight(bytes: number): Promise<void> {
  for (let i = 0; i < 100 && (await inFlight()) !== bytes; i++) await sleep(20)
  expect(await inFlight()).toBe(bytes)
}

const createJson = (content: string) => fetch(`${server.url}/api/pastes`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content }),
})

describe('creates in flight are bounded by their body bytes', () => {
  it('answers 503 with Retry-After to a create beyond the bound, and takes it once the bytes are back', async () => {
    const upload = await slowUpload(80_000, 1000)
    const refused = await createJson('x'.repeat(30_000))
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).toBe('2')
    expect((await refused.json() as { error: string }).error).toMatch(/busy/)
    // A create that fits in what is left is taken meanwhile.
    expect((await createJson('small paste')).status).toBe(201)

    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    await waitForInFlight(0)
    expect((await createJson('x'.repeat(30_000))).status).toBe(201)
  })

  it('refuses forms and raw uploads too, before reading their bodies', async () => {
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
