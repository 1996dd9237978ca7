import { createHash } from 'node:crypto'

/**
 * Key layout of one model (see README.md). `P` is the store prefix, `M` the model name.
 *
 *   P M:{id}                   hash     the record; its own hash tag, so records spread by id
 *   P {M}:memo:id              hash     which index keys and unique claims hold the record
 *   P {M}:all                  zset     every id, scored by the default order column
 *   P {M}:idx:COLS:["V",...]   zset     ids whose COLS equal V, scored by the default order column
 *   P {M}:sort:COL             zset     every id, scored by COL
 *   P {M}:uniq:COL             hash     value -> id, for unique columns
 *   P {M}:expiry               zset     ids that expire, scored by the expiry time (epoch ms)
 *   P {M}:tmp:N                zset     scratch space of one query script, deleted before it returns
 *
 * A model with counter columns (see counters.ts):
 *   P M:{id}:counters          hash     the record's counters; same hash tag, so the record's slot
 *
 * A versioned model's history (see History.ts), model H, parent id `id`, version n:
 *   P H:{id}:n                 hash     the parent record as it was at version n; its hash tag is
 *                                       the parent's id, so it sits in the parent record's slot
 *
 * Everything under `{M}` shares one hash tag, so every index script runs on one cluster shard.
 *
 * On Redis Cluster only (writes there take several steps, ordered by a version, see scripts.ts):
 *   P {M}:version              string   the model's write counter, taken by every index step
 *   P M:{id}:deleted           string   a delete's version, kept for a minute after it removed the record
 * and the record hash carries its version in the field `~v`, the memo in `~v` and `~written`.
 */
export class ModelKeys {
  /** The shared prefix of every index-side key; scripts build key names from it. */
  readonly base: string
  readonly memoPrefix: string
  readonly expiry: string
  readonly tmp: string
  /** Cluster only: the model's write counter (see scripts.ts, WRITE_INDEX). */
  readonly version: string
  private readonly recordPrefix: string

  constructor(prefix: string, model: string) {
    if (/[{}]/.test(prefix) || /[{}]/.test(model)) {
      throw new Error('key prefixes and model names must not contain { or }: they would break hash tags')
    }
    this.recordPrefix = `${prefix}${model}:{`
    this.base = `${prefix}{${model}}:`
    this.memoPrefix = `${this.base}memo:`
    this.expiry = `${this.base}expiry`
    this.tmp = `${this.base}tmp`
    this.version = `${this.base}version`
  }

  record(id: string): string {
    return `${this.recordPrefix}${id}}`
  }

  /**
   * Cluster only: where a delete leaves its version, in the record's slot. An id starting with
   * `}` gives its record key an empty hash tag, so Redis hashes that whole key and no other key
   * is sure to share its slot: such ids get no tombstone (the record key is returned instead).
   */
  tombstone(id: string): string {
    return id.startsWith('}') ? this.record(id) : `${this.record(id)}:deleted`
  }

  /** The record's counters hash: next to the record, in its slot (for ids not starting with `}`). */
  counters(id: string): string {
    return countersOf(this.record(id))
  }

  memo(id: string): string {
    return `${this.memoPrefix}${id}`
  }

  /** Record keys as a prefix and suffix around the id, for scripts that load records. */
  recordPattern(): [string, string] {
    return [this.recordPrefix, '}']
  }
}

/** What a record key is followed by to name its counters hash; the query script appends it too. */
export const COUNTERS_SUFFIX = ':counters'

/** The counters hash of the record at `recordKey`. */
export function countersOf(recordKey: string): string {
  return recordKey + COUNTERS_SUFFIX
}

/** The keys of one history: `P H:{id}:n` for version n of parent `id`. */
export class HistoryKeys {
  private readonly prefix: string

  constructor(prefix: string, history: string) {
    if (/[{}]/.test(prefix) || /[{}]/.test(history)) {
      throw new Error('key prefixes and model names must not contain { or }: they would break hash tags')
    }
    this.prefix = `${prefix}${history}:{`
  }

  /** Every version of one parent's history starts with this; a script appends the number. */
  versionsOf(id: string): string {
    return `${this.prefix}${id}}:`
  }

  version(id: string, n: number): string {
    return `${this.versionsOf(id)}${n}`
  }
}

/** The part of a key name after `base`: these are what scripts receive and memos point at. */
export const indexSuffix = {
  all: 'all',
  sort: (column: string) => `sort:${column}`,
  unique: (column: string) => `uniq:${column}`,
  /** One equality index value. Long values are hashed so that key names stay short. */
  equality(columns: readonly string[], encoded: readonly (string | null)[]): string {
    let value = JSON.stringify(encoded)
    if (value.length > 120) value = `sha1:${createHash('sha1').update(value).digest('hex')}`
    return `idx:${columns.join('+')}:${value}`
  },
}
