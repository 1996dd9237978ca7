import type { RecordOf, Schema } from './columns.js'
import type { Id, Model, NumericColumns } from './Model.js'
import type { CacheEntry, RecordCache } from './RecordCache.js'
import type { Store } from './Store.js'

export interface CachedReadOptions<S extends Schema, K extends keyof S> {
  select: readonly K[]
  /** Only records this accepts are kept in the cache; the others are read from Redis every time. */
  keep: (record: Pick<RecordOf<S>, K>) => boolean
  /** Counters a load may bump (`load(store, id, true)`); each must be in `select`. */
  increment?: Partial<Record<NumericColumns<S>, number>>
}

let tags = 0

/**
 * A selection of a model's records that reads through the store's RecordCache when it has one
 * (and tracking is up), else exactly as `Model.load` does. Declared once, used per request.
 *
 * A hit awaits nothing: when it counts, it bumps the entry's counters and sends the increment
 * without waiting; the reply raises the entry's counters to what Redis counted (max, as other
 * processes count too). So a count read from the cache lags the true one by at most the
 * increments still in flight, and never exceeds it. A miss sends the tracked read and the
 * increment together: one round trip, as `load`.
 */
export class CachedRead<S extends Schema, K extends keyof S> {
  private readonly tag = `${++tags}|`
  private readonly columns: string[]
  private readonly counters: { name: string; args: [string, number, string] }[]
  private readonly incrementArgs: (string | number)[]

  constructor(private readonly model: Model<S>, private readonly options: CachedReadOptions<S, K>) {
    this.columns = model.selection(options.select)
    this.counters = options.increment ? model.increments(options.increment) : []
    for (const { name } of this.counters) {
      if (!this.columns.includes(name)) throw new Error(`${model.name}.${name}: a counter a cached read bumps must be selected`)
    }
    this.incrementArgs = this.counters.flatMap((c) => c.args)
  }

  /** The selected columns of the record, or null; `count` bumps the declared counters. */
  load(store: Store, id: Id, count = false): Promise<Pick<RecordOf<S>, K> | null> {
    const cache = store.cache
    const reader = cache?.reader
    if (!cache || !reader) {
      const { select, increment } = this.options
      return this.model.load(store, id, count && increment ? { select, increment } : { select })
    }
    const key = store.keys(this.model.name).record(this.model.encodeId(id))
    const slot = this.tag + key
    const entry = cache.hit(slot)
    if (entry === undefined) return this.fill(store, cache, key, count)
    if (count && this.counters.length > 0) this.bump(store, cache, key, slot, entry)
    return Promise.resolve({ ...entry.record } as Pick<RecordOf<S>, K>)
  }

  private bump(store: Store, cache: RecordCache, key: string, slot: string, entry: CacheEntry) {
    const record = entry.record
    for (const { name, args } of this.counters) record[name] = (record[name] as number) + args[1]
    this.increment(store, key).then((values) => {
      if (values === null) return cache.forget(key)
      // Still the same entry: a refill in between read a newer count of its own.
      if (cache.peek(slot) !== entry) return
      this.counters.forEach(({ name }, i) => {
        record[name] = Math.max(record[name] as number, values[i] as number)
      })
    }, () => {
      // Nothing to show for the local bump: let the next read ask Redis.
      cache.stats.incrementErrors++
      cache.forget(key)
    })
  }

  private async fill(store: Store, cache: RecordCache, key: string, count: boolean): Promise<Pick<RecordOf<S>, K> | null> {
    const reader = cache.reader as NonNullable<RecordCache['reader']>
    const token = cache.beginFill(this.tag, key)
    const slot = this.tag + key
    const fields = this.model.binary ? reader.hmgetBuffer(key, ...this.columns) : reader.hmget(key, ...this.columns)
    // PEXPIRETIME in the same write: the entry is dead from that instant, whenever Redis says so.
    const tracked = Promise.all([fields, reader.pexpiretime(key)])
    const [read, counted] = await Promise.all([
      // Tracking lost while the read was out: read as if uncached (below).
      tracked.catch(() => null),
      count && this.counters.length > 0 ? this.increment(store, key) : undefined,
    ])
    if (read === null) cache.abandonFill(slot, token)
    const values = read === null ? await this.readUntracked(store, key) : read[0]
    if (counted === null || values === null || values[0] === null) {
      cache.abandonFill(slot, token)
      return null
    }
    const record = this.model.decodeSelected<K>(this.columns, values)
    if (counted) this.counters.forEach(({ name }, i) => ((record as Record<string, unknown>)[name] = counted[i]))
    const expiresAt = read === null || read[1] < 0 ? Infinity : read[1]
    if (read === null || read[1] === -2 || !this.options.keep(record)) cache.abandonFill(slot, token)
    else cache.fill(slot, token, record as Record<string, unknown>, expiresAt)
    return { ...record }
  }

  private async readUntracked(store: Store, key: string): Promise<readonly unknown[]> {
    return this.model.binary ? store.redis.hmgetBuffer(key, ...this.columns) : store.redis.hmget(key, ...this.columns)
  }

  /** Sends the declared increments; the new values, or null when the record does not exist. */
  private async increment(store: Store, key: string): Promise<number[] | null> {
    const values = await store.redis.redbinModelIncrement(key, ...this.incrementArgs)
    return values && values.map(Number)
  }
}
