// Counter columns (declared with `counter: true`): kept in the record's counters hash
// (`P M:{id}:counters`) and changed only by increments, so bumping one never writes the record's
// key. Here: checking increments, running the increment scripts (INCREMENT and INCREMENT_MANY
// in scripts.ts), and reading counters alongside a record. See README.md, "Counters".
import type { Schema } from './columns.js'
import { decodeValue, encodeId, type Id, type RecordLayout } from './encoding.js'
import { QueryError } from './errors.js'
import { countersOf } from './keys.js'
import { INCREMENT_MANY_SHA } from './scripts.js'
import type { Store } from './Store.js'

/** The counter columns of a schema (declared with `counter: true`). */
export type CounterColumns<S extends Schema> = {
  [K in keyof S]: S[K] extends { options: { counter: true } } ? K : never
}[keyof S] & string

/** Amounts to add to counters; any other column is a compile error (never `{}`, which takes anything). */
export type Increments<S extends Schema, C extends CounterColumns<S> = CounterColumns<S>> =
  { [P in C]?: number } & { [P in Exclude<keyof S, CounterColumns<S>>]?: never }

/** A record and the amounts to add to its counters (`incrementMany`). */
export interface IncrementItem<S extends Schema, C extends CounterColumns<S> = CounterColumns<S>> {
  id: Id
  by: Increments<S, C>
}

/**
 * The most records one incrementMany script bumps; more go in several calls. A script holds the
 * server while it runs (every other client waits) and arrives as one command read whole, so a
 * bound keeps both small whatever the caller hands over, while a turn's views of a busy process
 * still leave in one call or a few.
 */
export const INCREMENT_MANY_BATCH = 500

/** What counting needs to know of a model (a Model is one). */
export interface CounterLayout<S extends Schema> extends RecordLayout<S> {
  /** The counter columns. */
  readonly counters: readonly string[]
}

/** A validated increment of one counter, and what the increment scripts need to make it. */
export interface CounterBump {
  name: string
  by: number
  command: 'HINCRBY' | 'HINCRBYFLOAT'
  /** The counter's default, stored form: where its first increment starts (but for a legacy value). */
  start: string
}

/** Model.increment: bumps counters of one existing record; their new values, or null. */
export async function incrementRecord<S extends Schema, C extends CounterColumns<S>>(
  model: CounterLayout<S>, store: Store, id: Id, by: Increments<S, C>,
): Promise<{ [P in C]: number } | null> {
  const counters = someIncrements(model, by)
  const values = await bump(model, store, encodeId(model, id), counters)
  return values && (counted(model, counters, values) as { [P in C]: number })
}

/**
 * Model.incrementMany: one INCREMENT_MANY script per INCREMENT_MANY_BATCH records on a single
 * Redis (KEYS: each record and its counters hash; ARGV: the counters named once, then the amounts
 * per record); on a cluster one per record, all sent before any reply is awaited.
 */
export async function incrementRecords<S extends Schema, C extends CounterColumns<S>>(
  model: CounterLayout<S>, store: Store, items: readonly IncrementItem<S, C>[],
): Promise<({ [P in C]: number } | null)[]> {
  const records = items.map(({ id, by }) => ({ id, bumps: someIncrements(model, by) }))
  // Every counter any item bumps, named once; each record gives an amount for each ('' none).
  const counters = [...new Map(records.flatMap(({ bumps }) => bumps.map((b) => [b.name, b] as const))).values()]
  // Every record's keys first: an id refused here (incrementKeys) refuses the whole call, before
  // anything is sent.
  const keys = records.map(({ id }) => incrementKeys(model, store, encodeId(model, id)))
  const amounts = records.flatMap(({ bumps }) => counters.map(({ name }) => bumps.find((b) => b.name === name)?.by ?? ''))
  const replies = await incrementKeyed(store, counters, keys, amounts)
  return replies.map((values, i) => {
    if (!values) return null
    // The script answers in the order the counters were named.
    const bumps = records[i]!.bumps
    return counted(model, counters.filter(({ name }) => bumps.some((b) => b.name === name)), values) as { [P in C]: number }
  })
}

/**
 * incrementRecords' scripts, for counters already checked (counterBumps; their `by` unused) and
 * records whose keys the caller has (incrementKeys), so that a caller bumping the same records
 * again and again (CachedRead) checks nothing and builds no key anew: `amounts` holds
 * `counters.length` amounts per record ('' for none), one record after the other. Resolves to
 * each record's counters in that order, as the script answers them (null: no record).
 */
export async function incrementKeyed(
  store: Store, counters: readonly CounterBump[], keys: readonly (readonly [record: string, counters: string])[], amounts: readonly (number | '')[],
): Promise<(CountReply[] | null)[]> {
  const named = counters.flatMap(({ name, command, start }) => [name, command, start])
  const n = counters.length
  const batch = store.cluster ? 1 : INCREMENT_MANY_BATCH
  const calls: Promise<(CountReply[] | null)[]>[] = []
  for (let from = 0; from < keys.length; from += batch) {
    const to = Math.min(keys.length, from + batch)
    const some: (string | number)[] = []
    for (let i = from; i < to; i++) some.push(keys[i]![0], keys[i]![1])
    some.push(n, ...named)
    for (let i = from * n; i < to * n; i++) some.push(amounts[i]!)
    calls.push(incrementMany(store, 2 * (to - from), some))
  }
  return (await Promise.all(calls)).flat()
}

type ManyReply = (CountReply[] | null)[]

/**
 * One INCREMENT_MANY script: on the store's hash reader while it is ready (through ioredis, each
 * cost ~2 µs of the server's CPU per page view past the cache, and its command and reply were
 * most of what such views left to the old generation), else through ioredis; and through
 * ioredis again when the reader could not run it: Redis does not have the script yet (NOSCRIPT:
 * ioredis loads it), or the reader's connection was lost meanwhile. A script whose reply was
 * lost with the connection may then count twice, as ioredis' own resend of commands in flight
 * on reconnection may. Any other refusal fails the call: a script that stopped halfway must not
 * run again.
 */
function incrementMany(store: Store, numberOfKeys: number, keysAndArgs: (string | number)[]): Promise<ManyReply> {
  const viaRedis = () => store.redis.redbinModelIncrementManyBuffer(numberOfKeys, ...keysAndArgs)
  const lean = store.hashReader
  if (!lean?.ready) return viaRedis()
  return (lean.evalsha(INCREMENT_MANY_SHA, numberOfKeys, keysAndArgs) as Promise<ManyReply>).catch((err: unknown) =>
    !lean.ready || (err instanceof Error && err.message.startsWith('NOSCRIPT')) ? viaRedis() : Promise.reject(err))
}

/** Runs the increment script (see INCREMENT): never writes the record's key. */
export function bump<S extends Schema>(model: CounterLayout<S>, store: Store, id: string, counters: readonly CounterBump[]) {
  const named = counters.flatMap(({ name, command, start }) => [name, command, start])
  return store.redis.redbinModelIncrement(...incrementKeys(model, store, id), counters.length, ...named, ...counters.map((c) => c.by))
}

/** Checks increments. */
export function counterBumps<S extends Schema>(model: CounterLayout<S>, increment: Partial<Record<string, number | undefined>>): CounterBump[] {
  return Object.entries(increment).filter((e): e is [string, number] => e[1] !== undefined).map(([name, by]) => {
    const column = model.column(name)
    if (!column.options.counter) {
      throw new QueryError(`${model.name}.${name} cannot be incremented: only counter columns can (declare counter: true)`)
    }
    if (column.problem(by) !== null) throw new QueryError(`increment of ${model.name}.${name} ${column.problem(by)}`)
    const start = column.encode(column.options.default) as string // a counter is a number
    return { name, by, command: column.kind === 'int' ? 'HINCRBY' : 'HINCRBYFLOAT', start }
  })
}

/** Checks increments that must name at least one counter. */
function someIncrements<S extends Schema>(model: CounterLayout<S>, increment: Partial<Record<string, number | undefined>>): CounterBump[] {
  const counters = counterBumps(model, increment)
  if (counters.length === 0) throw new QueryError(`increment of ${model.name} names no counter`)
  return counters
}

/** A counter's new value as an increment script answers it: an integer, or a float's text (a Buffer from the scripts' Buffer variants). */
export type CountReply = number | string | Buffer

/** The counters' new values, as an increment script returns them (in `counters`' order). */
export function counted<S extends Schema>(model: CounterLayout<S>, counters: readonly CounterBump[], values: readonly CountReply[]): Record<string, unknown> {
  return Object.fromEntries(counters.map(({ name }, i) => [name, decodeValue(model, name, String(values[i]))]))
}

/**
 * The record's counters hash, or its record key when it cannot have one: the model has no
 * counters, or (on a cluster) its id starts with `}`, which gives the record key an empty hash
 * tag, so no other key is sure to share its slot. Scripts take the record key for "none".
 */
export function countersKey<S extends Schema>(model: CounterLayout<S>, store: Store, id: string): string {
  const keys = store.keys(model.name)
  return model.counters.length === 0 || (store.cluster && id.startsWith('}')) ? keys.record(id) : keys.counters(id)
}

/** The keys an increment script names for a record: the record and its counters hash. */
export function incrementKeys<S extends Schema>(model: CounterLayout<S>, store: Store, id: string): [record: string, counters: string] {
  const record = store.keys(model.name).record(id)
  const counters = countersKey(model, store, id)
  if (counters === record) throw new QueryError(`${model.name}: on a cluster, an id with counters must not start with }`)
  return [record, counters]
}

/** The counter columns among `columns`. */
export function selectedCounters<S extends Schema>(model: CounterLayout<S>, columns: readonly string[]): string[] {
  return model.counters.length === 0 ? [] : columns.filter((c) => model.column(c).options.counter)
}

/** The counters hash of the record at `key`, when any counter is wanted. */
export function readCounters(store: Store, key: string, counters: readonly string[]): Promise<(string | null)[]> | null {
  return counters.length === 0 ? null : store.redis.hmget(countersOf(key), ...counters)
}

/**
 * Sets the counters read by readCounters on a decoded record. A counter's value is its counters
 * hash's, else what a legacy record holds in its own hash (already decoded), else its default.
 */
export function withCounters<S extends Schema, R extends object>(model: CounterLayout<S>, record: R, counters: readonly string[], side: (string | null)[] | null): R {
  counters.forEach((name, i) => {
    const value = side?.[i]
    if (value !== null && value !== undefined) (record as Record<string, unknown>)[name] = decodeValue(model, name, value)
  })
  return record
}
