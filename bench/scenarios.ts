// The requests each scenario sends. Every request is rebuilt per send (autocannon's
// setupRequest), rotating over many ids; the ceiling gets the same rotation, so both pay the
// load generator the same.
import type { Request } from 'autocannon'
import { setTimeout as sleep } from 'node:timers/promises'
import { http } from './http.js'
import { Durations, latencyOf } from './load.js'

export const SCENARIOS = ['ceiling', 'seed', 'page', 'raw', 'list', 'mixed', 'create', 'probe'] as const
export type ScenarioName = (typeof SCENARIOS)[number]

export const DESCRIPTIONS: Record<string, string> = {
  'ceiling': 'bare Fastify, fixed body the size of a small paste page',
  'ceiling-raw': 'bare Fastify, fixed body the size of a small paste\'s raw text',
  'ceiling-create': 'bare Fastify, POST of a 2 KB JSON paste answered 201',
  'ceiling-seed': 'bare Fastify, the seed test (10,000 requests of the page over 5 connections)',
  'seed': 'the original test: 10,000 views of one paste page over 5 connections',
  'page': 'GET /:id across the small pastes (80% bucket)',
  'raw': 'GET /:id/raw across the same pastes',
  'list': 'GET /pastes page 1 and a deep page, alternately',
  'list@1k': 'the list with 1,000 pastes (scale variant; runs alternate with the list at N)',
  'mixed': '90% page, 8% raw, 2% create',
  'create': 'POST /api/pastes with 2 KB of code, language auto',
  'probe': 'page views at a steady rate while 1 MiB pastes are created at a steady rate',
}

/**
 * `--workers N`'s rows: the page scenario against WORKERS=N on N CPUs, named page-Nw, and the
 * same paced at a fixed rate per worker, page-Nw-paced. Server CPU per response falls as the
 * rate rises (more requests share each event-loop turn and socket write), and on 2 cores N
 * workers share theirs with Redis and the load generator: only equal load per worker makes
 * the CPU per view of N workers comparable with one's.
 */
export const workersScenario = (workers: number, paced = false) => `page-${workers}w${paced ? '-paced' : ''}`
/** The rows the others' scaling is measured against. */
export const WORKERS_BASE = workersScenario(1)
export const PACED_WORKERS_BASE = workersScenario(1, true)
/**
 * The control of page-Nw-paced (N > 1): N servers of one worker side by side, each on 1 CPU
 * with a worker's share of the page cache, paced at the same rate per server. On 2 cores shared with Redis and the load generator, two
 * busy processes cost more CPU per view than one, whatever they are: two WORKERS=1 servers side
 * by side cost 1.31 × one's per view, and one WORKERS=2 server 1.32 × (2026-12-06, alternating
 * windows; docs/performance.md). Against this row page-Nw-paced shows what WORKERS=N itself costs.
 */
export const controlScenario = (servers: number) => `page-${servers}x1w-paced`

/** N of a page-Nw, page-Nw-paced or page-Nx1w-paced row; null for any other scenario. */
export function workersOf(name: string): number | null {
  const match = /^page-(\d+)(x1)?w(-paced)?(#\d+)?$/.exec(name)
  return match ? Number(match[1]) : null
}

/** Whether a row is a control (page-Nx1w-paced): N servers of one worker. */
export const isControl = (name: string) => /^page-\d+x1w-paced(#\d+)?$/.test(name)

export function titleOf(name: string): string {
  const workers = workersOf(name)
  const round = /#\d+$/.exec(name)?.[0].replace('#', ', round ') ?? ''
  if (workers !== null && isControl(name)) return `${DESCRIPTIONS.page}, ${workers} servers of WORKERS=1 side by side, each on 1 CPU, paced per server${round}`
  if (workers !== null) return `${DESCRIPTIONS.page}, WORKERS=${workers} on ${workers} CPU${workers > 1 ? 's' : ''}${/-paced(#|$)/.test(name) ? ', paced per worker' : ''}${round}`
  // The scale variant's repeated list runs (list#2, list@1k#3, ...): the list's description.
  const again = /^(.+)#(\d+)$/.exec(name)
  if (again) return `${DESCRIPTIONS[again[1]!] ?? again[1]}, run ${again[2]}`
  return DESCRIPTIONS[name] ?? name
}

const JSON_HEADERS = { 'content-type': 'application/json' }

/** One request rebuilt each time from `next()`. */
function rotating(next: () => Request): Request[] {
  return [{ setupRequest: (request: Request) => ({ ...request, ...next() }) }]
}

function cycle<T>(items: readonly T[]): () => T {
  if (items.length === 0) throw new Error('nothing to cycle over')
  let i = 0
  return () => items[i++ % items.length]!
}

export function pageRequests(ids: string[]): Request[] {
  const id = cycle(ids)
  return rotating(() => ({ method: 'GET', path: `/${id()}` }))
}

export function rawRequests(ids: string[]): Request[] {
  const id = cycle(ids)
  return rotating(() => ({ method: 'GET', path: `/${id()}/raw` }))
}

export function fixedRequest(path: string): Request[] {
  return [{ method: 'GET', path }]
}

export function listRequests(deepPage: number): Request[] {
  const path = cycle(['/pastes', `/pastes?page=${deepPage}`])
  return rotating(() => ({ method: 'GET', path: path() }))
}

export function createRequests(bodies: Buffer[]): Request[] {
  const body = cycle(bodies)
  return rotating(() => ({ method: 'POST', path: '/api/pastes', headers: JSON_HEADERS, body: body() }))
}

export function mixedRequests(ids: string[], bodies: Buffer[], random: () => number): Request[] {
  const id = cycle(ids)
  const body = cycle(bodies)
  return rotating(() => {
    const r = random()
    if (r < 0.9) return { method: 'GET', path: `/${id()}`, headers: {}, body: Buffer.alloc(0) }
    if (r < 0.98) return { method: 'GET', path: `/${id()}/raw`, headers: {}, body: Buffer.alloc(0) }
    return { method: 'POST', path: '/api/pastes', headers: JSON_HEADERS, body: body() }
  })
}

/**
 * The event-loop probe's second load: creates of ~1 MiB pastes at `perSecond`, on a steady
 * schedule (a slow create does not delay the next), until `signal` fires.
 */
export function bigCreates(baseUrl: string, bodies: string[], perSecond: number) {
  return async (signal: AbortSignal): Promise<Record<string, number | string>> => {
    const durations = new Durations()
    const inFlight = new Set<Promise<void>>()
    const body = cycle(bodies)
    let sent = 0
    let failed = 0
    let firstFailure = ''
    const fail = (reason: string) => {
      failed++
      firstFailure ||= reason
    }
    const interval = 1000 / perSecond
    const started = performance.now()
    while (!signal.aborted) {
      sent++
      const t0 = performance.now()
      const create = http('POST', `${baseUrl}/api/pastes`, { headers: JSON_HEADERS, body: body() })
        .then((response) => {
          if (response.status === 201) durations.push(performance.now() - t0)
          else fail(`${response.status} ${response.text().slice(0, 200)}`)
        })
        .catch((err: Error) => fail(err.message))
      inFlight.add(create)
      void create.finally(() => inFlight.delete(create))
      const wait = started + sent * interval - performance.now()
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => {})
    }
    await Promise.all(inFlight)
    const latency = latencyOf(durations.toArray())
    return {
      bigCreates: sent,
      bigCreateFailures: failed,
      bigCreateBytes: Buffer.byteLength(bodies[0] ?? ''),
      bigCreateP50Ms: Math.round(latency.p50 * 100) / 100,
      bigCreateMaxMs: Math.round(latency.max * 100) / 100,
      ...(firstFailure ? { bigCreateFirstFailure: firstFailure } : {}),
    }
  }
}
