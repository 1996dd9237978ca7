// The command line of `npm run bench`: its options, their checks, and the usage text.
import { parseArgs } from 'node:util'
import { SCENARIOS } from './scenarios.js'

export const REALISTIC_PASTES = 10_000
const MAX_WORKERS = 64

export const USAGE = `Usage: npm run bench -- [options]

  --pastes N        pastes to seed (default 10000). Above 10000 runs the scale variant: the
                    data grows to N (10,000 realistic ones through the API, the rest ~200 B,
                    public, through the model layer), and the list at N is compared with a
                    list of 1,000 such pastes under their own prefix and server, in runs that
                    alternate (with --url: the 1,000 are listed before the growth)
  --duration S      seconds each scenario is measured (default 10), after a warm-up
  --warmup S        warm-up seconds before each scenario (default 2)
  --connections N   connections for page, raw, list, create, mixed, probe (default 50)
  --only a,b        run only these scenarios: ${SCENARIOS.join(', ')}
  --baseline        also write bench/BASELINE.md
  --url URL         measure a server that already runs there (no build, no confinement, no
                    ceiling); its creates must not be rate-limited. With REDIS_URL (and its
                    REDIS_PREFIX), the scale variant writes there too
  --probe-rate N    1 MiB creates per second during the event-loop probe (default 3)
  --probe-views N   page views per second meanwhile, over 10 connections (default 1000):
                    a steady load, not a flood, so the delay shows blocking, not queueing
  --workers 1,2     after the scenarios, measure page again against WORKERS=N for each N, in
                    order, each confined to N CPUs (quota N × period, cores 0..N-1, the same
                    2 GB): rows page-Nw, compared to page-1w, plus the CPU per request and the
                    req/s the machine's cores allow. Redis and the load generator move to the
                    cores left, or share all of them when none are. Each N is measured twice:
                    alone, as fast as it answers (page-Nw: req/s and memory, for information),
                    and paced at --worker-rate views per second per worker (page-Nw-paced: the
                    CPU per view at the same load per worker). For each N > 1, N servers of one
                    worker side by side are paced the same way (page-Nx1w-paced): the scaling
                    target compares page-Nw-paced with them. The paced rows of a round are all
                    up at once and take turns in windows of 1 s
  --worker-rate N   page views per second per worker in the page-Nw-paced rows (default 3000)
  --worker-rounds N rounds of the --workers rows (default 3); the rows with plain names are the
                    round whose paced CPU ratio (largest N to its N servers of one worker) is
                    the median, the others are listed as page-Nw#R
  --cpu-period US   CFS period of the cgroups, in µs (default 100000)
  --seed N          seed of the data generator (default 1): equal seeds, equal data
  --seed-rounds N   rounds of ceiling-seed and seed (default 5), each pair alternating in
                    windows of 2,000 of its 10,000 views; the seed row is the round of median
                    ratio, the others are listed as seed#N
  --page-rounds N   rounds of ceiling and page, and of ceiling-raw and raw (default 3), each
                    pair alternating in windows of 1 s for --duration seconds each; the page
                    and raw rows are the rounds of median CPU ratio, the others page#N
  --profile         start the server with node --cpu-prof (profiles in bench/results/profiles)

BENCH_LOG_LEVEL: the server's LOG_LEVEL (default warn).
REDIS_URL set: use that Redis (keys under bench:, cleared before and after) instead of
starting a private redis-server. Never point it at a Redis whose bench: keys matter.`

export interface Options {
  pastes: number
  duration: number
  warmup: number
  connections: number
  only: Set<string> | null
  baseline: boolean
  url: string | null
  probeRate: number
  probeViews: number
  cpuPeriodUs: number
  seed: number
  /** --seed-rounds: ceiling-seed, seed pairs (alternating in windows); the median pair's rows are seed's. */
  seedRounds: number
  /** --page-rounds: alternating ceiling, page (and ceiling-raw, raw) pairs; the median pair's rows take the plain names. */
  pageRounds: number
  profile: boolean
  /** --workers: the WORKERS values to measure page against; null: no scaling section. */
  workers: number[] | null
  /** --worker-rate: views per second per worker in the paced page-Nw rows. */
  workerRate: number
  /** --worker-rounds: rounds of the --workers rows; the median round's rows carry the plain names. */
  workerRounds: number
}

export function parseOptions(argv: string[]): Options {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
    options: {
      'pastes': { type: 'string', default: String(REALISTIC_PASTES) },
      'duration': { type: 'string', default: '10' },
      'warmup': { type: 'string', default: '2' },
      'connections': { type: 'string', default: '50' },
      'only': { type: 'string' },
      'baseline': { type: 'boolean', default: false },
      'url': { type: 'string' },
      'probe-rate': { type: 'string', default: '3' },
      'probe-views': { type: 'string', default: '1000' },
      'cpu-period': { type: 'string', default: '100000' },
      'seed': { type: 'string', default: '1' },
      'seed-rounds': { type: 'string', default: '5' },
      'page-rounds': { type: 'string', default: '3' },
      'profile': { type: 'boolean', default: false },
      'workers': { type: 'string' },
      'worker-rate': { type: 'string', default: '3000' },
      'worker-rounds': { type: 'string', default: '3' },
      'help': { type: 'boolean', default: false },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values } = parsed
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const number = (name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(raw)
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${raw}"`)
    return n
  }
  const only = values.only ? new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean)) : null
  for (const name of only ?? []) {
    if (!(SCENARIOS as readonly string[]).includes(name)) throw new UsageError(`--only: unknown scenario "${name}"; choose from ${SCENARIOS.join(', ')}`)
  }
  if (values.url && !/^https?:\/\//.test(values.url)) throw new UsageError('--url must be an http:// or https:// URL')
  const workers = values.workers === undefined ? null : parseWorkers(values.workers)
  if (workers && values.url) throw new UsageError('--workers starts and confines its own servers: it cannot measure --url')
  return {
    pastes: Math.round(number('pastes', values.pastes, 100, 10_000_000)),
    duration: number('duration', values.duration, 1, 3600),
    warmup: number('warmup', values.warmup, 0, 600),
    connections: Math.round(number('connections', values.connections, 1, 10_000)),
    only,
    baseline: values.baseline,
    url: values.url?.replace(/\/+$/, '') ?? null,
    probeRate: number('probe-rate', values['probe-rate'], 0.1, 100),
    probeViews: number('probe-views', values['probe-views'], 1, 1_000_000),
    cpuPeriodUs: Math.round(number('cpu-period', values['cpu-period'], 1000, 1_000_000)),
    seed: Math.round(number('seed', values.seed, 0)),
    seedRounds: Math.round(number('seed-rounds', values['seed-rounds'], 1, 99)),
    pageRounds: Math.round(number('page-rounds', values['page-rounds'], 1, 99)),
    profile: values.profile,
    workers,
    workerRate: number('worker-rate', values['worker-rate'], 1, 1_000_000),
    workerRounds: Math.round(number('worker-rounds', values['worker-rounds'], 1, 99)),
  }
}

/** "1,2" → [1, 2]: distinct whole numbers from 1 to MAX_WORKERS, in the order given. */
function parseWorkers(raw: string): number[] {
  const items = raw.split(',').map((s) => s.trim())
  const workers = items.map(Number)
  if (items.some((s) => !/^\d+$/.test(s)) || workers.some((n) => n < 1 || n > MAX_WORKERS)) {
    throw new UsageError(`--workers must be a comma-separated list of whole numbers from 1 to ${MAX_WORKERS} (e.g. 1,2), got "${raw}"`)
  }
  if (new Set(workers).size !== workers.length) throw new UsageError(`--workers lists a number twice: "${raw}"`)
  return workers
}

export class UsageError extends Error {
  override name = 'UsageError'
}

