// Shared helpers for the route tests: creating pastes through the real routes, building
// multipart bodies, polling, running the real curl, and checking error bodies.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, expect } from 'vitest'
import { Store } from '../../src/model/index.js'
import { Paste } from '../../src/pastes/Paste.js'
import { buildTestApp, type TestApp } from '../helpers/app.js'
import type { TestRedis } from '../helpers/redis.js'

const run = promisify(execFile)

export const HTML_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

/** The Content-Type of an urlencoded form body. */
export const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

/** A paste as the JSON API returns it (reading a burn paste this way consumes it). */
export async function storedPaste(app: FastifyInstance, id: string) {
  const res = await app.inject({ url: `/api/pastes/${id}` })
  expect(res.statusCode, res.body).toBe(200)
  return res.json<{ content: string; title: string; language: string; visibility: string; burn: boolean; expiresAt: string | null }>()
}

/**
 * Builds apps the way production connects to Redis: with the fail-fast client of
 * src/redis/client.ts (TestRedis.connectApp). buildTestApp alone uses TestRedis.connect(), whose
 * ioredis defaults queue commands while Redis is down, so an outage would answer only after
 * ~10 s and the 503 tests could not hold. Call at the top of a test file; apps are closed after it.
 */
export function useApps(db: TestRedis): (env?: Record<string, string>) => Promise<TestApp> {
  const apps: TestApp[] = []
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.app.close()))
  })
  return async (env = {}) => {
    const client = await db.connectApp()
    const testApp = await buildTestApp({ ...db, connect: () => client }, env)
    apps.push(testApp)
    return testApp
  }
}

/** What POST /api/pastes answers with. */
export interface CreatedPaste {
  id: string
  url: string
  rawUrl: string
  deleteToken: string
  title: string
  language: string
  createdAt: string
  expiresAt: string | null
  burn: boolean
  visibility: 'public' | 'unlisted'
  size: number
  lines: number
}

export interface CreateInput {
  content: string
  title?: string
  language?: string
  expires?: string | number
  visibility?: 'public' | 'unlisted'
  burn?: boolean
}

/** Creates a paste through the JSON API and returns its body (fails the test on anything but 201). */
export async function createPaste(app: FastifyInstance, input: CreateInput): Promise<CreatedPaste> {
  const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: input })
  expect(res.statusCode, res.body).toBe(201)
  return res.json<CreatedPaste>()
}

/** A multipart/form-data body built by the platform's own FormData encoder. */
export async function multipart(fields: Record<string, string | { value: string | Buffer; filename: string; type?: string }>): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value === 'string') form.append(name, value)
    else form.append(name, new Blob([typeof value.value === 'string' ? value.value : new Uint8Array(value.value)], { type: value.type ?? 'application/octet-stream' }), value.filename)
  }
  const request = new Request('http://localhost/', { method: 'POST', body: form })
  return {
    payload: Buffer.from(await request.arrayBuffer()),
    headers: { 'content-type': request.headers.get('content-type') ?? '' },
  }
}

/** The id at the end of a created paste's URL (`<PUBLIC_URL>/<id>\n` or `/id`). */
export function idFromUrl(url: string): string {
  const id = url.trim().split('/').pop()
  if (!id) throw new Error(`no id in ${url}`)
  return id
}

/** Polls `check` until it returns true (or a value), failing after `timeoutMs`. */
export async function waitUntil<T>(check: () => Promise<T | false | null | undefined> | T | false | null | undefined, timeoutMs = 5000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

const stores = new WeakMap<TestRedis, Store>()

/**
 * Waits until the worker has rendered the paste's page and stored it with the paste (creates
 * never wait for it). Reads the record itself: no route says whether the page is the final one.
 */
export async function waitForStoredPage(db: TestRedis, id: string, timeoutMs = 5000): Promise<void> {
  await waitUntil(() => storedPageVersion(db, id), timeoutMs)
}

/** The templates version of the page stored with the paste now: null when none is stored yet. */
export async function storedPageVersion(db: TestRedis, id: string): Promise<string | null> {
  let store = stores.get(db)
  if (!store) stores.set(db, (store = new Store(db.redis, { prefix: db.prefix })))
  return (await Paste.load(store, id, { select: ['renderVersion'] }))?.renderVersion ?? null
}

/** An error response must never carry a stack trace or internal file paths. */
export function expectNoStack(res: LightMyRequestResponse | { body: string }) {
  expect(res.body).not.toMatch(/^\s+at /m)
  expect(res.body).not.toMatch(/\/src\/|node_modules|\.ts:\d+/)
}

/** Runs the real curl binary; resolves with its stdout (headers included when -i/-D - is passed). */
export async function curl(args: string[], cwd?: string): Promise<string> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', ...args], { cwd, encoding: 'utf8', maxBuffer: 10 * 1024 * 1024 })
  return stdout
}

/** Splits `curl -i` output into status, lower-cased headers and body. */
export function parseCurlResponse(output: string): { status: number; headers: Record<string, string>; body: string } {
  // curl may print several header blocks (100 Continue); the last one is the answer.
  let rest = output
  for (;;) {
    const end = rest.indexOf('\r\n\r\n')
    if (end < 0) throw new Error(`no headers in curl output: ${output.slice(0, 200)}`)
    const head = rest.slice(0, end)
    rest = rest.slice(end + 4)
    const [statusLine = '', ...lines] = head.split('\r\n')
    const status = Number(statusLine.split(' ')[1])
    if (status === 100) continue
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
    }
    return { status, headers, body: rest }
  }
}
