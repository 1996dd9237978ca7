import type { RecordOf, Schema } from './columns.js'
import { decodeSelected, decodeValue, encodeId } from './encoding.js'
import { type CounterBump, type CounterColumns, type CountReply, counterBumps, counted, incrementKeyed, incrementKeys, type Increments, incrementRecord, readCounters, selectedCounters, withCounters } from './counters.js'
import type { Id, Model } from './Model.js'
import type { CacheEntry, RecordCache } from './RecordCache.js'
import type { Store } from './Store.js'

export interface CachedReadOptions<S extends Schema, K extends keyof S, C extends CounterColumns<S>> {
  select: readonly K[]
  /** Only records this accepts are kept in the cache; the others are read from Redis every time. */
  keep: (record: Pick<RecordOf<S>, K>) => boolean
  /** Counters a load may bump (`load(store, id, true)`); each must be selected. */
  increment?: Increments<S, C>
}

type Values = Record<string, unknown>

/**
 * A record's counted loads not sent yet: how many, and the entry to raise to what Redis counts
 * (none: read past the cache). A cache entry's is made once and kept with it (CacheEntry.unsent).
 */
interface Unsent {
  store: Store
  cache: RecordCache
  id: Id
  key: string
  slot: string
  entry: CacheEntry | null
  /** Counted loads since the last send; 0: not in the queue. */
  times: number
  /** The record and counters keys the increment script takes, once built. */
  keys: readonly [string, string] | null
}

let tags = 0

/**
 * A selection of a model's records that reads through the store's RecordCache when it has one
 * (and tracking is up), else past it, and without one exactly as `Model.load` does. Declared once, used per request.
 *
 * Only the record's key is read through the tracked connection (`HMGET` and `PEXPIRETIME`):
 * counters live in their own hash, which is never tracked, so a view counted anywhere does not
 * invalidate the copy. A hit awaits nothing: when it counts, it bumps the entry's counters and
 * sends the increment, without waiting for it, within the cache's `incrementWindowMs` (or at
 * the end of the turn), in one script with the other hits held meanwhile (`Model.incrementMany`);
 * the reply raises each entry's counters to what
 * Redis counted (max, as other processes count too). So a count read from the cache lags the true
 * one by the increments in flight, and never exceeds it. A miss to be kept sends the tracked
 * read, the increment (or, for counters not bumped, a read of the counters hash) together: one
 * round trip. Once the cache is full, a miss is kept only if it was asked for more often lately
 * than the entry it would push out (RecordCache.admits); the others (and every read while
 * tracking is down) are read past the cache on the store's own connection (or its hash
 * reader), and counted as hits are: held, then sent with the window's others. Without a cache,
 * `load` is `Model.load`.
 */
export class CachedRead<S extends Schema, K extends keyof S, C extends CounterColumns<S> = never> {
  private readonly tag = `${++tags}|`
  /**
   * Records with counted loads not sent yet: all those counted within one window (or one turn
   * of the event loop) go out together at its end, one script per store (for up to 500 records),
   * each record bumped by its number of loads. A script per view cost about as much server CPU
   * as sending the view, and here a write, a reply and a promise each (writeUtf8String and the
   * read, in the profile of the seed test); a script per record was no better, as the bench's
   * views are nearly all of different pastes.
   */
  private queue: Unsent[] = []
  /** Cancels the pending send of the held increments; null when none is pending. */
  private scheduled: (() => void) | null = null
  private readonly sendNow = () => this.sendIncrements()
  private readonly columns: string[]
  /** The selected counters, and those of them that `increment` bumps (by how much). */
  private readonly counters: string[]
  private readonly bumps: CounterBump[]
  /** Selected counters that a counting load reads rather than bumps. */
  private readonly unbumped: string[]

  constructor(private readonly model: Model<S>, private readonly options: CachedReadOptions<S, K, C>) {
    this.columns = model.selection(options.select)
    this.counters = selectedCounters(model, this.columns)
    for (const [name, by] of Object.entries(options.increment ?? {})) {
      if (by !== undefined && !this.counters.includes(name)) throw new Error(`${model.name}.${name}: a cached read bumps only counters it selects`)
    }
    // Checked once, as the increment scripts take them.
    this.bumps = counterBumps(model, options.increment ?? {})
    this.unbumped = this.counters.filter((name) => !this.bumps.some((bump) => bump.name === name))
  }

  /** The selected columns of the record, or null; `count` bumps the declared counters. */
  load(store: Store, id: Id, count = false): Promise<Pick<RecordOf<S>, K> | null> {
    const read = this.read(store, id, count)
    return read instanceof Promise ? read : Promise.resolve(read)
  }

  /**
   * As `load`, but a hit is answered at once, not through a promise: a caller that can answer
   * its request in the same turn (a page view) then awaits nothing, and a miss costs it no
   * second look-up of the cache.
   */
  read(store: Store, id: Id, count = false): Pick<RecordOf<S>, K> | Promise<Pick<RecordOf<S>, K> | null> {
    const cache = store.cache
    if (!cache) return this.loadUncached(store, id, count)
    const key = store.keys(this.model.name).record(encodeId(this.model, id))
    const slot = this.tag + key
    const entry = cache.reader ? cache.hit(slot) : undefined
    if (entry === undefined) {
      return cache.reader && cache.admits(slot) ? this.fill(store, cache, id, key, slot, count && this.bumps.length > 0) : this.loadPast(store, cache, id, key, slot, count)
    }
    return this.served(store, cache, id, key, slot, entry, count)
  }

  private served(store: Store, cache: RecordCache, id: Id, key: string, slot: string, entry: CacheEntry, count: boolean): Pick<RecordOf<S>, K> {
    if (count && this.bumps.length > 0) this.bump(store, cache, id, key, slot, entry, entry.record)
    // A record served from the cache shares its Buffers with every other read of it, some perhaps
    // still being sent: callers must not write into them.
    return { ...entry.record } as Pick<RecordOf<S>, K>
  }

  /** As `Model.load` does, on the store's own connection: nothing tracked, nothing kept. */
  private loadUncached(store: Store, id: Id, count: boolean): Promise<Pick<RecordOf<S>, K> | null> {
    const { select, increment } = this.options
    return this.model.load(store, id, count && increment ? { select, increment } : { select })
  }

  /**
   * A record the cache does not keep (not admitted, tracking down), read on the store's own
   * connection, or on its `hashReader` while that is ready (Store.ts); a counted load is counted
   * as a hit is, with the others held in the window, rather than by a script of its own sent
   * with the read, and shows its count with this load's increment. The counters come from the
   * counters hash (HMGET, in the same write), unless the cache remembers what Redis answered to
   * this process's last count of the record (RecordCache.countsOf): under views spread over more
   * records than fit, most are read past the cache, and each then costs one command rather than
   * two.
   */
  private async loadPast(store: Store, cache: RecordCache, id: Id, key: string, slot: string, count: boolean): Promise<Pick<RecordOf<S>, K> | null> {
    const counting = count && this.bumps.length > 0
    const known = counting && this.unbumped.length === 0 ? cache.countsOf(key) : undefined
    const hashes = store.hashReader
    // A read the hash reader fails (its connection lost or stuck while the read was out) is made
    // again on the store's connection: an error of that connection is one the caller knows.
    const fields = hashes?.ready
      ? hashes.hmget(key, this.columns).catch(() => this.model.readFields(store.redis, key, this.columns))
      : this.model.readFields(store.redis, key, this.columns)
    let values, side = null
    if (known === undefined) [values, side] = await Promise.all([fields, readCounters(store, key, this.counters)])
    else values = await fields
    if (values[0] === null) {
      if (known !== undefined) cache.forget(key)
      return null
    }
    const record = decodeSelected<S, K>(this.model, this.columns, values) as Values
    if (known === undefined) withCounters(this.model, record, this.counters, side)
    else if (typeof known === 'number') record[this.counters[0]!] = known
    else for (const name of this.counters) record[name] = known[name]
    if (counting) this.bump(store, cache, id, key, slot, null, record)
    return record as Pick<RecordOf<S>, K>
  }

  private bump(store: Store, cache: RecordCache, id: Id, key: string, slot: string, entry: CacheEntry | null, record: Values) {
    for (const { name, by } of this.bumps) record[name] = (record[name] as number) + by
    let unsent: Unsent
    if (entry !== null) {
      // Made once per entry, with the entry's own slot rather than this request's strings.
      unsent = entry.unsent as Unsent | null ?? (entry.unsent = { store, cache, id, key: entry.slot.slice(this.tag.length), slot: entry.slot, entry, times: 0, keys: null })
    } else {
      // A read past the cache is a row of its own: a Map to find the window's earlier reads of
      // the record grew its table anew in every window, and that was promoted as well.
      unsent = { store, cache, id, key, slot, entry, times: 0, keys: null }
    }
    if (unsent.times++ === 0) {
      this.queue.push(unsent)
      cache.hold(this.sendNow)
    }
    if (this.scheduled === null) {
      const window = cache.limits.incrementWindowMs ?? 0
      if (window > 0) {
        const timer = setTimeout(this.sendNow, window)
        this.scheduled = () => clearTimeout(timer)
      } else {
        const immediate = setImmediate(this.sendNow)
        this.scheduled = () => clearImmediate(immediate)
      }
    }
  }

  /** Sends the increments held so far; resolves once Redis has answered them. */
  private sendIncrements(): Promise<unknown> {
    this.scheduled?.()
    this.scheduled = null
    const queue = this.queue
    this.queue = []
    const byStore = new Map<Store, Unsent[]>()
    for (const unsent of queue) {
      unsent.cache.release(this.sendNow)
      const batch = byStore.get(unsent.store)
      if (batch) batch.push(unsent)
      else byStore.set(unsent.store, [unsent])
    }
    return Promise.all([...byStore].map(([store, batch]) => this.send(store, batch)))
  }

  private async send(store: Store, batch: readonly Unsent[]) {
    const amounts: number[] = []
    for (const unsent of batch) {
      for (const { by } of this.bumps) amounts.push(by * unsent.times)
      // From here on, a load of the record counts toward the next send.
      unsent.times = 0
    }
    let replies
    try {
      const keys = batch.map((unsent) => (unsent.keys ??= incrementKeys(this.model, store, encodeId(this.model, unsent.id))))
      replies = await incrementKeyed(store, this.bumps, keys, amounts)
    } catch {
      // Nothing to show for the local bumps (some of a call of several scripts may have
      // landed): let the next read of each record ask Redis.
      for (const { cache, key } of batch) {
        cache.stats.incrementErrors++
        cache.forget(key)
      }
      return
    }
    for (let i = 0; i < batch.length; i++) this.reconcile(batch[i]!, replies[i] ?? null)
  }

  /**
   * Raises the entry's counters to what Redis counted, or remembers the count of a record read
   * past the cache; a record Redis no longer has is dropped.
   */
  private reconcile({ cache, key, slot, entry }: Unsent, values: readonly CountReply[] | null) {
    if (values === null) return cache.forget(key)
    const bumps = this.bumps
    if (entry === null) return cache.rememberCounts(key, bumps.length === 1 ? this.countAt(values, 0) : counted(this.model, bumps, values))
    // Still the same entry: a refill in between read a newer count of its own.
    if (cache.peek(slot) !== entry) return
    const record = entry.record
    for (let i = 0; i < bumps.length; i++) {
      const name = bumps[i]!.name
      record[name] = Math.max(record[name] as number, this.countAt(values, i))
    }
  }

  /** The `i`th bumped counter's new value in a script's reply: an integer, or a float's text. */
  private countAt(values: readonly CountReply[], i: number): number {
    const value = values[i]
    return typeof value === 'number' ? value : decodeValue(this.model, this.bumps[i]!.name, String(value)) as number
  }

  private async fill(store: Store, cache: RecordCache, id: Id, key: string, slot: string, count: boolean): Promise<Pick<RecordOf<S>, K> | null> {
    const reader = cache.reader as NonNullable<RecordCache['reader']>
    const token = cache.beginFill(this.tag, key)
    const fields = this.model.readFields(reader, key, this.columns)
    // PEXPIRETIME in the same write: the entry is dead from that instant, whenever Redis says so.
    const tracked = Promise.all([fields, reader.pexpiretime(key)])
    const sideCounters = count ? this.unbumped : this.counters
    let read, counted, side, values
    try {
      ;[read, counted, side] = await Promise.all([
        // Tracking lost while the read was out: read as if uncached (below).
        tracked.catch(() => null),
        // Not on the reader: a script that reads makes Redis track every key it names, and each
        // increment would then invalidate the counters hash.
        count ? this.increment(store, id) : undefined,
        readCounters(store, key, sideCounters),
      ])
      values = read === null ? await this.model.readFields(store.redis, key, this.columns) : read[0]
    } catch (err) {
      cache.abandonFill(slot, token)
      throw err
    }
    const expiresAt = read === null || read[1] === -2 ? null : read[1] < 0 ? Infinity : read[1]
    if (counted === null || values[0] === null) {
      cache.abandonFill(slot, token)
      return null
    }
    const record = withCounters(this.model, decodeSelected<S, K>(this.model, this.columns, values) as Values, sideCounters, side)
    if (counted) for (const { name } of this.bumps) record[name] = counted[name]
    if (expiresAt === null || !this.options.keep(record as Pick<RecordOf<S>, K>)) cache.abandonFill(slot, token)
    else cache.fill(slot, token, record, expiresAt)
    return { ...record } as Pick<RecordOf<S>, K>
  }

  /** Sends the declared increments; the new values, or null when the record does not exist. */
  private increment(store: Store, id: Id): Promise<Values | null> {
    return incrementRecord(this.model, store, id, this.options.increment as Increments<S, C>)
  }
}
