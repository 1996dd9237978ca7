// One measured load run: autocannon drives the requests; every response's duration (a float
// from hrtime, in ms) is kept, so percentiles are exact to the microsecond instead of
// autocannon's whole milliseconds. Around the run: a warm-up, the server's RSS sampled every
// 100 ms, its CPU time (both summed over its processes when it is a process tree), and
// /metrics scraped right before (which resets the event-loop delay histogram) and right after
// (which reads it).
import autocannon, { type Client, type Request } from 'autocannon'
import { http } from './http.js'
import { cpuSeconds, kernelThreadSeconds, machineBusySeconds, processTree, RssSampler, sumOverTree } from './processes.js'
import { progress } from './progress.js'

export interface LoadTarget {
  baseUrl: string
  /** The server's pid, when this machine runs it: RSS and CPU come from /proc. */
  pid: number | null
  /** The pid is a node:cluster primary (WORKERS=N): RSS and CPU are summed over it and its descendants. */
  tree?: boolean
  /** Whether the server has redbin's /metrics. */
  metrics: boolean
  /**
   * Further single-process servers measured as one with this one (N servers of one worker side
   * by side, the control of the WORKERS=N rows): requests spread over all of them, CPU summed.
   */
  peers?: { baseUrl: string; pid: number }[]
  /** Our other processes (redis-server, an idle app): not counted as other load. */
  ours: number[]
  /** The redis-server this bench started, when it did: its CPU use is reported. */
  redisPid: number | null
}

export interface LoadSpec {
  name: string
  connections: number
  /** Seconds to measure; ignored when `amount` is set. */
  duration: number
  /** Stop after exactly this many requests instead. */
  amount?: number
  /** Requests per second across all connections (default: as fast as the server answers). */
  overallRate?: number
  warmupSeconds: number
  /** The requests, taken in turn; a request with setupRequest is rebuilt each time. */
  requests: Request[]
  /** Statuses that count as success (default: any 2xx). */
  expect?: (status: number) => boolean
  /** Runs alongside the measured part (the event-loop probe's creates); awaited at the end. */
  alongside?: (signal: AbortSignal) => Promise<Record<string, number | string>>
}

export interface Latency {
  p50: number
  p90: number
  p99: number
  max: number
}

export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  latencyMs: Latency
  /** Socket errors and timeouts. */
  errors: number
  /** Responses outside `expect` (non-2xx by default). */
  unexpected: number
  statusCodes: Record<string, number>
  peakRssBytes: number | null
  /** The server's CPU use during the run, in cores (1 = one core fully busy). */
  serverCpu: number | null
  /** The load generator's own CPU use, in cores: near 1, it may be what limits req/s. */
  generatorCpu: number
  /** CPU used by every other process on the machine, in cores: above ~0.1 the numbers are noisy. */
  otherCpu: number | null
  /** CPU used by redis-server, in cores (when the bench started it). */
  redisCpu: number | null
  loopDelayP99Ms: number | null
  /** The longest event-loop delay over the run: the longest stretch the loop was held. */
  loopDelayMaxMs: number | null
  /**
   * Of the reads that asked the page cache during the run (pages and raw texts), the share it
   * answered from memory; null without redbin's /metrics (the ceiling, WORKERS=N) or reads.
   */
  cacheHitShare: number | null
  /** Extra numbers a scenario wants in its report. */
  notes: Record<string, number | string>
}

/** Exact percentile of sorted values (nearest rank). */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length) - 1
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!
}

export function latencyOf(durations: Float64Array): Latency {
  const sorted = durations.slice().sort()
  return { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN }
}

/** A growable list of durations (ms). */
export class Durations {
  private values = new Float64Array(1 << 16)
  length = 0
  push(ms: number) {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.length++] = ms
  }
  toArray(): Float64Array {
    return this.values.subarray(0, this.length)
  }
}

/** Reads `redbin_<name>{…}` values from Prometheus text. */
export function metricValue(text: string, name: string): number | null {
  const match = new RegExp(`^${name} ([0-9.eE+-]+|NaN)$`, 'm').exec(text)
  return match?.[1] ? Number(match[1]) : null
}

/** Page cache hits ÷ lookups between two scrapes of /metrics; null without both or without lookups. */
export function hitShare(before: string | null, after: string | null): number | null {
  if (before === null || after === null) return null
  const delta = (name: string) => (metricValue(after, name) ?? NaN) - (metricValue(before, name) ?? NaN)
  const hits = delta('redbin_page_cache_hits_total')
  const lookups = hits + delta('redbin_page_cache_misses_total')
  return lookups > 0 ? hits / lookups : null
}

export async function scrapeMetrics(target: LoadTarget): Promise<string | null> {
  if (!target.metrics) return null
  try {
    const response = await http('GET', `${target.baseUrl}/metrics`, { timeoutMs: 5000 })
    return response.status === 200 ? response.text() : null
  } catch {
    return null
  }
}

function autocannonRun(options: autocannon.Options, onTick?: (instance: autocannon.Instance) => void): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, result) => (err ? reject(err) : resolve(result)))
    onTick?.(instance)
  })
}

/** The server's processes: its pid, and with `tree` every descendant, then its peers' (none when it runs elsewhere). */
export async function serverPids(target: LoadTarget): Promise<number[]> {
  if (target.pid === null) return []
  return [...target.tree ? await processTree(target.pid) : [target.pid], ...target.peers?.map((peer) => peer.pid) ?? []]
}

async function serverCpuSeconds(target: LoadTarget): Promise<number | null> {
  if (target.pid === null) return null
  let total = target.tree ? await sumOverTree(target.pid, cpuSeconds) : await cpuSeconds(target.pid)
  for (const peer of target.peers ?? []) {
    const seconds = await cpuSeconds(peer.pid)
    total = total === null || seconds === null ? null : total + seconds
  }
  return total
}

/** CPU seconds of our helper processes plus the kernel's threads (loopback networking). */
async function sumCpu(pids: number[]): Promise<number> {
  let total = await kernelThreadSeconds()
  for (const pid of pids) total += (await cpuSeconds(pid)) ?? 0
  return total
}

/** What one window of a run measured, before it is turned into rates (LoadResult). */
interface Window {
  seconds: number
  errors: number
  // CPU seconds over the window:
  /** the server's (its process tree's with `tree`) */
  serverCpu: number | null
  redisCpu: number | null
  /** our helper processes' and the kernel's threads' */
  ours: number
  /** every process's on the machine */
  machine: number | null
  /** this process's: the load generator */
  own: number
  peakRss: number | null
  loopDelayP99: number | null
  loopDelayMax: number | null
  metricsBefore: string | null
  metricsAfter: string | null
  notes: Record<string, number | string>
}

/** Every response of a run, over all its windows. */
class Responses {
  readonly durations = new Durations()
  readonly statusCodes: Record<string, number> = {}
  unexpected = 0
  last = 0

  constructor(private readonly expect: (status: number) => boolean) {}

  readonly setupClient = (client: Client) => {
    client.on('response', (status: number, _bytes: number, ms: number) => {
      this.last = performance.now()
      this.durations.push(ms)
      this.statusCodes[status] = (this.statusCodes[status] ?? 0) + 1
      if (!this.expect(status)) this.unexpected++
    })
  }
}

function autocannonOptions(target: LoadTarget, spec: LoadSpec) {
  return {
    // Several URLs: autocannon gives each its share of the connections, in turn (its README;
    // @types/autocannon only knows one).
    url: (target.peers ? [target.baseUrl, ...target.peers.map((peer) => peer.baseUrl)] : target.baseUrl) as string,
    connections: spec.connections,
    requests: spec.requests,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    // A slow response is a result, not an error: only a stalled server times out.
    timeout: 30,
  }
}

async function warmUp(target: LoadTarget, spec: LoadSpec) {
  if (spec.warmupSeconds <= 0) return
  progress.phase(`${spec.name}: warm-up`, spec.warmupSeconds)
  await autocannonRun({ ...autocannonOptions(target, spec), duration: spec.warmupSeconds })
}

/** One window of load: `spec.amount` requests, or `spec.duration` seconds. */
async function measureWindow(target: LoadTarget, spec: LoadSpec, responses: Responses, label = spec.name): Promise<Window> {
  const metricsBefore = await scrapeMetrics(target)
  // Servers side by side (peers) have no one memory figure: each counts the code they share.
  const rss = target.pid !== null && !target.peers ? new RssSampler(target.pid, 100, target.tree) : null
  rss?.start()
  const cpuBefore = await serverCpuSeconds(target)
  const redisBefore = target.redisPid !== null ? await cpuSeconds(target.redisPid) : null
  const oursBefore = await sumCpu(target.ours)
  const machineBefore = await machineBusySeconds()
  const ownCpuBefore = process.cpuUsage()
  const counted = responses.durations.length

  const abort = new AbortController()
  const alongside = spec.alongside?.(abort.signal)
  const started = performance.now()
  progress.phase(label, spec.amount ?? spec.duration, spec.amount ? 'requests' : 'seconds')
  const ticker = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000
    const done = responses.durations.length - counted
    progress.update(spec.amount ? done : elapsed, done / Math.max(elapsed, 0.001))
  }, 250)
  let result: autocannon.Result
  try {
    result = await autocannonRun({ ...autocannonOptions(target, spec), ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration }), setupClient: responses.setupClient })
  } finally {
    clearInterval(ticker)
    abort.abort()
  }
  // A run of `amount` requests ends at its last response: autocannon itself resolves only at its
  // next one-second sample, so its end would round the run up to whole seconds (10,000 views in
  // 1.1 s would count as 2 s: "5,000 req/s").
  const seconds = ((spec.amount && responses.last > started ? responses.last : performance.now()) - started) / 1000
  const notes = alongside ? await alongside : {}
  const ownCpu = process.cpuUsage(ownCpuBefore)
  const machineAfter = await machineBusySeconds()
  const oursAfter = await sumCpu(target.ours)
  const cpuAfter = await serverCpuSeconds(target)
  const redisAfter = target.redisPid !== null ? await cpuSeconds(target.redisPid) : null
  const metricsAfter = await scrapeMetrics(target)
  const peakRss = rss ? await rss.stop() : metricsAfter ? metricValue(metricsAfter, 'redbin_process_resident_memory_bytes') : null
  progress.done()
  return {
    seconds,
    // autocannon counts a timeout as an error too.
    errors: result.errors,
    serverCpu: cpuBefore !== null && cpuAfter !== null ? cpuAfter - cpuBefore : null,
    redisCpu: redisBefore !== null && redisAfter !== null ? redisAfter - redisBefore : null,
    ours: oursAfter - oursBefore,
    machine: machineBefore !== null && machineAfter !== null ? machineAfter - machineBefore : null,
    own: (ownCpu.user + ownCpu.system) / 1e6,
    peakRss,
    loopDelayP99: metricsAfter ? metricValue(metricsAfter, 'redbin_event_loop_delay_seconds\\{quantile="0.99"\\}') : null,
    loopDelayMax: metricsAfter ? metricValue(metricsAfter, 'redbin_event_loop_delay_max_seconds') : null,
    metricsBefore,
    metricsAfter,
    notes,
  }
}

/** Windows of one run summed into its result: rates over their total time, peaks over all of them. */
function summarize(windows: readonly Window[], responses: Responses): LoadResult {
  const total = (pick: (w: Window) => number | null): number | null => {
    let sum = 0
    for (const w of windows) {
      const value = pick(w)
      if (value === null) return null
      sum += value
    }
    return sum
  }
  const peak = (pick: (w: Window) => number | null): number | null => {
    const values = windows.map(pick).filter((v): v is number => v !== null)
    return values.length > 0 ? Math.max(...values) : null
  }
  // autocannon's own duration excludes connection setup; the measured windows are ours.
  const seconds = total((w) => w.seconds)!
  const requests = responses.durations.length
  const serverSeconds = total((w) => w.serverCpu)
  const redisSeconds = total((w) => w.redisCpu)
  const machineSeconds = total((w) => w.machine)
  const serverCpu = serverSeconds === null ? null : serverSeconds / seconds
  const generatorCpu = total((w) => w.own)! / seconds
  const otherCpu = machineSeconds !== null && serverCpu !== null
    ? Math.max(0, (machineSeconds - total((w) => w.ours)!) / seconds - serverCpu - generatorCpu)
    : null
  const loopDelay = peak((w) => w.loopDelayP99)
  const loopDelayMax = peak((w) => w.loopDelayMax)
  return {
    requests,
    seconds,
    rps: requests / seconds,
    latencyMs: latencyOf(responses.durations.toArray()),
    errors: total((w) => w.errors)!,
    unexpected: responses.unexpected,
    statusCodes: responses.statusCodes,
    peakRssBytes: peak((w) => w.peakRss),
    serverCpu,
    generatorCpu,
    otherCpu,
    redisCpu: redisSeconds === null ? null : redisSeconds / seconds,
    loopDelayP99Ms: loopDelay !== null ? loopDelay * 1000 : null,
    loopDelayMaxMs: loopDelayMax !== null ? loopDelayMax * 1000 : null,
    // The other runs' windows in between touch neither the app's counters nor its cache.
    cacheHitShare: hitShare(windows[0]?.metricsBefore ?? null, windows.at(-1)?.metricsAfter ?? null),
    notes: Object.assign({}, ...windows.map((w) => w.notes)),
  }
}

const expected = (spec: LoadSpec) => spec.expect ?? ((status: number) => status >= 200 && status < 300)

export async function runLoad(target: LoadTarget, spec: LoadSpec): Promise<LoadResult> {
  await warmUp(target, spec)
  const responses = new Responses(expected(spec))
  return summarize([await measureWindow(target, spec, responses)], responses)
}

/** How long each of runAlternating's windows lasts: whole seconds, or a number of requests. */
export type Turn = { seconds: number } | { requests: number }

/**
 * Runs measured in turn, in windows of `turn`, as many as make up each run's `spec.duration`
 * (windows of whole seconds: autocannon ends a run on its one-second tick) or its `spec.amount`
 * (windows of a number of requests, the last one the rest), after a warm-up of each; each run is
 * summed over its own windows. A drift of the machine's speed then touches them alike. On a
 * shared VM the CPU a response costs drifted by up to 2 × within a minute (2026-12-06: bare
 * Fastify 41 then 75 µs per response, minutes apart; page 62 then 88 µs, in rounds 20 s apart),
 * and the ratio of two 10 s runs one after the other read anything from 0.97 to 2.11 for the
 * same code. In windows of 1 s, two rounds a minute apart read 1.64 and 1.65, though each of the
 * first round's windows cost 48-79 µs (bare Fastify) and 91-141 (page), and the second's 43-51
 * and 72-90. Not `alongside`. The runs' results come in the order of `runs`.
 */
export async function runAlternating<const Runs extends readonly [LoadTarget, LoadSpec][]>(runs: Runs, turn: Turn): Promise<{ -readonly [K in keyof Runs]: LoadResult }> {
  const sides = runs.map(([target, spec]) => {
    const windows: LoadSpec[] = []
    if ('seconds' in turn) {
      const count = Math.max(1, Math.round(spec.duration / turn.seconds))
      for (let i = 0; i < count; i++) windows.push({ ...spec, duration: turn.seconds })
    } else {
      if (spec.amount === undefined) throw new Error(`runAlternating: ${spec.name} has no amount to share out in windows of ${turn.requests} requests`)
      for (let left = spec.amount; left > 0; left -= turn.requests) windows.push({ ...spec, amount: Math.min(turn.requests, left) })
    }
    return { target, spec, windows, responses: new Responses(expected(spec)), measured: [] as Window[] }
  })
  for (const { target, spec } of sides) await warmUp(target, spec)
  const count = Math.max(...sides.map((side) => side.windows.length))
  for (let window = 0; window < count; window++) {
    for (const side of sides) {
      const spec = side.windows[window]
      if (spec) side.measured.push(await measureWindow(side.target, spec, side.responses, `${spec.name} (${window + 1}/${side.windows.length})`))
    }
  }
  return sides.map((side) => summarize(side.measured, side.responses)) as { -readonly [K in keyof Runs]: LoadResult }
}
