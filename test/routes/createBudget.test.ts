// CREATE_BYTES_IN_FLIGHT: the body bytes of creates and edits in flight are bounded, together; one
// beyond the bound waits its turn with its body unread (CREATE_WAIT_MS), then gets a 503 with
// Retry-After, and the bytes come back on every way a request ends (answered, refused, or its
// client gone).
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

/** A new paste to edit: its id and delete token. */
async function pasteToEdit(): Promise<{ id: string; token: string }> {
  const res = await createJson('before the edit\n')
  expect(res.status).toBe(201)
  const { id, deleteToken } = await res.json() as { id: string; deleteToken: string }
  return { id, token: deleteToken }
}

/** The three edit routes that take a body: the JSON API, the edit page's PUT, the form's POST. */
const editJson = (id: string, token: string | null, content: string) => fetch(`${server.url}/api/pastes/${id}`, {
  method: 'PUT',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify({ content }),
})
const editRaw = (id: string, token: string | null, content: string) => fetch(`${server.url}/${id}/edit`, {
  method: 'PUT',
  headers: { 'content-type': 'text/plain', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: content,
})
const editForm = (id: string, token: string | null, content: string) => fetch(`${server.url}/${id}/edit`, {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ content, ...(token ? { token } : {}) }).toString(),
  redirect: 'manual',
})

async function contentOf(id: string): Promise<string> {
  return (await (await fetch(`${server.url}/api/pastes/${id}`)).json() as { content: string }).content
}

describe('edits share the bound with creates', () => {
  it('holds an edit behind a create that holds the bytes, and lets it go on when that create is done', async () => {
    const [a, b, c] = [await pasteToEdit(), await pasteToEdit(), await pasteToEdit()]
    const upload = await slowUpload(80_000, 1000)
    let settled = 0
    const edits = [editJson(a.id, a.token, 'j'.repeat(30_000)), editRaw(b.id, b.token, 'r'.repeat(30_000)), editForm(c.id, c.token, 'f'.repeat(30_000))]
      .map((edit) => edit.finally(() => settled++))
    await waitForQueued(3)
    await sleep(50)
    expect(settled).toBe(0)
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    expect((await Promise.all(edits)).map((res) => res.status)).toEqual([200, 200, 303])
    expect([await contentOf(a.id), await contentOf(b.id), await contentOf(c.id)]).toEqual(['j'.repeat(30_000), 'r'.repeat(30_000), 'f'.repeat(30_000)])
    await waitForInFlight(0)
    expect(await gauge('creates_waiting')).toBe(0)
  })

  it('answers 503 with Retry-After to an edit that waited CREATE_WAIT_MS in vain, and leaves the paste as it was', async () => {
    const paste = await pasteToEdit()
    const upload = await slowUpload(80_000, 1000)
    const started = Date.now()
    const [json, raw, form] = await Promise.all([
      editJson(paste.id, paste.token, 'j'.repeat(30_000)), editRaw(paste.id, paste.token, 'r'.repeat(30_000)), editForm(paste.id, paste.token, 'f'.repeat(30_000)),
    ])
    expect(Date.now() - started).toBeGreaterThanOrEqual(WAIT_MS - 20)
    expect([json.status, raw.status, form.status]).toEqual([503, 503, 503])
    expect([json.headers.get('retry-after'), raw.headers.get('retry-after'), form.headers.get('retry-after')]).toEqual(['2', '2', '2'])
    expect((await json.json() as { error: string }).error).toMatch(/busy/)
    expect(await upload.finish()).toMatch(/^HTTP\/1.1 201/)
    await waitForInFlight(0)
    expect(await contentOf(paste.id)).toBe('before the edit\n')
  })

  it('takes an edit\'s body bytes while it is in flight, and gives them back after it', async () => {
    const paste = await pasteToEdit()
    const body = JSON.stringify({ content: 'e'.repeat(60_000) })
    // slowRequest waits until the edit holds its body's bytes.
    const edit = await slowRequest(`PUT /api/pastes/${paste.id}`, { 'content-type': 'application/json', authorization: `Bearer ${paste.token}` }, body, 100)
    expect(await edit.finish()).toMatch(/^HTTP\/1.1 200 /)
    await waitForInFlight(0)
    expect(await contentOf(paste.id)).toBe('e'.repeat(60_000))
  })

  it('takes an edit\'s bytes before its token is checked, and gives them back when it is refused: 401, 403, 404', async () => {
    const paste = await pasteToEdit()
    const unknown = 'zzzzzzzzzz'
    const json = JSON.stringify({ content: 'n'.repeat(40_000) })
    const form = (token: string | null) => new URLSearchParams({ content: 'n'.repeat(40_000), ...(token ? { token } : {}) }).toString()
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const asJson = { 'content-type': 'application/json' }
    const asForm = { 'content-type': 'application/x-www-form-urlencoded' }
    const refusals: [line: string, headers: Record<string, string>, body: string, status: number][] = [
      [`PUT /api/pastes/${paste.id}`, asJson, json, 401],
      [`PUT /api/pastes/${paste.id}`, { ...asJson, ...bearer('not-the-token') }, json, 403],
      [`PUT /api/pastes/${unknown}`, { ...asJson, ...bearer(paste.token) }, json, 404],
      ['PUT /api/pastes/no', { ...asJson, ...bearer(paste.token) }, json, 404],
      [`PUT /${paste.id}/edit`, { 'content-type': 'text/plain' }, 'n'.repeat(40_000), 401],
      [`POST /${paste.id}/edit`, asForm, form(null), 403],
      [`POST /${paste.id}/edit`, asForm, form('not-the-token'), 403],
      [`POST /${unknown}/edit`, asForm, form(paste.token), 404],
    ]
    for (const [line, headers, body, status] of refusals) {
      // slowRequest waits until the edit holds its body's bytes.
      const edit = await slowRequest(line, headers, body, 100)
      expect(await edit.finish(), line).toMatch(new RegExp(`^HTTP/1.1 ${status} `))
      await waitForInFlight(0)
    }
    expect(await contentOf(paste.id)).toBe('before the edit\n')
  })
})
