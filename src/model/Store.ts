import { Cluster, type Redis } from 'ioredis'
import { HistoryKeys, ModelKeys } from './keys.js'
import type { RecordCache } from './RecordCache.js'
import { defineModelCommands } from './scripts.js'

export interface StoreOptions {
  /** Every key starts with this (default `redbin:`), so one Redis can hold several apps. */
  prefix?: string
  /** How many expired records each write unindexes on its way (default 20). */
  sweepBatchOnWrite?: number
  /** Records kept in process memory, coherent through CLIENT TRACKING (see RecordCache.ts). */
  cache?: RecordCache
  /**
   * A second connection for the hashes CachedRead reads past its cache and the view counts it
   * sends, cheaper per command than ioredis (src/redis/HashReader.ts is one); ignored on a
   * cluster. While it is not `ready`, those go through `redis`.
   */
  hashReader?: HashReads
}

/**
 * What a store's `hashReader` does: HMGET of one hash, its values as Buffers (null: no such
 * field); EVALSHA of a script Redis has (NOSCRIPT fails it), bulk replies as Buffers.
 */
export interface HashReads {
  readonly ready: boolean
  hmget(key: string, fields: readonly string[]): Promise<(Buffer | null)[]>
  evalsha(sha: string, numberOfKeys: number, keysAndArgs: readonly (string | number)[]): Promise<unknown>
}

/** A Redis connection (single server or Cluster) plus the key prefix that models live under. */
export class Store {
  readonly prefix: string
  readonly cluster: boolean
  readonly sweepBatchOnWrite: number
  readonly cache: RecordCache | null
  readonly hashReader: HashReads | null
  private readonly keyCache = new Map<string, ModelKeys>()
  private readonly historyKeyCache = new Map<string, HistoryKeys>()

  constructor(
    readonly redis: Redis | Cluster,
    options: StoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'redbin:'
    this.sweepBatchOnWrite = options.sweepBatchOnWrite ?? 20
    this.cluster = redis instanceof Cluster
    this.cache = options.cache ?? null
    this.hashReader = this.cluster ? null : options.hashReader ?? null
    defineModelCommands(redis)
  }

  /**
   * @internal Runs a write of the record at `key`: its cached copies are dropped when it is sent
   * and again when it is answered, so a read in this process after the write sees it, without
   * waiting for Redis' invalidation, and no read that raced the write can keep the old record.
   */
  async written<T>(key: string, write: Promise<T>): Promise<T> {
    const cache = this.cache
    if (cache === null) return write
    cache.forget(key)
    try {
      return await write
    } finally {
      cache.forget(key)
    }
  }

  keys(model: string): ModelKeys {
    let keys = this.keyCache.get(model)
    if (!keys) {
      keys = new ModelKeys(this.prefix, model)
      this.keyCache.set(model, keys)
    }
    return keys
  }

  historyKeys(history: string): HistoryKeys {
    let keys = this.historyKeyCache.get(history)
    if (!keys) {
      keys = new HistoryKeys(this.prefix, history)
      this.historyKeyCache.set(history, keys)
    }
    return keys
  }
}
