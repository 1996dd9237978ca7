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

/** The server's processes: its pid, and with `tree` every descendant (none when it runs elsewhere). */
export async function serverPids(target: LoadTarget): Promise<number[]> {
  if (target.pid === null) return []
  return target.tree ? processTree(target.pid) : [target.pid]
}

function serverCpuSeconds(target: LoadTarget): Promise<number | null> {
  if (target.pid === null) return Promise.resolve(null)
  return target.tree ? sumOverTree(target.pid, cpuSeconds) : cpuSeconds(target.pid)
}

/** CPU seconds of our helper processes plus the kernel's threads (loopback networking). */
async function sumCpu(pids: number[]): Promise<number> {
  let total = await kernelThreadSeconds()
  for (const pid of pids) total += (await cpuSeconds(pid)) ?? 0
  return total
}

export async function runLoad(target: LoadTarget, spec: LoadSpec): Promise<LoadResult> {
  const base = {
    url: target.baseUrl,
    connections: spec.connections,
    requests: spec.requests,
    ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
    // A slow response is a result, not an error: only a stalled server times out.
    timeout: 30,
  }
  if (spec.warmupSeconds > 0) {
    progress.phase(`${spec.name}: warm-up`, spec.warmupSeconds)
    await autocannonRun({ ...base, duration: spec.warmupSeconds })
  }

  const metricsBefore = await scrapeMetrics(target)
  const rss = target.pid !== null ? new RssSampler(target.pid, 100, target.tree) : null
  rss?.start()
  const cpuBefore = await serverCpuSeconds(target)
  const redisBefore = target.redisPid !== null ? await cpuSeconds(target.redisPid) : null
  const oursBefore = await sumCpu(target.ours)
  const machineBefore = await machineBusySeconds()
  const ownCpuBefore = process.cpuUsage()

  const durations = new Durations()
  const statusCodes: Record<string, number> = {}
  const expect = spec.expect ?? ((status: number) => status >= 200 && status < 300)
  let unexpected = 0
  let lastResponse = 0
  const setupClient = (client: Client) => {
    client.on('response', (status: number, _bytes: number, ms: number) => {
      lastResponse = performance.now()
      durations.push(ms)
      statusCodes[status] = (statusCodes[status] ?? 0) + 1
      if (!expect(status)) unexpected++
    })
  }

  const abort = new AbortController()
  const alongside = spec.alongside?.(abort.signal)
  const started = performance.now()
  progress.phase(spec.name, spec.amount ?? spec.duration, spec.amount ? 'requests' : 'seconds')
  const ticker = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000
    progress.update(spec.amount ? durations.length : elapsed, durations.length / Math.max(elapsed, 0.001))
  }, 250)
  let result: autocannon.Result
  try {
    result = await autocannonRun({ ...base, ...(spec.amount ? { amount: spec.amount } : { duration: spec.duration }), setupClient })
  } finally {
    clearInterval(ticker)
    abort.abort()
  }
  // A run of `amount` requests ends at its last response: autocannon itself resolves only at its
  // next one-second sample, so its end would round the run up to whole seconds (10,000 views in
  // 1.1 s would count as 2 s: "5,000 req/s").
  const seconds = ((spec.amount && lastResponse > started ? lastResponse : performance.now()) - started) / 1000
  const notes = alongside ? await alongside : {}
  const ownCpu = process.cpuUsage(ownCpuBefore)
  const machineAfter = await machineBusySeconds()
  const oursAfter = await sumCpu(target.ours)
  const cpuAfter = await serverCpuSeconds(target)
  const redisAfter = target.redisPid !== null ? await cpuSeconds(target.redisPid) : null
  const metrics = await scrapeMetrics(target)
  const peakRss = rss ? await rss.stop() : metrics ? metricValue(metrics, 'redbin_process_resident_memory_bytes') : null
  const loopDelay = metrics ? metricValue(metrics, 'redbin_event_loop_delay_seconds\\{quantile="0.99"\\}') : null
  const loopDelayMax = metrics ? metricValue(metrics, 'redbin_event_loop_delay_max_seconds') : null
  const cacheHitShare = hitShare(metricsBefore, metrics)
  progress.done()

  // autocannon's own duration excludes connection setup; the measured window is ours.
  const requests = durations.length
  const serverCpu = cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) / seconds : null
  const generatorCpu = (ownCpu.user + ownCpu.system) / 1e6 / seconds
  const otherCpu = machineBefore !== null && machineAfter !== null && serverCpu !== null
    ? Math.max(0, (machineAfter - machineBefore - (oursAfter - oursBefore)) / seconds - serverCpu - generatorCpu)
    : null
  return {
    requests,
    seconds,
    rps: requests / seconds,
    latencyMs: latencyOf(durations.toArray()),
    // autocannon counts a timeout as an error too.
    errors: result.errors,
    unexpected,
    statusCodes,
    peakRssBytes: peakRss,
    serverCpu,
    generatorCpu,
    otherCpu,
    redisCpu: redisBefore !== null && redisAfter !== null ? (redisAfter - redisBefore) / seconds : null,
    loopDelayP99Ms: loopDelay !== null ? loopDelay * 1000 : null,
    loopDelayMaxMs: loopDelayMax !== null ? loopDelayMax * 1000 : null,
    cacheHitShare,
    notes,
  }
}
