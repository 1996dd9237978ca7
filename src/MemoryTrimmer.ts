// Gives back to the system the memory malloc keeps after a burst of creates (MALLOC_TRIM_QUIET_MS).
//
// A 1 MiB create handles ~10-20 MB of buffers (body, text, bytes, ioredis' copies, the page):
// freed, glibc keeps them in its arenas for the next ones, and after an ingest of 230 MB of
// pastes that is ~55 MB of a process's RSS that stays resident while it then only serves views
// (measured in docs/performance.md, Memory). Node has no malloc_trim: koffi, an FFI library
// whose npm package ships its binary, calls glibc's. It runs on libuv's thread pool, not the
// event loop: giving back 67 MB took 0.4 s on the bench's VM.
//
// When: once the process has been quiet for a whole tick after creates or renders: none in
// flight, none started, and no request answered either. Never during a burst: a buffer given back
// costs its page faults again when the next create needs one. And not under traffic: while glibc
// trims an arena it holds the arena's lock, and the event loop's next malloc waits for it (a
// trim of ~110 MB took 10-20 ms; one after a 10,000-paste ingest, 0.4 s).
import type { FastifyBaseLogger } from 'fastify'

/** glibc's malloc_trim(0), run off the event loop; resolves when done. */
export type Trim = () => Promise<void>

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
  /**
   * The work that leaves memory to malloc, as a value that changes with every create or render
   * started and with the worker threads coming and going; null while any is in flight.
   */
  activity: () => string | null
  /** Requests answered so far: a trim waits for a tick without any. */
  traffic: () => number
  /** How often activity is looked at: a trim comes after one whole tick of quiet. */
  tickMs: number
  log?: FastifyBaseLogger
}

export class MemoryTrimmer {
  private timer: NodeJS.Timeout | undefined
  /** Activity and traffic at the last tick (null: busy). */
  private seen: string | null = null
  private seenTraffic = -1
  /** Activity when the last trim started: there is nothing new to give back until it changes. */
  private trimmedAt: string | null
  private running: Promise<void> | null = null
  private count = 0

  constructor(private readonly options: MemoryTrimmerOptions) {
    // A fresh process has nothing to give back.
    this.trimmedAt = options.activity()
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.tickMs)
    this.timer.unref()
  }

  /** Trims started so far (a counter in /metrics). */
  get trims(): number {
    return this.count
  }

  /** One look at the activity: trims when it and the traffic have not moved for a whole tick, and it moved since the last trim. */
  tick(): void {
    const now = this.options.activity()
    const traffic = this.options.traffic()
    const quiet = now !== null && now === this.seen && traffic === this.seenTraffic && now !== this.trimmedAt
    this.seen = now
    this.seenTraffic = traffic
    if (!quiet || this.running) return
    this.trimmedAt = now
    this.count++
    const before = process.memoryUsage.rss()
    const started = performance.now()
    this.running = this.options.trim()
      .then(() => this.options.log?.debug({ rssBefore: before, rssAfter: process.memoryUsage.rss(), ms: Math.round(performance.now() - started) }, 'malloc_trim'))
      .catch((err: Error) => this.options.log?.warn({ err: err.message }, 'malloc_trim failed'))
      .finally(() => { this.running = null })
  }

  /** Stops ticking and waits for a trim under way. */
  async close(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }
}
