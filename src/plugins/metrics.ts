import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** Latency buckets in seconds: fine below 10 ms, where a healthy request lands. */
const BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/** Requests of one route and method: a count per status, and a latency histogram. */
class RouteStats {
  readonly statuses = new Map<number, number>()
  readonly counts = new Array<number>(BUCKETS.length).fill(0)
  sum = 0
  total = 0
  observe(status: number, seconds: number) {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
    this.total++
    this.sum += seconds
    const i = BUCKETS.findIndex((b) => seconds <= b)
    if (i >= 0) this.counts[i] = (this.counts[i] ?? 0) + 1
  }
}

/** Counters the app bumps; exported as `redbin_<name>_total`. */
export class Metrics {
  readonly counters = { pastes_created: 0, pastes_edited: 0, paste_views: 0, pastes_burned: 0, redis_errors: 0, requests_rejected: 0 }
  /** By route pattern, then method. Label strings are built at a scrape, never per request. */
  private readonly routes = new Map<string, Map<string, RouteStats>>()
  private readonly gauges = new Map<string, () => number>()
  private readonly readCounters = new Map<string, () => number>()
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 5 })

  constructor() {
    this.loopDelay.enable()
  }

  count(name: keyof Metrics['counters']) {
    this.counters[name]++
  }

  /** A count kept elsewhere, read at each scrape; exported as `redbin_<name>_total`. */
  counter(name: string, read: () => number) {
    this.readCounters.set(name, read)
  }

  /** A value read at each scrape; exported as `redbin_<name>`. */
  gauge(name: string, read: () => number) {
    this.gauges.set(name, read)
  }

  observe(method: string, route: string, status: number, seconds: number) {
    let methods = this.routes.get(route)
    if (!methods) this.routes.set(route, (methods = new Map()))
    let stats = methods.get(method)
    if (!stats) methods.set(method, (stats = new RouteStats()))
    stats.observe(status, seconds)
  }

  /**
   * Prometheus text format. Event-loop delay percentiles cover the time since the previous
   * scrape (the histogram restarts), so each scrape reports recent behaviour.
   */
  render(): string {
    const lines: string[] = []
    for (const [name, value] of Object.entries(this.counters)) {
      lines.push(`# TYPE redbin_${name}_total counter`, `redbin_${name}_total ${value}`)
    }
    for (const [name, read] of this.readCounters) lines.push(`# TYPE redbin_${name}_total counter`, `redbin_${name}_total ${read()}`)
    const series = [...this.routes].flatMap(([route, methods]) => [...methods].map(([method, stats]) => ({ labels: `method="${method}",route="${route}"`, stats })))
    lines.push('# TYPE redbin_http_requests_total counter')
    for (const { labels, stats } of series) {
      for (const [status, value] of stats.statuses) lines.push(`redbin_http_requests_total{${labels},status="${status}"} ${value}`)
    }
    lines.push('# TYPE redbin_http_request_duration_seconds histogram')
    for (const { labels, stats: h } of series) {
      let cumulative = 0
      BUCKETS.forEach((bound, i) => {
        cumulative += h.counts[i] ?? 0
        lines.push(`redbin_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${cumulative}`)
      })
      lines.push(`redbin_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.total}`)
      lines.push(`redbin_http_request_duration_seconds_sum{${labels}} ${h.sum}`)
      lines.push(`redbin_http_request_duration_seconds_count{${labels}} ${h.total}`)
    }
    for (const [name, read] of this.gauges) lines.push(`# TYPE redbin_${name} gauge`, `redbin_${name} ${read()}`)
    const d = this.loopDelay
    lines.push('# TYPE redbin_event_loop_delay_seconds summary')
    for (const q of [50, 90, 99]) {
      lines.push(`redbin_event_loop_delay_seconds{quantile="${q / 100}"} ${d.percentile(q) / 1e9}`)
    }
    lines.push('# TYPE redbin_event_loop_delay_max_seconds gauge', `redbin_event_loop_delay_max_seconds ${d.max / 1e9}`)
    const memory = process.memoryUsage()
    lines.push('# TYPE redbin_process_resident_memory_bytes gauge', `redbin_process_resident_memory_bytes ${memory.rss}`)
    d.reset()
    return `${lines.join('\n')}\n`
  }

  close() {
    this.loopDelay.disable()
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

/** Times every request by its route pattern (never the raw URL: ids would explode the labels). */
export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = new Metrics()
    app.decorate('metrics', metrics)
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched'
      metrics.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
    })
    app.addHook('onClose', async () => metrics.close())
  },
  { name: 'redbin-metrics' },
)
