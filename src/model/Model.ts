import type { Cluster, Redis } from 'ioredis'
import type { AnyColumn, InputOf, RecordOf, Schema } from './columns.js'
import { DuplicateKeyError, QueryError, UniqueConstraintError, ValidationError, VersionConflictError, VersionLimitError } from './errors.js'
import { CachedRead, type CachedReadOptions } from './CachedRead.js'
import {
  bump, counterBumps, type CounterColumns, countersKey, type IncrementItem, incrementRecord, incrementRecords, type Increments,
  readCounters, selectedCounters, withCounters,
} from './counters.js'
import { decodeFlat, decodeRecord, decodeSelected, decodeValue, encodeId, type Id, indexArgs, storedForm, validateInput } from './encoding.js'
import { Query } from './Query.js'
import type { Store } from './Store.js'
import { verifyModel, type VerifyReport } from './verify.js'

// Counters live in counters.ts and record encoding in encoding.ts; their types are re-exported
// so that imports from Model.js keep working.
export { INCREMENT_MANY_BATCH } from './counters.js'
export type { CounterColumns, IncrementItem, Increments } from './counters.js'
export type { Id } from './encoding.js'

type ColumnName<S> = keyof S & string
export type OrderSpec<S> = ColumnName<S> | `-${ColumnName<S>}`

export interface ModelOptions<S extends Schema> {
  /** The order of queries that name none; every equality index is scored by this column. */
  defaultOrder?: OrderSpec<S>
  /** Composite equality indexes, e.g. [['country', 'gender']]. */
  indexes?: readonly (readonly ColumnName<S>[])[]
  /**
   * An int column with default 1 that `update` compares and bumps: the record's version. A
   * history (defineHistory) keeps the record as it was at each version.
   */
  version?: ColumnName<S>
}

export interface UpdateOptions {
  /** Refuse (VersionLimitError) an update that would take the version beyond this. */
  maxVersion?: number
}

/** What a versioned model's history needs from it (see History.ts). */
export interface HistoryLink {
  readonly name: string
  readonly columns: readonly string[]
}

export interface WriteOptions {
  /** create: when the record expires (absent or null: never). save: absent keeps the current expiry. */
  expiresAt?: Date | null
}

export interface LoadOptions<S extends Schema, K extends keyof S> {
  select?: readonly K[]
  /** Counters to bump in the same round trip; the result shows the new values. */
  increment?: Increments<S>
}

/**
 * Cluster: how long a delete's tombstone outlives the record, keeping earlier writes of the id
 * that are still on their way from recreating it. Such a write is at most a few command
 * timeouts late; a minute is far beyond that.
 */
const TOMBSTONE_MS = 60_000

export class Model<S extends Schema> {
  readonly primaryKey: ColumnName<S>
  readonly columnNames: ColumnName<S>[]
  /** The default order column and direction; null orders by id. */
  readonly defaultOrder: { column: ColumnName<S>; desc: boolean } | null
  readonly composites: readonly (readonly ColumnName<S>[])[]
  /** The model has bytes columns: its records are read as Buffers (see decodeValue in encoding.ts). */
  readonly binary: boolean
  /** The version column, when the model has one. */
  readonly version: ColumnName<S> | null
  /** The counter columns: kept in the record's counters hash, changed only by increments. */
  readonly counters: ColumnName<S>[]
  /** The history that keeps this model's past versions, once one is defined. */
  history: HistoryLink | null = null
  private readonly selections = new WeakMap<readonly PropertyKey[], string[]>()

  constructor(
    readonly name: string,
    readonly schema: S,
    options: ModelOptions<S> = {},
  ) {
    this.columnNames = Object.keys(schema) as ColumnName<S>[]
    const keys = this.columnNames.filter((c) => schema[c]?.options.primaryKey)
    if (keys.length !== 1 || keys[0] === undefined) throw new Error(`${name} needs exactly one primaryKey column`)
    this.primaryKey = keys[0]
    const pkKind = schema[this.primaryKey]?.kind
    if (pkKind !== 'string' && pkKind !== 'int') throw new Error(`${name}.${this.primaryKey}: a primary key is a string or an int`)

    for (const c of this.columnNames) {
      // The record hash keeps its cluster write version in ~v (see scripts.ts).
      if (c.startsWith('~')) throw new Error(`${name}.${c}: column names starting with ~ are reserved`)
      if (this.column(c).options.sortable && !this.column(c).score) {
        throw new Error(`${name}.${c}: only numbers, dates and booleans can be sortable`)
      }
      const o = this.column(c).options
      if (this.column(c).kind === 'bytes' && (o.index || o.unique || o.sortable || o.primaryKey)) {
        throw new Error(`${name}.${c}: a bytes column cannot be a key, indexed, sortable or unique`)
      }
    }
    this.binary = this.columnNames.some((c) => this.column(c).kind === 'bytes')
    if (options.defaultOrder) {
      const desc = options.defaultOrder.startsWith('-')
      const column = (desc ? options.defaultOrder.slice(1) : options.defaultOrder) as ColumnName<S>
      if (!schema[column]?.score) throw new Error(`${name}: defaultOrder needs a number, date or boolean column`)
      this.defaultOrder = { column, desc }
    } else {
      this.defaultOrder = null
    }
    this.version = options.version ?? null
    if (this.version !== null) {
      const column = schema[this.version]
      const o = column?.options
      if (column?.kind !== 'int' || o?.default !== 1 || o.index || o.sortable || o.unique || o.primaryKey ||
        this.version === options.defaultOrder?.replace(/^-/, '')) {
        throw new Error(`${name}.${this.version}: a version column is an int with default 1, in no index`)
      }
    }
    this.composites = (options.indexes ?? []).map((cols) => {
      for (const c of cols) {
        if (!schema[c]) throw new Error(`${name}: composite index names unknown column ${c}`)
        if (schema[c].kind === 'bytes') throw new Error(`${name}.${c}: a bytes column cannot be indexed`)
      }
      return cols
    })
    this.counters = this.columnNames.filter((c) => this.column(c).options.counter)
    for (const c of this.counters) {
      const column = this.column(c)
      const o = column.options
      if ((column.kind !== 'int' && column.kind !== 'float') || typeof o.default !== 'number' || this.indexed(c) ||
        o.required || c === this.version) {
        throw new Error(`${name}.${c}: a counter is an int or float with a number default, in no index, not required, not the version`)
      }
    }
  }

  column(name: string): AnyColumn {
    // Own properties only: "constructor" or "__proto__" are not columns.
    const column = Object.hasOwn(this.schema, name) ? this.schema[name] : undefined
    if (!column) throw new QueryError(`${this.name} has no column "${name}"`)
    return column
  }

  /** Inserts a new record; DuplicateKeyError when the primary key is taken. */
  async create(store: Store, input: InputOf<S>, options: WriteOptions = {}): Promise<RecordOf<S>> {
    const record = validateInput(this, input)
    for (const name of this.counters) {
      // A counter starts at its default and moves only by increments (the counters hash is not
      // written here: a create costs what it costs without counters).
      if (record[name] !== this.column(name).options.default) {
        throw new ValidationError(this.name, name, `is a counter: it starts at ${String(this.column(name).options.default)} and changes only by increment`)
      }
    }
    await this.write(store, 'create', record, options.expiresAt ?? null)
    return record
  }

  /**
   * Inserts or replaces a whole record (upsert). Counters keep their stored counts: a counter
   * value in `input` is checked but not stored.
   */
  async save(store: Store, input: InputOf<S>, options: WriteOptions = {}): Promise<RecordOf<S>> {
    const record = validateInput(this, input)
    await this.write(store, 'save', record, options.expiresAt === undefined ? 'keep' : options.expiresAt)
    return record
  }

  /**
   * The record (or the selected columns of it), or null; one round trip. Values are read with
   * HGETALL or HMGET, never through a script, which would copy each value into Lua and out again
   * (a stored page is kilobytes). `increment` bumps counters in a small script, sent together
   * with the read; each counter shows the value its own increment made, as HINCRBY returns it.
   */
  async load(store: Store, id: Id): Promise<RecordOf<S> | null>
  async load<K extends keyof S>(store: Store, id: Id, options: LoadOptions<S, K>): Promise<Pick<RecordOf<S>, K> | null>
  async load<K extends keyof S>(store: Store, id: Id, options: LoadOptions<S, K> = {}) {
    const encoded = encodeId(this, id)
    const key = store.keys(this.name).record(encoded)
    const counters = options.increment ? counterBumps(this, options.increment) : []
    const select = options.select ? this.selection(options.select) : null
    // Both are sent before either is awaited (one round trip), the increment first. The read
    // skips the counters hash for counters the increment answers.
    const bumped = counters.length > 0 ? bump(this, store, encoded, counters) : null
    const bumpedNames = counters.map((c) => c.name)
    const read: Promise<Record<string, unknown> | null> = select
      ? this.readSelected(store, key, select, bumpedNames)
      : this.readRecord(store, key, bumpedNames)
    if (!bumped) return read
    const [values, record] = await Promise.all([bumped, read])
    if (!values || !record) return null
    counters.forEach(({ name }, i) => {
      if (name in record) record[name] = decodeValue(this, name, String(values[i]))
    })
    return record
  }

  /**
   * Bumps counters of an existing record by the amounts given, in one script that never writes
   * the record's key (see INCREMENT in scripts.ts); cheap enough to send without awaiting it.
   * Returns each counter's value after its own increment, or null when there is no record
   * (nothing is created then).
   */
  increment<C extends CounterColumns<S>>(store: Store, id: Id, by: Increments<S, C>): Promise<{ [P in C]: number } | null> {
    return incrementRecord(this, store, id, by)
  }

  /**
   * Bumps counters of many records, each exactly as `increment` would (in the order given, so an
   * id given twice is bumped twice), and returns per item its counters' new values or null. On a
   * single Redis that is one script for up to INCREMENT_MANY_BATCH records, so a batch costs one
   * command and one reply instead of one per record. On a cluster, the records sit in any slots:
   * one script per record, all sent before any reply is awaited (see counters.ts). Rejects if any
   * call fails; the others may have landed.
   */
  incrementMany<C extends CounterColumns<S>>(store: Store, items: readonly IncrementItem<S, C>[]): Promise<({ [P in C]: number } | null)[]> {
    return incrementRecords(this, store, items)
  }

  /**
   * Changes plain columns (in no index, claim or key, not counters) of an existing record, keeping its
   * expiry. Never recreates a deleted record. Returns false when there is none, or when
   * `ifVersion` is given and the record's version is no longer that.
   */
  async patch(store: Store, id: Id, values: Partial<InputOf<S>>, { ifVersion }: { ifVersion?: number } = {}): Promise<boolean> {
    const set: (string | Buffer)[] = []
    const unset: string[] = []
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined) continue
      const column = this.plainColumn(name, 'patched')
      if (column.options.counter) throw new QueryError(`${this.name}.${name} cannot be patched: it is a counter (use increment)`)
      if (value === null) {
        if (column.options.required) throw new ValidationError(this.name, name, 'is required')
        unset.push(name)
        continue
      }
      const problem = column.problem(value)
      if (problem !== null) throw new ValidationError(this.name, name, problem)
      set.push(name, column.encode(value))
    }
    if (ifVersion !== undefined && this.version === null) throw new QueryError(`${this.name} has no version column`)
    const key = store.keys(this.name).record(encodeId(this, id))
    const check = ifVersion === undefined ? ['', ''] : [this.version ?? '', ifVersion]
    return (await store.written(key, store.redis.redbinModelPatch(key, ...check, set.length / 2, ...set, ...unset))) === 1
  }

  /**
   * Changes an existing record of a versioned model, only if it is still at the version of
   * `current` (the record as the caller loaded it): the version moves on by one, the history
   * (if any) keeps the record as it was, and index entries follow changed columns. Because the
   * version is compared, index entries computed from `current` are exact: a read-modify-write
   * without lost updates. Of concurrent updates from one version, exactly one wins; the others
   * get a VersionConflictError naming the current version. Returns the updated record, or null
   * when there is no record. Columns not given keep their stored values (counters included).
   */
  async update(store: Store, current: RecordOf<S>, changes: Partial<InputOf<S>>, options: UpdateOptions = {}): Promise<RecordOf<S> | null> {
    const versionColumn = this.version
    if (versionColumn === null) throw new QueryError(`${this.name} has no version column: update needs one`)
    const expected = current[versionColumn] as number
    const merged: Record<string, unknown> = { ...current }
    const set: (string | Buffer)[] = []
    const unset: string[] = []
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) continue
      const column = this.column(name)
      const o = column.options
      if (o.primaryKey || o.unique || name === versionColumn) {
        throw new QueryError(`${this.name}.${name} cannot be updated: it is the key, the version or unique (use save)`)
      }
      if (o.counter) throw new QueryError(`${this.name}.${name} cannot be updated: it is a counter (use increment)`)
      if (value === null) {
        if (o.required) throw new ValidationError(this.name, name, 'is required')
        unset.push(name)
      } else {
        const problem = column.problem(value)
        if (problem !== null) throw new ValidationError(this.name, name, problem)
        set.push(name, column.encode(value))
      }
      merged[name] = value
    }
    for (const name of this.columnNames) {
      // Index entries are rebuilt from `current`: every column they use must be there.
      if (!(name in merged) && !this.column(name).options.counter) throw new QueryError(`update needs the whole record: ${this.name}.${name} is missing from current`)
    }
    merged[versionColumn] = expected + 1
    const form = storedForm(this, merged as RecordOf<S>)
    const id = form.id
    const keys = store.keys(this.name)
    const history = this.history
    const historyColumns = history ? history.columns : []
    const historyKey = history ? store.historyKeys(history.name).version(id, expected) : keys.record(id)
    const updateArgs = [
      versionColumn, expected, options.maxVersion ?? '',
      historyColumns.length, ...historyColumns, set.length / 2, ...set, unset.length, ...unset,
    ]
    const entryArgs = indexArgs(form)
    let reply: (string | number)[]
    if (!store.cluster) {
      reply = await store.written(keys.record(id), store.redis.redbinModelUpdate(
        keys.record(id), keys.memo(id), keys.expiry, historyKey, keys.base, id, store.sweepBatchOnWrite, ...updateArgs, ...entryArgs,
      ))
    } else {
      if (history && id.startsWith('}')) throw new QueryError(`${this.name}: on a cluster, an id with a history must not start with }`)
      // Redis Cluster: the record (with its history entry, in the same slot) first, so that the
      // version check decides before anything is visible; then the index entries on the model's
      // shard, which a later update's step, or a delete, may already have overtaken (see
      // UPDATE_INDEX). Between the steps, queries may find the record at its old index values
      // and skip it; if step 2 fails, it stays so until its next update.
      reply = await store.written(keys.record(id), store.redis.redbinModelUpdateRecord(keys.record(id), historyKey, ...updateArgs))
      if (reply[0] === 'ok') {
        await store.redis.redbinModelUpdateIndex(keys.memo(id), keys.expiry, keys.base, id, Number(reply[1]), store.sweepBatchOnWrite, ...entryArgs)
      }
    }
    if (reply[0] === 'missing') return null
    if (reply[0] === 'conflict') throw new VersionConflictError(this.name, id, expected, Number(reply[1]))
    if (reply[0] === 'limit') throw new VersionLimitError(this.name, id, options.maxVersion ?? 0)
    this.throwRefusal(id, reply)
    return merged as RecordOf<S>
  }

  /** Loads many records at once; nulls stand where a record does not exist. */
  async loadMany(store: Store, ids: readonly Id[]): Promise<(RecordOf<S> | null)[]> {
    const keys = store.keys(this.name)
    // All are sent before any reply is awaited: one round trip.
    return Promise.all(ids.map((id) => this.readRecord(store, keys.record(encodeId(this, id)))))
  }

  /** Deletes the record with its index entries and claims; true when it existed. */
  async delete(store: Store, id: Id): Promise<boolean> {
    return (await this.remove(store, id, false)) !== null
  }

  /** Loads and deletes a record in one atomic step: of concurrent callers, one gets it. */
  async take(store: Store, id: Id): Promise<RecordOf<S> | null> {
    const reply = await this.remove(store, id, true)
    return Array.isArray(reply) ? decodeFlat(this, reply) : null
  }

  /**
   * A selection read through the store's record cache, when it has one (see CachedRead.ts and
   * RecordCache.ts): declare it once, then `load(store, id, count)` per request. Every write of
   * a record through this model drops its cached copies in this process at once; other
   * processes learn of it from Redis (CLIENT TRACKING).
   */
  cachedRead<K extends keyof S, C extends CounterColumns<S> = never>(options: CachedReadOptions<S, K, C>): CachedRead<S, K, C> {
    return new CachedRead(this, options)
  }

  query(store: Store): Query<S, keyof S> {
    return new Query(this, store)
  }

  /** Unindexes expired records in bounded batches; returns how many. Run it on a timer. */
  async sweepExpired(store: Store, { batch = 500, maxBatches = 100 } = {}): Promise<number> {
    const keys = store.keys(this.name)
    let total = 0
    for (let i = 0; i < maxBatches; i++) {
      const swept = await store.redis.redbinModelSweep(keys.expiry, keys.base, batch)
      total += swept
      if (swept < batch) break
    }
    return total
  }

  /** Checks every index against the records (for tests and operators: it reads everything). */
  verify(store: Store): Promise<VerifyReport> {
    return verifyModel(this, store)
  }

  /**
   * @internal The record at `key` (HGETALL, as Buffers for a binary model), or null. Its counters
   * come from its counters hash (HMGET, sent with it: one round trip), except those in `skip`.
   */
  async readRecord(store: Store, key: string, skip: readonly string[] = []): Promise<RecordOf<S> | null> {
    const counters = this.counters.filter((c) => !skip.includes(c))
    const [hash, side] = await Promise.all([
      this.binary ? store.redis.hgetallBuffer(key) : store.redis.hgetall(key),
      readCounters(store, key, counters),
    ])
    if (Object.keys(hash).length === 0) return null
    return withCounters(this, decodeRecord(this, hash), counters, side)
  }

  /**
   * @internal The selected columns of the record at `key` (HMGET), or null. `columns` starts with the
   * primary key, which every stored record holds: without it, there is no record. Selected
   * counters (but those in `skip`) come from the counters hash, read in the same round trip.
   */
  async readSelected<K extends keyof S>(store: Store, key: string, columns: readonly string[], skip: readonly string[] = []): Promise<Pick<RecordOf<S>, K> | null> {
    const counters = selectedCounters(this, columns).filter((c) => !skip.includes(c))
    const [values, side] = await Promise.all([
      this.readFields(store.redis, key, columns),
      readCounters(store, key, counters),
    ])
    return values[0] === null ? null : withCounters(this, decodeSelected<S, K>(this, columns, values), counters, side)
  }

  /** @internal `columns` of the record hash at `key`, undecoded (Buffers for a binary model), on `redis`. */
  readFields(redis: Redis | Cluster, key: string, columns: readonly string[]): Promise<(string | Buffer | null)[]> {
    return this.binary ? redis.hmgetBuffer(key, ...columns) : redis.hmget(key, ...columns)
  }

  /**
   * @internal The columns to fetch for a selection: always led by the primary key. Callers
   * pass the same constant lists again and again, so each list is checked once.
   */
  selection(select: readonly PropertyKey[]): string[] {
    let columns = this.selections.get(select)
    if (!columns) {
      const names = select.map(String)
      for (const name of names) this.column(name)
      columns = [this.primaryKey, ...names.filter((n) => n !== this.primaryKey)]
      this.selections.set(select, columns)
    }
    return columns
  }

  // A column that can change in place: no index (default order and composites included),
  // claim or key depends on it, so nothing else needs to move with it.
  private plainColumn(name: string, verb: string): AnyColumn {
    const column = this.column(name)
    if (this.indexed(name)) throw new QueryError(`${this.name}.${name} cannot be ${verb} in place: an index depends on it (use save)`)
    return column
  }

  // Whether an index (default order and composites included), a claim or the key depends on the column.
  private indexed(name: string): boolean {
    const o = this.column(name).options
    return Boolean(o.index || o.sortable || o.unique || o.primaryKey || name === this.defaultOrder?.column ||
      this.composites.some((cols) => cols.includes(name)))
  }

  private async write(store: Store, mode: 'create' | 'save', record: RecordOf<S>, expiresAt: Date | null | 'keep') {
    let expireArg = ''
    if (expiresAt === 'keep') expireArg = 'keep'
    else if (expiresAt !== null) {
      if (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
        throw new ValidationError(this.name, '(expiresAt)', 'must be a valid Date')
      }
      if (expiresAt.getTime() <= Date.now()) throw new ValidationError(this.name, '(expiresAt)', 'must be in the future')
      expireArg = String(expiresAt.getTime())
    }
    const form = storedForm(this, record)
    const { id, fields } = form
    const keys = store.keys(this.name)
    const entryArgs = indexArgs(form)
    // A save keeps the record's counters (moving legacy values and the expiry along); a create
    // has none to keep, so it never touches the counters hash.
    const counters = mode === 'save' ? countersKey(this, store, id) : keys.record(id)
    const counterNames = counters === keys.record(id) ? [] : this.counters
    if (!store.cluster) {
      const reply = await store.written(keys.record(id), store.redis.redbinModelWrite(
        keys.record(id), keys.memo(id), keys.expiry, counters,
        keys.base, id, mode, expireArg, store.sweepBatchOnWrite, fields.length / 2, ...fields, ...entryArgs,
        counterNames.length, ...counterNames,
      ))
      this.throwRefusal(id, reply)
      return
    }
    // Redis Cluster: the record and the indexes live on different shards, so this is two
    // scripts and NOT atomic. The index side goes first (it decides duplicates and unique
    // claims before anything is visible, and numbers the write); until the record lands,
    // queries may meet this id without a record, or with old values, and skip it. The record
    // step lands only if no later write or delete of this id reached the record first, so
    // concurrent writes end as the index side ordered them. If the second step fails, the
    // caller gets the error: a create leaves a dangling entry that queries repair after a grace
    // period; a save leaves the record out of queries for its new values until saved again.
    const reply = await store.redis.redbinModelWriteIndex(
      keys.memo(id), keys.expiry, keys.version, keys.base, id, mode, expireArg, store.sweepBatchOnWrite, ...entryArgs,
    )
    this.throwRefusal(id, reply)
    await store.written(keys.record(id), store.redis.redbinModelWriteRecord(
      keys.record(id), keys.tombstone(id), counters, String(reply[2] ?? ''), String(reply[3]), counterNames.length, ...counterNames, ...fields,
    ))
  }

  private throwRefusal(id: string, reply: (string | number)[]) {
    if (reply[0] === 'duplicate') throw new DuplicateKeyError(this.name, id)
    if (reply[0] === 'unique') throw new UniqueConstraintError(this.name, String(reply[1]))
  }

  private async remove(store: Store, id: Id, returning: boolean) {
    const encoded = encodeId(this, id)
    const keys = store.keys(this.name)
    const flag = returning ? '1' : '0'
    // A versioned model's history goes with the record, in the same script (see DELETE).
    const history = this.history ? [store.historyKeys(this.history.name).versionsOf(encoded), this.version ?? ''] : ['', '']
    const counters = countersKey(this, store, encoded)
    if (!store.cluster) {
      const args = [keys.record(encoded), counters, keys.memo(encoded), keys.expiry, keys.base, encoded, flag, store.sweepBatchOnWrite, '', '', ...history] as const
      return store.written<(string | Buffer)[] | 1 | null>(args[0], this.binary ? store.redis.redbinModelDeleteBuffer(...args) : store.redis.redbinModelDelete(...args))
    }
    // Redis Cluster: three steps, NOT atomic. The delete takes a version on the model's shard
    // (ordering it among the writes of this id), then removes the record (so of concurrent takes
    // exactly one gets it) and leaves a tombstone that keeps earlier writes still on their way
    // from bringing it back, then removes its index entries unless a later write put them
    // there. Between the last two steps, queries meet a dangling entry and skip it; if the last
    // step fails, queries repair the entry.
    const version = await store.redis.incr(keys.version)
    const args = [keys.record(encoded), counters, keys.tombstone(encoded), '', encoded, flag, 0, version, TOMBSTONE_MS, ...history] as const
    const data = await store.written<(string | Buffer)[] | 1 | null>(args[0], this.binary ? store.redis.redbinModelDeleteRecordBuffer(...args) : store.redis.redbinModelDeleteRecord(...args))
    await this.unindex(store, [encoded], { upToVersion: version })
    return data
  }

  /**
   * @internal Removes ids from the indexes (cluster only). With `graceMs`, ids whose entries are
   * younger are left alone: their create may still be on its way to the record's shard. With
   * `upToVersion`, ids indexed by a later write are left alone.
   */
  async unindex(store: Store, ids: string[], { graceMs = 0, upToVersion }: { graceMs?: number; upToVersion?: number } = {}): Promise<number> {
    const keys = store.keys(this.name)
    return store.redis.redbinModelUnindex(
      keys.expiry, keys.base, graceMs, store.sweepBatchOnWrite, upToVersion ?? '', ...ids,
    )
  }
}

export function defineModel<const S extends Schema>(name: string, schema: S, options: ModelOptions<S> = {}): Model<S> {
  return new Model(name, schema, options)
}

export type InferRecord<M> = M extends Model<infer S> ? RecordOf<S> : never
export type InferInput<M> = M extends Model<infer S> ? InputOf<S> : never
