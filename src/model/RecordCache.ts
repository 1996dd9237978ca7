import type { Redis } from 'ioredis'
import { FrequencySketch } from './FrequencySketch.js'

export interface RecordCacheLimits {
  /** The budget of every entry together: bytes held plus ENTRY_OVERHEAD_BYTES each. */
  maxBytes: number
  /** A larger entry is not kept, so that one huge record cannot push out everything else. */
  maxEntryBytes: number
  /**
   * How long hits' counter increments are held to go out together, in ms (0: at the end of the
   * event-loop turn). Each send is a write and a reply on the connection: where each turn serves
   * one view (the seed's own test, a new connection per view), a script per view cost ~100 µs of
   * the server's CPU per view on one VM. Held increments go out at once on `flush` (shutdown).
   */
  incrementWindowMs?: number
}

/**
 * What an entry costs beyond the bytes of its values: its Map slot, key, object and record
 * (~400), and a counting reader's bookkeeping kept with it (CacheEntry.unsent: an object, the
 * record's key and its counters key, ~250).
 */
export const ENTRY_OVERHEAD_BYTES = 640

/**
 * The frequency sketch's counters per row: one for each 1 KB of budget, at least 4,096 (16 KB in
 * all), so that a small cache's few keys do not share counters and look more popular than they
 * are; at most 2^20 (4 MB).
 */
const SKETCH_BYTES_PER_COUNTER = 1024
const SKETCH_MIN_WIDTH = 4096
const SKETCH_MAX_WIDTH = 1 << 20
/**
 * The sketch halves its counts every 10 lookups per entry the cache holds (or every width
 * lookups, if more: FrequencySketch.ageEvery), Caffeine's period for a cache bounded by weight, so
 * that a change in what is read shows within seconds whatever the entries' size. At a fixed 10 ×
 * width (one counter per 1 KB), 16 MiB of 16 KB pages aged every 163,840 lookups: raw reads that
 * followed 12 s of page views were kept out for 5-10 s (measured on one core: 70 and 49 µs per
 * raw read in the first two 5 s runs, against 33-39 µs from the first run with this period).
 */
const SKETCH_SAMPLE_PER_ENTRY = 10

/**
 * Counts remembered for records read past the cache (RecordCache.countsOf): one per this many
 * bytes of budget, at least MIN_COUNTS. A count costs up to ~100 bytes (its key, a Map slot,
 * and a small object when its reader bumps several counters), so they take up to a tenth of the
 * budget again, beside it: 16,384 at 16 MiB.
 */
const BYTES_PER_COUNT = 1024
const MIN_COUNTS = 1024

/**
 * @internal What Redis last answered for a record's counters (RecordCache.countsOf): the value
 * itself when its reader bumps one counter (a number keeps no object alive), else by name.
 */
export type RememberedCounts = number | Readonly<Record<string, unknown>>

/** @internal One record's selected columns, kept until Redis says they changed, or they expire. */
export interface CacheEntry {
  /** Its slot in the cache (the reader's tag + the record's key). */
  readonly slot: string
  readonly record: Record<string, unknown>
  /** The record's expiry (epoch ms, Redis' PEXPIRETIME); Infinity when it has none. */
  readonly expiresAt: number
  readonly bytes: number
  /**
   * @internal Read since eviction's hand last passed it (`RecordCache.victim`): the hand then
   * moves it to the back instead of taking it.
   */
  visited: boolean
  /**
   * @internal Its reader's bookkeeping of the entry's counted hits not sent yet (CachedRead's
   * Unsent), made on its first counted hit and kept with it, so that counting a hit allocates
   * nothing: objects made per hit and held until the increments go out outlived young-generation
   * collections, and most of what page views promoted to the old generation was theirs.
   */
  unsent: object | null
}

export interface RecordCacheStats {
  hits: number
  misses: number
  /** Entries pushed out to stay within the byte budget. */
  evictions: number
  /** Keys Redis named in invalidation messages (a flush counts one). */
  invalidations: number
  /** Counter increments sent without waiting that failed (their entry was dropped). */
  incrementErrors: number
}

/**
 * Records kept in process memory, coherent with Redis through server-assisted client-side
 * caching: reads that fill it go through `reader`, a connection whose reads Redis tracks, and
 * whoever owns that connection calls `invalidate` with the keys Redis reports changed. While no
 * reader is set (tracking down, or never up) nothing is kept and every read goes to Redis.
 *
 * Invalidations arrive on another connection than read replies, so one may be processed before
 * the reply of a read it concerns. Hence the fill tokens of the Redis documentation: a read
 * registers a token for its slot before it is sent; an invalidation (or a flush, or a loss of
 * tracking, or a write by this process) cancels the slot's token; the reply is kept only if its
 * token is still there.
 *
 * One cache serves several selections of a record (`CachedRead`s): each has a tag, and an
 * entry's slot is tag + record key, so an invalidation of the key drops every selection of it.
 * Entries not read lately go first when the byte budget is exceeded (CLOCK, `victim`); an entry is also
 * absent from its record's expiry instant on (Redis invalidates an expired key only when it
 * actually deletes it, which can be late).
 */
export class RecordCache {
  readonly stats: RecordCacheStats = { hits: 0, misses: 0, evictions: 0, invalidations: 0, incrementErrors: 0 }
  private readonly entries = new Map<string, CacheEntry>()
  /** Slot → the token of the read that may fill it. */
  private readonly pending = new Map<string, number>()
  private readonly tags: string[] = []
  private tokens = 0
  private tracked: Redis | null = null
  private heldBytes = 0
  /** The sends of increments held back (CachedRead's), for `flush`. */
  private readonly held = new Set<() => Promise<unknown>>()
  /** How often each slot was looked up lately, for admission once the cache is full. */
  private readonly frequency: FrequencySketch
  /** Record key → the counters Redis last answered for it, first remembered first (countsOf). */
  private readonly counts = new Map<string, RememberedCounts>()
  private readonly maxCounts: number

  constructor(readonly limits: RecordCacheLimits) {
    this.frequency = new FrequencySketch(Math.min(SKETCH_MAX_WIDTH, Math.max(SKETCH_MIN_WIDTH, limits.maxBytes / SKETCH_BYTES_PER_COUNTER)))
    this.maxCounts = Math.max(MIN_COUNTS, Math.floor(limits.maxBytes / BYTES_PER_COUNT))
  }

  /** The tracked connection to read through; null while the cache is off. */
  get reader(): Redis | null {
    return this.tracked
  }

  get size(): number {
    return this.entries.size
  }

  get bytes(): number {
    return this.heldBytes
  }

  /** Tracking is up: reads through `reader` are tracked and their invalidations reach `invalidate`. */
  enable(reader: Redis) {
    this.clear()
    this.tracked = reader
  }

  /** Tracking is lost: invalidations may be missed, so nothing cached can be trusted. */
  disable() {
    this.tracked = null
    this.clear()
  }

  /** @internal `send` holds increments back; `flush` must send them. */
  hold(send: () => Promise<unknown>) {
    this.held.add(send)
  }

  /** @internal `send` has sent what it held. */
  release(send: () => Promise<unknown>) {
    this.held.delete(send)
  }

  /** Sends every increment held back now, and resolves once Redis has answered them (before a shutdown). */
  async flush(): Promise<void> {
    await Promise.all([...this.held].map((send) => send()))
  }

  /** Redis' invalidation message: these keys changed; null, the database was flushed. */
  invalidate(keys: readonly string[] | null) {
    if (keys === null) {
      this.stats.invalidations++
      this.clear()
      return
    }
    for (const key of keys) {
      this.stats.invalidations++
      this.forget(key)
    }
  }

  /** Drops every selection of the record at `key`, and its remembered counts, and cancels reads of it in flight. */
  forget(key: string) {
    this.counts.delete(key)
    for (const tag of this.tags) {
      const slot = tag + key
      this.pending.delete(slot)
      this.drop(slot)
    }
  }

  /**
   * @internal The live entry of `slot`, marked as read (`victim`); undefined is a miss (and
   * `admits` must then be asked, which counts the request).
   */
  hit(slot: string): CacheEntry | undefined {
    const entry = this.entries.get(slot)
    if (entry === undefined) {
      this.stats.misses++
      return undefined
    }
    if (entry.expiresAt !== Infinity && entry.expiresAt <= Date.now()) {
      this.drop(slot)
      this.stats.misses++
      return undefined
    }
    this.frequency.increment(slot)
    entry.visited = true
    this.stats.hits++
    return entry
  }

  /**
   * @internal Whether a miss of `slot` should be read to be kept: always while there is room for
   * an entry of the mean size; once full, only if it was asked for more often lately than the
   * entry it would push out, the `victim` (TinyLFU's admission). A miss that is not
   * is read untracked, so Redis neither remembers the key for this client nor sends an
   * invalidation when it changes.
   *
   * Under a scan, or a uniform load over more records than fit, every miss would otherwise copy
   * its record in and push another out, for a hit that never comes. Measured, views of 8,000
   * pages of 19 KB in turn, 32 MiB cache, alternating runs on one core: keeping every miss cost
   * 1.75 × the CPU of no cache (most of it the garbage collector freeing pushed-out copies);
   * keeping one miss in 8 (this method's former rule) 126-147 µs per view and a peak RSS of
   * 251-275 MB; keeping none once full 114-141 µs and 219-227 MB. A rule by frequency keeps
   * almost none under such a load, and lets in a page that many people start to read.
   */
  admits(slot: string): boolean {
    const size = this.entries.size
    const full = size > 0 && this.heldBytes + this.heldBytes / size > this.limits.maxBytes
    // Compared before this request is counted: otherwise, under records read in turn, each miss
    // would outnumber the entry it pushes out, whose turn has not come yet in this pass.
    if (full) return this.frequency.outnumbers(slot, (this.victim() as CacheEntry).slot)
    this.frequency.increment(slot)
    return true
  }

  /**
   * @internal The counters Redis last answered for the record at `key` when this process counted
   * a read of it that the cache did not keep (CachedRead's loads past the cache), if remembered:
   * such a read then needs no read of its counters hash, and shows what it counted since, as a
   * hit does. Counts only grow, and Redis answers them in order on one connection, so what is
   * remembered never exceeds the true count; it lags it by the views of other processes since
   * this one's last reply, as a cached record's does. A write of the record by this process, an
   * invalidation, a flush or a loss of tracking forgets them, and so does a read finding no record.
   */
  countsOf(key: string): RememberedCounts | undefined {
    return this.counts.get(key)
  }

  /**
   * @internal Remembers what Redis answered for the record at `key` (see countsOf); past
   * maxCounts, the record remembered first goes. A record already remembered keeps its place and
   * its key: under views of more records than fit, nearly every view replaces a count, and
   * moving it to the end (delete, then set) left the Map's table full of holes to rebuild and
   * kept each view's new key string, young objects held by an old Map, which scavenges copy.
   */
  rememberCounts(key: string, counted: RememberedCounts) {
    const counts = this.counts
    const known = counts.has(key)
    counts.set(key, counted)
    if (!known && counts.size > this.maxCounts) counts.delete(counts.keys().next().value as string)
  }

  /** @internal How many records' counts are remembered. */
  get countsHeld(): number {
    return this.counts.size
  }

  /** @internal The entry of `slot` if it is still there, without touching its recency. */
  peek(slot: string): CacheEntry | undefined {
    return this.entries.get(slot)
  }

  /** @internal Registers a read of `tag` + `key` about to be sent through `reader`; returns its token. */
  beginFill(tag: string, key: string): number {
    if (!this.tags.includes(tag)) this.tags.push(tag)
    const token = ++this.tokens
    this.pending.set(tag + key, token)
    return token
  }

  /** @internal The read of `token` will not fill its slot (it failed, or found nothing to keep). */
  abandonFill(slot: string, token: number) {
    if (this.pending.get(slot) === token) this.pending.delete(slot)
  }

  /**
   * @internal Keeps `record` in `slot` if the read of `token` is still the slot's pending fill
   * (nothing invalidated it meanwhile) and it fits. Buffers are copied: a reply's Buffers are
   * slices of the socket's chunk, and keeping one would keep the whole chunk.
   */
  fill(slot: string, token: number, record: Record<string, unknown>, expiresAt: number): boolean {
    if (this.pending.get(slot) !== token) return false
    this.pending.delete(slot)
    if (this.tracked === null || expiresAt <= Date.now()) return false
    let bytes = ENTRY_OVERHEAD_BYTES + slot.length
    for (const name in record) {
      const value = record[name]
      if (Buffer.isBuffer(value)) bytes += value.length
      else if (typeof value === 'string') bytes += value.length * 2
    }
    if (bytes > Math.min(this.limits.maxEntryBytes, this.limits.maxBytes)) return false
    const kept: Record<string, unknown> = {}
    for (const name in record) {
      const value = record[name]
      kept[name] = Buffer.isBuffer(value) ? copyOwn(value) : value
    }
    this.drop(slot)
    const entry: CacheEntry = { slot, record: kept, expiresAt, bytes, visited: false, unsent: null }
    this.entries.set(slot, entry)
    this.heldBytes += bytes
    while (this.heldBytes > this.limits.maxBytes) {
      const evicted = this.victim() as CacheEntry
      // Everything else was read since the hand last passed: the newest entry is not the one to go.
      if (evicted === entry) {
        this.toBack(entry)
        continue
      }
      this.entries.delete(evicted.slot)
      this.heldBytes -= evicted.bytes
      this.stats.evictions++
    }
    this.frequency.ageEvery(SKETCH_SAMPLE_PER_ENTRY * this.entries.size)
    return true
  }

  /**
   * The entry to push out next, by CLOCK (second chance), an approximation of least recently
   * used: entries in the order they came in, the hand at the oldest; one read since the hand
   * last passed it is moved to the back, unmarked, and the hand goes on. A hit then only marks
   * its entry. Moving the entry to the back on every hit, as before, cost a Map delete and set
   * per view, and the holes each move left made the Map rebuild its table every few thousand
   * hits (~50 bytes per view allocated in the old generation, views of 8,000 cached pages).
   * Undefined only when the cache is empty.
   */
  private victim(): CacheEntry | undefined {
    for (const entry of this.entries.values()) {
      if (!entry.visited) return entry
      this.toBack(entry)
    }
    return undefined
  }

  private toBack(entry: CacheEntry) {
    entry.visited = false
    this.entries.delete(entry.slot)
    this.entries.set(entry.slot, entry)
  }

  private drop(slot: string) {
    const entry = this.entries.get(slot)
    if (entry === undefined) return
    this.entries.delete(slot)
    this.heldBytes -= entry.bytes
  }

  private clear() {
    this.entries.clear()
    this.counts.clear()
    this.pending.clear()
    this.heldBytes = 0
  }
}

function copyOwn(value: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(value.length)
  value.copy(own)
  return own
}
