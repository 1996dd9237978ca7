// The app's whole configuration, read once from the environment. Every variable is one row of
// `schema`: its name, its default (a raw string that goes through the same parser, so defaults
// can never be invalid) and its parser. All problems are collected and reported together, so a
// misconfigured deploy is fixed in one round.

export class ConfigError extends Error {
  override name = 'ConfigError'
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`)
  }
}

/** Named expiry choices, in seconds (null = never). */
export const EXPIRES_PRESETS: Readonly<Record<string, number | null>> = {
  '10m': 600,
  '1h': 3600,
  '1d': 86_400,
  '1w': 604_800,
  '30d': 2_592_000,
  '1y': 31_536_000,
  never: null,
}

/**
 * Parses an expiry: a preset name or a whole number of seconds ≥ 1. Returns seconds, or null
 * for never. Throws a RangeError whose message completes "<name> …", e.g. "expires must be …".
 */
export function parseExpires(value: string): number | null {
  // hasOwn, so that "toString" and friends are not mistaken for presets.
  if (Object.hasOwn(EXPIRES_PRESETS, value)) return EXPIRES_PRESETS[value] ?? null
  if (/^\d+$/.test(value)) {
    const seconds = Number(value)
    if (seconds >= 1 && Number.isSafeInteger(seconds)) return seconds
  }
  throw new RangeError(
    `must be one of ${Object.keys(EXPIRES_PRESETS).join(', ')} or a whole number of seconds ≥ 1`,
  )
}

// Parsers throw an Error whose message completes the sentence "<VARIABLE> …".
type Parse<T> = (raw: string) => T

function integer(min: number, max = Number.MAX_SAFE_INTEGER, wording?: string): Parse<number> {
  return (raw) => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw) || n < min || n > max) {
      throw new Error(wording ?? (min === 0 ? 'must be a non-negative integer' : 'must be a positive integer'))
    }
    return n
  }
}

function oneOf<const T extends string>(...choices: T[]): Parse<T> {
  return (raw) => {
    if ((choices as string[]).includes(raw)) return raw as T
    throw new Error(`must be one of ${choices.join(', ')}`)
  }
}

// Empty values never reach a parser (they count as unset), so any string is acceptable here.
const text: Parse<string> = (raw) => raw

const port = integer(0, 65_535, 'must be a port number (0-65535)')

const boolean: Parse<boolean> = (raw) => {
  const value = raw.toLowerCase()
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  throw new Error('must be true, false, 1 or 0')
}

const httpUrl: Parse<string> = (raw) => {
  if (!URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
    throw new Error('must be an http:// or https:// URL')
  }
  return raw.replace(/\/+$/, '')
}

// A bare "host:port" would otherwise be taken for a socket path, so paths must look like paths.
const redisTarget: Parse<string> = (raw) => {
  const isUrl = /^rediss?:\/\//.test(raw) && URL.canParse(raw)
  const isPath = /^(\/|\.\.?\/)/.test(raw)
  if (isUrl || isPath) return raw
  throw new Error('must be a redis:// or rediss:// URL, or a unix socket path (starting with / or ./)')
}

export interface HostPort {
  host: string
  port: number
}

const hostPortList: Parse<HostPort[]> = (raw) =>
  raw.split(',').map((entry) => {
    const match = /^(.+):(\d+)$/.exec(entry.trim())
    const nodePort = Number(match?.[2])
    if (!match?.[1] || nodePort < 1 || nodePort > 65_535) {
      throw new Error('must be a comma-separated list of host:port')
    }
    return { host: match[1], port: nodePort }
  })

// Cluster hash tags use braces; a prefix containing them would pin or split keys unexpectedly.
const keyPrefix: Parse<string> = (raw) => {
  if (/[{}]/.test(raw)) throw new Error('must not contain "{" or "}"')
  return raw
}

const expires: Parse<number | null> = parseExpires

interface Field<T> {
  env: string
  fallback: string | undefined
  parse: Parse<T>
}

function field<T>(env: string, fallback: string, parse: Parse<T>): Field<T> {
  return { env, fallback, parse }
}

function optional<T>(env: string, parse: Parse<T>): Field<T | undefined> {
  return { env, fallback: undefined, parse }
}

const schema = {
  port: field('PORT', '3000', port),
  host: field('HOST', '0.0.0.0', text),
  // Its default depends on PORT, so loadConfig fills it in.
  publicUrl: optional('PUBLIC_URL', httpUrl),
  redisUrl: optional('REDIS_URL', redisTarget),
  redisClusterNodes: optional('REDIS_CLUSTER_NODES', hostPortList),
  redisPrefix: field('REDIS_PREFIX', 'redbin:', keyPrefix),
  redisCommandTimeoutMs: field('REDIS_COMMAND_TIMEOUT_MS', '1000', integer(1)),
  /** A request whose headers and body have not all arrived by then gets a 408 (a slow 1 MiB upload needs time). */
  requestTimeoutMs: field('REQUEST_TIMEOUT_MS', '30000', integer(1)),
  dataDir: field('DATA_DIR', './data', text),
  redisAppendfsync: field('REDIS_APPENDFSYNC', 'everysec', oneOf('everysec', 'always')),
  maxPasteBytes: field('MAX_PASTE_BYTES', '1048576', integer(1)),
  /**
   * Body bytes of creates and edits in flight in one process (Content-Length, checked before the
   * body is read; both share it); one beyond it waits its turn, up to CREATE_WAIT_MS, then gets a
   * 503 with Retry-After. One is always admitted. 0: no bound.
   */
  createBytesInFlight: field('CREATE_BYTES_IN_FLIGHT', '8388608', integer(0)),
  /** How long a create or edit beyond CREATE_BYTES_IN_FLIGHT waits for its turn (ms; unset: 10 s, at most half of REQUEST_TIMEOUT_MS); 0 refuses at once. */
  createWaitMs: field('CREATE_WAIT_MS', '10000', integer(0)),
  /** 0 turns rate limiting off. */
  rateLimitCreatesPerMinute: field('RATE_LIMIT_CREATES_PER_MINUTE', '30', integer(0)),
  defaultExpiresSeconds: field('DEFAULT_EXPIRES', 'never', expires),
  maxExpiresSeconds: field('MAX_EXPIRES', 'never', expires),
  trustProxy: field('TRUST_PROXY', 'false', boolean),
  logLevel: field('LOG_LEVEL', 'info', oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent')),
  workers: field('WORKERS', '1', integer(1)),
  sweepIntervalMs: field('SWEEP_INTERVAL_MS', '5000', integer(1)),
  /** Pastes larger than this are stored without highlighting; 0 never highlights. */
  highlightMaxBytes: field('HIGHLIGHT_MAX_BYTES', '262144', integer(0)),
  /** Pastes up to this size are highlighted on the main thread, at once (a few ms); larger ones on the render worker. 0 (the default, CodeRenderer says why): all on the worker. */
  highlightInlineBytes: field('HIGHLIGHT_INLINE_BYTES', '0', integer(0, 16384, 'must be a whole number of bytes from 0 to 16384')),
  /** The most revisions a paste may have; an edit beyond is refused. */
  maxRevisions: field('MAX_REVISIONS', '100', integer(1)),
  /** Diffs of larger texts (both sides together, in bytes) are not computed for the page. */
  diffMaxBytes: field('DIFF_MAX_BYTES', '2097152', integer(1)),
  /** A diff that takes longer on the worker is given up. */
  diffTimeoutMs: field('DIFF_TIMEOUT_MS', '2000', integer(1)),
  /**
   * Paste pages and raw reads kept in process memory, in bytes (see README); 0 turns the cache
   * off. 16 MiB: ~1,100 pages of 14 KB, the pages read most (admission by frequency). A view read
   * from Redis costs the server more CPU than one from memory (docs/performance.md, Where it
   * stands), but 32 MiB took 35-70 MB more of RSS than 16 under views of more pages than fit,
   * and 24 MiB did not lower the bench's page CPU on the twelfth machine.
   */
  pageCacheBytes: field('PAGE_CACHE_BYTES', '16777216', integer(0)),
  /** A larger page (or raw paste) is never kept: one huge page must not push out all the others. */
  pageCacheMaxEntryBytes: field('PAGE_CACHE_MAX_ENTRY_BYTES', '1048576', integer(1)),
  /** With the page cache on, views send their counts together, at most this many ms later; 0: at the end of each event-loop turn. */
  viewCountBatchMs: field('VIEW_COUNT_BATCH_MS', '5', integer(0, 1000, 'must be a whole number of ms from 0 to 1000')),
  /**
   * With the page cache on, reads past it (and the views' counts) go to Redis at most once per
   * this many ms while they keep coming, together (src/redis/HashReader.ts says why); 0: at the
   * end of each event-loop turn. A read after a quiet spell goes at once.
   */
  redisReadBatchMs: field('REDIS_READ_BATCH_MS', '1', integer(0, 100, 'must be a whole number of ms from 0 to 100')),
  /** The render worker's old generation: a render or diff that needs more fails (the page then renders on its first view). */
  renderWorkerOldMb: field('RENDER_WORKER_OLD_MB', '48', integer(16, 4096, 'must be a whole number of MB from 16 to 4096')),
  /**
   * The render worker's young generation. Node's --max/min-semi-space-size flags (npm start sets
   * them) apply to every isolate of the process and take precedence: measured, the worker's new
   * space was 64 MB under npm start's former 32 MB semi-space, whatever this said.
   */
  renderWorkerYoungMb: field('RENDER_WORKER_YOUNG_MB', '8', integer(1, 1024, 'must be a whole number of MB from 1 to 1024')),
  /** Paste text waiting to be rendered (on the worker, or plain in slices); beyond it, pages render on their first view. */
  renderQueueBytes: field('RENDER_QUEUE_BYTES', '8388608', integer(1)),
  /** Renders and diffs waiting for the render worker, whatever their size; beyond it, as above. */
  renderQueueJobs: field('RENDER_QUEUE_JOBS', '500', integer(1)),
  /** The render worker exits after this long without work, returning its memory; 0 keeps it. */
  renderWorkerIdleMs: field('RENDER_WORKER_IDLE_MS', '5000', integer(0)),
  /**
   * After creates or renders, once they have stopped this long, the memory malloc kept for their
   * buffers is given back to the system (glibc's malloc_trim); 0: never, whatever the growth.
   */
  mallocTrimQuietMs: field('MALLOC_TRIM_QUIET_MS', '1000', integer(0, 60_000, 'must be a whole number of ms from 0 to 60000')),
  /** While they go on: a trim when RSS has grown this much since the last one ended (at most every 5 × MALLOC_TRIM_QUIET_MS); 0: never. */
  mallocTrimGrowthBytes: field('MALLOC_TRIM_GROWTH_BYTES', '16777216', integer(0)),
  production: field('NODE_ENV', 'development', (raw) => raw === 'production'),
}

type Parsed = { [K in keyof typeof schema]: (typeof schema)[K] extends Field<infer T> ? T : never }

export type Config = Omit<Parsed, 'publicUrl'> & { publicUrl: string }

/** Reads the configuration; throws a ConfigError listing every invalid variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = []
  const parsed: Record<string, unknown> = {}
  for (const [key, { env: name, fallback, parse }] of Object.entries(schema)) {
    // An empty variable counts as unset: compose files often pass `NAME=${NAME:-}`.
    const raw = env[name] || fallback
    if (raw === undefined) continue
    try {
      parsed[key] = parse(raw)
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}, got ${JSON.stringify(raw)}`)
    }
  }
  const config = parsed as Parsed
  const bothExpiriesValid = 'defaultExpiresSeconds' in parsed && 'maxExpiresSeconds' in parsed
  if (bothExpiriesValid && exceeds(config.defaultExpiresSeconds, config.maxExpiresSeconds)) {
    problems.push(
      `DEFAULT_EXPIRES must not exceed MAX_EXPIRES, got ${JSON.stringify(env.DEFAULT_EXPIRES || 'never')}` +
        ` > ${JSON.stringify(env.MAX_EXPIRES || 'never')}`,
    )
  }
  // A create waits for its turn before its body is read, within the time node gives the request:
  // unless set, the wait is at most half of REQUEST_TIMEOUT_MS.
  if (!env.CREATE_WAIT_MS && 'requestTimeoutMs' in parsed) config.createWaitMs = Math.min(config.createWaitMs, Math.floor(config.requestTimeoutMs / 2))
  if ('createWaitMs' in parsed && 'requestTimeoutMs' in parsed && config.createWaitMs >= config.requestTimeoutMs) {
    problems.push(`CREATE_WAIT_MS must be below REQUEST_TIMEOUT_MS (a waiting create would time out first), got ${config.createWaitMs} ≥ ${config.requestTimeoutMs}`)
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return { ...config, publicUrl: config.publicUrl ?? `http://localhost:${config.port}` }
}

// null means never, which is longer than any number of seconds.
function exceeds(seconds: number | null, limit: number | null): boolean {
  if (limit === null) return false
  return seconds === null || seconds > limit
}
