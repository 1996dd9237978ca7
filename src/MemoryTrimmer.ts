// Gives back to the system the memory malloc keeps after creates and renders (MALLOC_TRIM_*).
//
// A 1 MiB create handles ~10-20 MB of buffers (body, text, bytes, ioredis' copies, the page):
// freed, glibc keeps them in its arenas for the next ones, and after an ingest of 230 MB of
// pastes that is ~55 MB of a process's RSS that stays resident while it then only serves views
// (measured in docs/performance.md, Memory). glibc never gives such memory back by itself
// (jemalloc and tcmalloc do, some seconds after it is freed). Node has no malloc_trim: koffi, an
// FFI library whose npm package ships its binary, calls glibc's. It runs on libuv's thread pool,
// not the event loop: 5-50 MB given back took 1-7 ms on the bench's VM.
//
// When:
// - once creates and renders have been quiet for a whole tick: none in flight, none started.
//   Page views may go on: a trim holds each arena's lock for a few ms at most (1-7 ms
//   measured), so a view's malloc may wait that long, once. Waiting for a tick without any
//   request, as before, meant never trimming a server that has steady views;
// - and while work goes on, when RSS has grown by `growthBytes` since the last trim ended, at
//   most every GROWTH_TRIM_TICKS ticks: memory freed and faulted in again is the cost of that, so
//   not at every tick of a burst (docs/performance.md, Memory, measured both).
//
// A quiet trim comes after a full garbage collection (`collect`): a buffer of the burst that is
// no longer used is freed only when V8 collects the object that held it, and those of requests
// that lived long enough to be promoted wait for the next mark-compact, which under page views
// alone can be minutes away. Measured 30 s after the bench's ingest of 204 MB: Buffers held 36
// MB, 18 of them no longer used, and malloc could give none of those back (18 MB in all once
// collected first; docs/performance.md, Memory).
import type { FastifyBaseLogger } from 'fastify'

/** glibc's malloc_trim(0), run off the event loop; resolves when done. */
export type Trim = () => Promise<void>

/** A full (major) garbage collection; resolves when done. */
export type Collect = () => Promise<unknown>

/**
 * V8's full collection, started in a task of its own (`execution: 'async'`), where node runs
 * with --expose-gc (npm start and the Dockerfile do); null without it.
 */
export function majorCollection(): Collect | null {
  const gc = (globalThis as { gc?: (options: { type: 'major'; execution: 'async' }) => Promise<unknown> }).gc
  return typeof gc === 'function' ? () => gc({ type: 'major', execution: 'async' }) : null
}

/**
 * malloc_trim from the C library, through koffi; null where there is none (not Linux with
 * glibc, e.g. musl or macOS) or koffi cannot load: the process then just keeps what it keeps.
 */
export async function loadMallocTrim(): Promise<Trim | null> {
  if (process.platform !== 'linux') return null
  try {
    const { default: koffi } = await import('koffi')
    const mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)')
    return () => new Promise<void>((resolve, reject) => {
      mallocTrim.async(0, (err: unknown) => (err ? reject(err as Error) : resolve()))
    })
  } catch {
    return null
  }
}

export interface MemoryTrimmerOptions {
  trim: Trim
  /** Run before a quiet trim, so that what the burst no longer uses is freed first (majorCollection). */
  collect?: Collect | null
  /**
   * The work that leaves memory to malloc, as a value that changes with every create or render
   * started and with the worker threads coming and going; null while any is in flight.
   */
  activity: () => string | null
  /** The process's resident memory now, in bytes (process.memoryUsage.rss). */
  rss: () => number
  /** While work goes on, trim when RSS has grown this much since the last trim ended; 0: never. */
  growthBytes: number
  /** How often activity is looked at: a trim comes after one whole tick of quiet. */
  tickMs: number
  log?: FastifyBaseLogger
}

/** Ticks between two trims for growth, at least (5 s at MALLOC_TRIM_QUIET_MS' default). */
export const GROWTH_TRIM_TICKS = 5

export class MemoryTrimmer {
  private timer: NodeJS.Timeout | undefined
  /** Activity at the last tick (null: busy). */
  private seen: string | null = null
  /** Activity when the last trim started: there is nothing new to give back until it changes. */
  private trimmedAt: string | null
  private running: Promise<void> | null = null
  private count = 0
  /** RSS when the last trim ended (at the start: what the process began with). */
  private rssAfter: number
  private ticksSinceTrim = 0

  constructor(private readonly options: MemoryTrimmerOptions) {
    // A fresh process has nothing to give back.
    this.trimmedAt = options.activity()
    this.rssAfter = options.rss()
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs)
    this.timer.unref()
  }

  /** Trims started so far (a counter in /metrics). */
  get trims(): number {
    return this.count
  }

  /** One look: trims when the activity has not moved for a whole tick (and moved since the last trim), or RSS has grown. */
  tick(): void {
    const now = this.options.activity()
    const quiet = now !== null && now === this.seen && now !== this.trimmedAt
    this.seen = now
    this.ticksSinceTrim++
    const before = this.options.rss()
    const { growthBytes } = this.options
    const grown = growthBytes > 0 && this.ticksSinceTrim >= GROWTH_TRIM_TICKS && before - this.rssAfter >= growthBytes
    if (!(quiet || grown) || this.running) return
    if (quiet) this.trimmedAt = now
    this.ticksSinceTrim = 0
    this.count++
    const started = performance.now()
    const { collect, trim } = this.options
    // A failed collection still lets the trim give back what is free.
    this.running = (quiet && collect ? collect().catch(() => {}).then(trim) : trim())
      .then(() => {
        this.rssAfter = this.options.rss()
        this.options.log?.debug({ rssBefore: before, rssAfter: this.rssAfter, ms: Math.round(performance.now() - started), quiet, collected: quiet && !!collect }, 'malloc_trim')
      })
      .catch((err: Error) => this.options.log?.warn({ err: err.message }, 'malloc_trim failed'))
      .finally(() => { this.running = null })
  }

  /** Stops ticking and waits for a trim under way. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }
}
