import type { RecordOf, Schema, ValueOf } from './columns.js'
import { selectedCounters } from './counters.js'
import { decodeFlat, decodeSelected } from './encoding.js'
import { QueryError } from './errors.js'
import { COUNTERS_SUFFIX, indexSuffix } from './keys.js'
import type { Model, OrderSpec } from './Model.js'
import type { Store } from './Store.js'

type FilterValue<V> = V | null | readonly (V | null)[]
export type Filter<S extends Schema> = { [K in keyof S]?: FilterValue<ValueOf<S[K]>> }

/** An IN list over a composite index becomes one key per combination; beyond this, intersect. */
const MAX_COMPOSITE_KEYS = 64
const PAGE_SIZE = 100
/** On a cluster, an index entry without a record is repaired once it is older than this. */
const DANGLING_GRACE_MS = 10_000

interface Plan {
  /** AND of groups; a group is an OR of index keys (suffixes). Empty: every record. */
  groups: string[][]
  /** The filter's encoded values per column (null: unset). */
  values: Map<string, (string | null)[]>
  orderSuffix: string
  orderIsDefault: boolean
  desc: boolean
}

/**
 * A query over one model's indexes. Immutable: each step returns a new query.
 *
 *   Paste.query(store).filter({ visibility: 'public' }).orderBy('-createdAt').offset(20).limit(20).all()
 */
export class Query<S extends Schema, K extends keyof S> {
  private readonly where: Filter<S>
  private readonly order: OrderSpec<S> | null
  private readonly skip: number
  private readonly take: number | null
  private readonly columns: readonly (keyof S)[] | null

  constructor(
    private readonly model: Model<S>,
    private readonly store: Store,
    state: Partial<{ where: Filter<S>; order: OrderSpec<S> | null; skip: number; take: number | null; columns: readonly (keyof S)[] | null }> = {},
  ) {
    this.where = state.where ?? {}
    this.order = state.order ?? null
    this.skip = state.skip ?? 0
    this.take = state.take ?? null
    this.columns = state.columns ?? null
  }

  /** Equality on indexed columns, ANDed; an array means any of its values. */
  filter(where: Filter<S>): Query<S, K> {
    return this.with({ where: { ...this.where, ...where } })
  }

  /** `column` ascending or `-column` descending; ties are broken by id in the same direction. */
  orderBy(order: OrderSpec<S>): Query<S, K> {
    return this.with({ order })
  }

  offset(n: number): Query<S, K> {
    if (!Number.isSafeInteger(n) || n < 0) throw new QueryError(`offset must be a non-negative integer, got ${n}`)
    return this.with({ skip: n })
  }

  limit(n: number): Query<S, K> {
    if (!Number.isSafeInteger(n) || n < 0) throw new QueryError(`limit must be a non-negative integer, got ${n}`)
    return this.with({ take: n })
  }

  /** Fetch only these columns (the primary key always comes along). */
  select<C extends keyof S>(...columns: C[]): Query<S, C> {
    for (const c of columns) this.model.column(String(c))
    return new Query<S, C>(this.model, this.store, { ...this.state(), columns })
  }

  /**
   * The matching records. On a cluster, an index entry whose record is gone or no longer
   * matches (a write or delete between its two steps) is skipped, so a page may hold fewer
   * than `limit` records while others follow.
   */
  async all(): Promise<Pick<RecordOf<S>, K>[]> {
    return (await this.run(false)).items
  }

  async first(): Promise<Pick<RecordOf<S>, K> | null> {
    return (await this.limit(1).all())[0] ?? null
  }

  async ids(): Promise<string[]> {
    const plan = this.plan()
    if (!plan) return []
    const [, ids] = await this.execute(plan, { fetch: false, count: false })
    return ids as string[]
  }

  /** Live records matching the filter (offset and limit do not apply). */
  async count(): Promise<number> {
    const plan = this.plan()
    if (!plan) return 0
    const [total] = await this.execute(plan, { fetch: false, count: true, limit: 0 })
    return total
  }

  /** One page and the total count, in one round trip (two on a cluster). */
  async page(): Promise<{ items: Pick<RecordOf<S>, K>[]; total: number }> {
    const { items, total } = await this.run(true)
    return { items, total }
  }

  /** Streams every match in pages of 100. Concurrent writes may shift records between pages. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Pick<RecordOf<S>, K>> {
    let position = this.skip
    let remaining = this.take ?? Infinity
    while (remaining > 0) {
      const size = Math.min(PAGE_SIZE, remaining)
      // Pages move by the index entries read, not the records returned: on a cluster a page
      // may skip dangling entries, and a short page must not end the iteration.
      const { items, read } = await this.with({ skip: position, take: size }).run(false)
      yield* items
      if (read < size) return
      position += read
      remaining -= items.length
    }
  }

  /** The page, the total (when asked) and how many index entries were read for it. */
  private async run(count: boolean): Promise<{ items: Pick<RecordOf<S>, K>[]; total: number; read: number }> {
    const plan = this.plan()
    if (!plan) return { items: [], total: 0, read: 0 }
    const select = this.columns ? this.model.selection(this.columns) : null
    if (this.store.cluster) {
      // Records live on other shards than the indexes: ids first, then the records. Between
      // the steps of a write or delete, an index entry may point at a record that is gone or
      // holds other values: such records are skipped, and entries left dangling are repaired.
      const [total, found] = await this.execute(plan, { fetch: false, count })
      const ids = found as string[]
      const records = await this.loadRecords(ids, select, plan)
      const missing = ids.filter((_, i) => records[i] === null)
      if (missing.length > 0) {
        this.model.unindex(this.store, missing, { graceMs: DANGLING_GRACE_MS }).catch(() => {})
      }
      const items = records
        .filter((r): r is RecordOf<S> => r !== null && this.matches(r, plan.values))
        .map((r) => (select ? pick(r, select) : r))
      return { items: items as Pick<RecordOf<S>, K>[], total, read: ids.length }
    }
    const [total, flat] = await this.execute(plan, { fetch: true, count, select })
    const items: Pick<RecordOf<S>, K>[] = []
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const values = flat[i + 1] as unknown[]
      items.push(select ? decodeSelected<S, K>(this.model, select, values) : decodeFlat(this.model, values))
    }
    return { items, total, read: flat.length / 2 }
  }

  private execute(
    plan: Plan,
    opts: { fetch: boolean; count: boolean; limit?: number; select?: string[] | null },
  ): Promise<[number, unknown[]]> {
    const keys = this.store.keys(this.model.name)
    const args: (string | number)[] = [
      keys.base, opts.fetch ? '1' : '0', opts.count ? '1' : '0',
      plan.orderSuffix, plan.orderIsDefault ? '1' : '0', plan.desc ? '1' : '0',
      this.skip, opts.limit ?? this.take ?? -1, plan.groups.length,
    ]
    for (const group of plan.groups) args.push(group.length, ...group)
    if (opts.fetch) {
      // The counters the page shows, read from each record's counters hash (none: not read).
      const counters = opts.select ? selectedCounters(this.model, opts.select) : this.model.counters
      args.push(...keys.recordPattern(), COUNTERS_SUFFIX, counters.length, ...counters, ...(opts.select ?? []))
    }
    // Records of a model with bytes columns come back as Buffers (ids stay text: not fetched).
    return opts.fetch && this.model.binary
      ? this.store.redis.redbinModelQueryBuffer(keys.expiry, keys.tmp, ...args)
      : this.store.redis.redbinModelQuery(keys.expiry, keys.tmp, ...args)
  }

  /** Which sorted sets answer this query; null when it can match nothing. */
  private plan(): Plan | null {
    const model = this.model
    const values = new Map<string, (string | null)[]>()
    for (const [name, wanted] of Object.entries(this.where)) {
      if (wanted === undefined) continue
      const column = model.column(name)
      const list = (Array.isArray(wanted) ? wanted : [wanted]) as unknown[]
      if (list.length === 0) return null
      values.set(name, [...new Set(list.map((v) => {
        if (v === null) return null
        const problem = column.problem(v)
        if (problem !== null) throw new QueryError(`filter on ${model.name}.${name}: value ${problem}`)
        return column.encode(v) as string // indexed columns are never bytes
      }))])
    }

    const groups: string[][] = []
    const pending = new Set(values.keys())
    for (const cols of [...model.composites].sort((a, b) => b.length - a.length)) {
      if (!cols.every((c) => pending.has(c))) continue
      const combos = cols.reduce<(string | null)[][]>(
        (acc, c) => acc.flatMap((prefix) => (values.get(c) ?? []).map((v) => [...prefix, v])),
        [[]],
      )
      if (combos.length > MAX_COMPOSITE_KEYS) continue
      groups.push(combos.map((combo) => indexSuffix.equality(cols, combo)))
      for (const c of cols) pending.delete(c)
    }
    for (const name of pending) {
      if (!model.column(name).options.index) {
        throw new QueryError(`cannot filter ${model.name} on "${name}": it has no index (declare index: true)`)
      }
      groups.push((values.get(name) ?? []).map((v) => indexSuffix.equality([name], [v])))
    }

    const order = this.order
    const desc = order?.startsWith('-') ?? model.defaultOrder?.desc ?? false
    const orderColumn = order ? (desc ? order.slice(1) : order) : (model.defaultOrder?.column ?? null)
    if (orderColumn === null || orderColumn === model.defaultOrder?.column) {
      return { groups, values, orderSuffix: indexSuffix.all, orderIsDefault: true, desc }
    }
    if (!model.column(orderColumn).options.sortable) {
      throw new QueryError(`cannot order ${model.name} by "${orderColumn}": it is not sortable (declare sortable: true)`)
    }
    return { groups, values, orderSuffix: indexSuffix.sort(orderColumn), orderIsDefault: false, desc }
  }

  /**
   * Cluster reads: the records of (already encoded) ids, or null where there is none, one
   * command per record, all sent before any reply is awaited: one round trip. With a selection, only
   * its columns and the filtered ones (to re-check them) are read, as the single-Redis query
   * script does: a list of pastes never reads their content.
   */
  private async loadRecords(ids: string[], select: string[] | null, plan: Plan): Promise<(RecordOf<S> | null)[]> {
    const keys = this.store.keys(this.model.name)
    if (!select) return Promise.all(ids.map((id) => this.model.readRecord(this.store, keys.record(id))))
    // The selection leads with the primary key, which every record has: null means no record.
    const fields = [...new Set([...select, ...plan.values.keys()])]
    return Promise.all(ids.map((id) => this.model.readSelected(this.store, keys.record(id), fields) as Promise<RecordOf<S> | null>))
  }

  /** Whether a loaded record still has the values the index promised (cluster reads). */
  private matches(record: RecordOf<S>, values: Map<string, (string | null)[]>): boolean {
    for (const [name, wanted] of values) {
      const value = (record as Record<string, unknown>)[name]
      const encoded = value === null || value === undefined ? null : (this.model.column(name).encode(value) as string)
      if (!wanted.includes(encoded)) return false
    }
    return true
  }

  private state() {
    return { where: this.where, order: this.order, skip: this.skip, take: this.take, columns: this.columns }
  }

  private with(change: Partial<ReturnType<Query<S, K>['state']>>): Query<S, K> {
    return new Query<S, K>(this.model, this.store, { ...this.state(), ...change })
  }
}

function pick<T extends object>(record: T, columns: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {}
  for (const c of columns) out[c] = (record as Record<string, unknown>)[c]
  return out as Partial<T>
}
