// A seeded, property-based fuzz of the real listening server (issue 15). Each case is one
// hostile request (requests.ts) sent on a fresh connection, followed on the same keep-alive
// connection by GET /healthz, and every byte that comes back is read strictly. Properties:
// - no 5xx, and no stack trace or internal type in any body;
// - the app's security headers on every answer, and every error in the app's form;
// - a HEAD's answer has no body: the answer to the request after it must still parse;
// - the server stays healthy (the follow-up, and /healthz within 1 s every 250 cases);
// - no delete token appears in any answer but that of the create that made it;
// - the pastes created before the run are still there, byte for byte, after it.
// The seed is printed; FUZZ_SEED=<seed> replays a run (FUZZ_PATH too, for fast-check's
// shrunk case), FUZZ_RUNS sets its length: `npm run fuzz -- --runs 100000 [--seed N]`.
// A failing case is shrunk to a minimal request and printed as a curl command.
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { exchange, parseResponses, type RawResponse } from '../helpers/rawHttp.js'
import { useTestRedis } from '../helpers/redis.js'
import { useApps } from '../routes/fixtures.js'
import { fuzzRequests, HIDDEN_ROUTES, serialize, toCommand, type FuzzRequest } from './requests.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000)
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff)
const REPLAY_PATH = process.env.FUZZ_PATH
const MAX_PASTE_BYTES = 64 * 1024
/** How long a well-framed request may take to be answered (a browser's create waits up to 1.5 s for its page). */
const ANSWER_WITHIN_MS = 5000
const HEALTH_EVERY = 250

const db = useTestRedis()
const build = useApps(db)
let base: string
let port: number

interface KnownPaste {
  id: string
  bytes: Buffer
  token: string
}
const known: KnownPaste[] = []
/** Every delete token handed out so far: none may appear in a later answer. */
const tokens = new Set<string>()

const FOLLOW_UP = Buffer.from('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')
const STACK_TRACE = [/^\s+at .+:\d+:\d+\)?$/m, /node_modules\//, /\/src\/[\w/]+\.(ts|js)\b/]
/** Internals in an error message: JavaScript's types ("got function") rather than the client's words. */
const INTERNALS = /\bgot (a |an )?(function|object|undefined|symbol)\b|\[object \w+\]/

beforeAll(async () => {
  const testApp = await build({ MAX_PASTE_BYTES: String(MAX_PASTE_BYTES) })
  base = await testApp.listen()
  port = Number(new URL(base).port)
  // Pastes made before the run, through each create route, with bytes that are easy to damage.
  const samples = fc.sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 3000 }), { seed: SEED, numRuns: 24 })
  for (const [i, sample] of samples.entries()) {
    const content = `${sample}\r\n\tend ${i}\u0000`
    const res = i % 2 === 0
      ? await fetch(`${base}/api/pastes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content, visibility: 'public' }) })
      : await fetch(`${base}/known-${i}.txt?visibility=public`, { method: 'PUT', body: content })
    expect(res.status, await res.clone().text()).toBe(201)
    const token = res.headers.get('x-delete-token') ?? (await res.json() as { deleteToken: string }).deleteToken
    const id = (res.headers.get('location') ?? '').split('/').pop() ?? ''
    known.push({ id, bytes: Buffer.from(content), token })
    tokens.add(token)
  }
})

/** The method whose answer the client waits for first: the request line's, if there is one. */
function firstMethod(request: FuzzRequest): string {
  if (!request.raw) return request.method
  return /^([A-Z]+) /.exec(request.raw.subarray(0, 16).toString('latin1'))?.[1] ?? '?'
}

/**
 * Whether the request is valid HTTP/1.1 on the wire. One that is not (a raw byte in its URL or a
 * header) is the parser's to refuse, and its answer may have no body: it is held to the rules
 * of broken framing.
 */
function isValidHttp(request: FuzzRequest): boolean {
  return !request.raw && /^[\x21-\x7e]+$/.test(request.target) && request.headers.every(([, value]) => /^[\t\x20-\x7e]*$/.test(value))
}

const isApi = (target: string) => target === '/api' || target.startsWith('/api/') || target.startsWith('/api?')

/**
 * Every answer carries the app's security headers, and an error is in the app's form: JSON
 * {error} on the API, a page for a browser, a line of text for anyone else, never the URL back.
 */
function checkForm(request: FuzzRequest, res: RawResponse): void {
  if (!res.headers['content-security-policy'] || res.headers['x-content-type-options'] !== 'nosniff') {
    throw new Error(`an answer (${res.status}) without the security headers: ${Object.keys(res.headers).join(', ')}`)
  }
  if (res.status < 400 || !isValidHttp(request) || request.method === 'HEAD') return
  const type = res.headers['content-type'] ?? ''
  const body = res.body.toString('utf8')
  const accept = request.headers.filter(([name]) => name === 'accept').map(([, value]) => value).join(',')
  if (isApi(request.target)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      throw new Error(`an API error that is not JSON (${res.status}, ${type}): ${body.slice(0, 100)}`)
    }
    if (!type.startsWith('application/json') || typeof parsed !== 'object' || parsed === null || Object.keys(parsed).join() !== 'error') {
      throw new Error(`an API error not in the form {error} (${res.status}, ${type}): ${body.slice(0, 100)}`)
    }
  } else if (accept.includes('text/html')) {
    if (!type.startsWith('text/html')) throw new Error(`an error for a browser that is not a page (${res.status}, ${type})`)
  } else if (!type.startsWith('text/plain') || !body.endsWith('\n')) {
    throw new Error(`an error for curl that is not text (${res.status}, ${type}): ${body.slice(0, 100)}`)
  }
  const path = request.target.split('?', 1)[0] ?? ''
  if (path.length > 256 && (body.includes(path.slice(0, 256)) || body.includes(safeDecode(path).slice(0, 256)))) {
    throw new Error(`an error that echoes the URL (${res.status})`)
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** Delete tokens an answer hands out: the create's own, allowed in that answer only. */
function mintedTokens(responses: RawResponse[]): string[] {
  const found: string[] = []
  for (const res of responses) {
    if (res.headers['x-delete-token']) found.push(res.headers['x-delete-token'])
    const cookie = /owner_[\w-]+=([^;]+)/.exec(res.headers['set-cookie'] ?? '')
    if (cookie?.[1]) found.push(decodeURIComponent(cookie[1]))
    const json = /"deleteToken":"([^"]+)"/.exec(res.body.toString('latin1'))
    if (json?.[1]) found.push(json[1])
  }
  return found
}

async function healthyWithinOneSecond(): Promise<void> {
  const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1000) })
  if (res.status !== 200) throw new Error(`/healthz answered ${res.status}`)
}

let cases = 0
/** Answers by status (the first answer of each case), to show what the run reached. */
const statuses = new Map<number, number>()

/** One case: throws (with the reason) when a property does not hold. */
async function check(request: FuzzRequest): Promise<void> {
  cases++
  const parts = serialize(request)
  parts.push(Buffer.concat([parts.pop() ?? Buffer.alloc(0), FOLLOW_UP]))
  const { bytes, closedByServer } = await exchange(port, parts, request.raw ? 300 : ANSWER_WITHIN_MS)
  const expected = request.raw ? [firstMethod(request), 'GET', 'GET'] : [request.method, 'GET']
  // Throws when a byte does not belong to a properly framed answer: a body after a HEAD's.
  const responses = parseResponses(bytes, expected)
  const final = responses.filter((r) => r.status >= 200)
  const first = final[0]?.status ?? 0
  statuses.set(first, (statuses.get(first) ?? 0) + 1)
  for (const res of responses) {
    if (res.status >= 500) throw new Error(`answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`)
    const text = res.body.toString('latin1')
    for (const pattern of STACK_TRACE) if (pattern.test(text)) throw new Error(`a stack trace or source path in the body: ${text.slice(0, 300)}`)
    if (res.status >= 400 && INTERNALS.test(text)) throw new Error(`an error that shows internals: ${text.slice(0, 200)}`)
  }
  if (firstMethod(request) === 'HEAD' && (final[0]?.body.length ?? 0) > 0) throw new Error('a body in the answer to a HEAD')
  for (const res of final) checkForm(request, res)
  const answer = bytes.toString('latin1')
  for (const token of tokens) if (answer.includes(token)) throw new Error('a delete token in an answer other than its create')
  for (const token of mintedTokens(responses)) tokens.add(token)
  if (isValidHttp(request)) {
    if (!closedByServer) throw new Error(`no complete answer within ${ANSWER_WITHIN_MS} ms`)
    if (final.length === 0) throw new Error('the connection closed without an answer')
    // A server that keeps the connection open must answer the request after this one, intact.
    if (final.length === 1 && final[0]?.headers.connection !== 'close') throw new Error('the connection closed after the first answer without Connection: close')
    if (final.length === 2 && (final[1]?.status !== 200 || final[1].body.toString() !== '{"status":"ok"}')) {
      throw new Error(`the request after it got ${final[1]?.status}: ${final[1]?.body.toString().slice(0, 100)}`)
    }
  }
  if (cases % HEALTH_EVERY === 0) await healthyWithinOneSecond()
}

describe('hostile requests (fuzz)', () => {
  it(`${RUNS} requests: no 5xx, no stack trace, no body to a HEAD, no leaked token, no damaged paste`, async () => {
    const openapi = await (await fetch(`${base}/openapi.json`)).json() as { paths: Record<string, unknown> }
    const templates = [...Object.keys(openapi.paths), ...HIDDEN_ROUTES]
    const arbitrary = fuzzRequests({ templates, ids: known.map((p) => p.id) })
    console.log(`fuzz: seed ${SEED}, ${RUNS} requests; replay: npm run fuzz -- --seed ${SEED} --runs ${RUNS}`)

    const started = Date.now()
    const result = await fc.check(fc.asyncProperty(arbitrary, check), { seed: SEED, numRuns: RUNS, ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}) })
    if (result.failed) {
      const [request] = result.counterexample ?? []
      const message = [
        `fuzz failed after ${result.numRuns} cases (seed ${SEED}, path ${result.counterexamplePath}; replay: npm run fuzz -- --seed ${SEED} --runs ${RUNS} --path ${result.counterexamplePath})`,
        `reason: ${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}`,
        `the shrunk request (${result.numShrinks} shrinks), against a server started as this test does (MAX_PASTE_BYTES=${MAX_PASTE_BYTES}):`,
        request ? toCommand(request, base) : '(none)',
      ].join('\n')
      console.error(message)
      expect.fail(message)
    }
    console.log(`fuzz: ${cases} requests sent in ${((Date.now() - started) / 1000).toFixed(1)} s, ${tokens.size - known.length} pastes created by the fuzz; first answers by status (0: none): ${[...statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ')}`)

    await healthyWithinOneSecond()
    for (const paste of known) {
      const res = await fetch(`${base}/${paste.id}/raw`)
      expect(res.status, paste.id).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(paste.bytes), `${paste.id} byte for byte`).toBe(true)
    }
  }, 60_000 + RUNS * 100)
})
