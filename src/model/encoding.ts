// How a model's records are checked, turned into their stored form (hash fields, the index
// entries they belong in, their unique claims) and read back from Redis' replies. Pure: no I/O.
import type { AnyColumn, InputOf, RecordOf, Schema } from './columns.js'
import { ValidationError } from './errors.js'
import { indexSuffix } from './keys.js'

type ColumnName<S> = keyof S & string
/** A primary key value: a string or an int, as the primary key column says. */
export type Id = string | number

/** What encoding needs to know of a model: its columns, key and indexes (a Model is one). */
export interface RecordLayout<S extends Schema> {
  readonly name: string
  readonly schema: S
  readonly primaryKey: ColumnName<S>
  readonly columnNames: readonly ColumnName<S>[]
  /** The default order column; null orders by id. */
  readonly defaultOrder: { column: ColumnName<S>; desc: boolean } | null
  readonly composites: readonly (readonly ColumnName<S>[])[]
  /** The column, or a QueryError naming the model and the column. */
  column(name: string): AnyColumn
}

type Entry = [suffix: string, score: number]

/** A validated record in stored form: hash fields, index entries and unique claims. */
export interface StoredForm {
  id: string
  fields: (string | Buffer)[]
  entries: Entry[]
  claims: [column: string, value: string][]
}

/** Encodes a primary key value for key names and index members. */
export function encodeId<S extends Schema>(model: RecordLayout<S>, id: unknown): string {
  const column = model.column(model.primaryKey)
  const problem = column.problem(id)
  if (problem !== null) throw new ValidationError(model.name, model.primaryKey, problem)
  return column.encode(id) as string // a key is a string or an int, never bytes
}

/** Checks input against the schema and applies defaults. */
export function validateInput<S extends Schema>(model: RecordLayout<S>, input: InputOf<S>): RecordOf<S> {
  if (typeof input !== 'object' || input === null) throw new ValidationError(model.name, '(record)', 'must be an object')
  for (const name of Object.keys(input)) {
    if (!Object.hasOwn(model.schema, name)) throw new ValidationError(model.name, name, `is not a column of ${model.name}`)
  }
  const record: Record<string, unknown> = {}
  const given = input as Record<string, unknown>
  for (const name of model.columnNames) {
    const column = model.column(name)
    let value = given[name]
    if (value === undefined || value === null) {
      const fallback = column.options.default
      value = typeof fallback === 'function' ? fallback() : fallback
    }
    if (value === undefined || value === null) {
      if (column.options.required || column.options.primaryKey) throw new ValidationError(model.name, name, 'is required')
      record[name] = null
      continue
    }
    const problem = column.problem(value)
    if (problem !== null) throw new ValidationError(model.name, name, problem)
    if (column.options.primaryKey && value === '') throw new ValidationError(model.name, name, 'must not be empty')
    record[name] = value
  }
  return record as RecordOf<S>
}

/** The stored form: hash fields, the index entries it belongs in, its unique claims. */
export function storedForm<S extends Schema>(model: RecordLayout<S>, record: RecordOf<S>): StoredForm {
  const fields: (string | Buffer)[] = []
  const claims: [string, string][] = []
  const encoded: Record<string, string | null> = {}
  for (const name of model.columnNames) {
    const value = record[name]
    // Counters live in the counters hash, never in the record's.
    const stored = value === null || value === undefined || model.column(name).options.counter ? null : model.column(name).encode(value)
    if (stored === null) continue
    fields.push(name, stored)
    if (Buffer.isBuffer(stored)) continue // bytes are never indexed
    encoded[name] = stored
    if (model.column(name).options.unique) claims.push([name, stored])
  }
  const score = (name: string): number => {
    const value = record[name]
    return value === null ? -Infinity : (model.column(name).score?.(value) ?? 0)
  }
  const orderScore = model.defaultOrder ? score(model.defaultOrder.column) : 0
  const entries: Entry[] = [[indexSuffix.all, orderScore]]
  for (const name of model.columnNames) {
    const o = model.column(name).options
    if (o.index) entries.push([indexSuffix.equality([name], [encoded[name] ?? null]), orderScore])
    if (o.sortable && name !== model.defaultOrder?.column) entries.push([indexSuffix.sort(name), score(name)])
  }
  for (const cols of model.composites) {
    entries.push([indexSuffix.equality(cols, cols.map((c) => encoded[c] ?? null)), orderScore])
  }
  return { id: encoded[model.primaryKey] as string, fields, entries, claims }
}

/** A stored form's index entries and claims as the write scripts take them (see WRITE in scripts.ts). */
export function indexArgs({ entries, claims }: StoredForm): (string | number)[] {
  return [
    entries.length, ...entries.flatMap(([suffix, score]) => [suffix, scoreArg(score)]),
    claims.length, ...claims.flat(),
  ]
}

function scoreArg(score: number): string {
  return score === -Infinity ? '-inf' : String(score)
}

/** Reads a record from a hash (HGETALL as an object, of strings or Buffers). */
export function decodeRecord<S extends Schema>(model: RecordLayout<S>, hash: Record<string, string | Buffer>): RecordOf<S> {
  const record: Record<string, unknown> = {}
  for (const name of model.columnNames) record[name] = decodeValue(model, name, hash[name])
  return record as RecordOf<S>
}

/** Reads a record from a flat [field, value, ...] reply. */
export function decodeFlat<S extends Schema>(model: RecordLayout<S>, flat: readonly unknown[]): RecordOf<S> {
  const hash: Record<string, string | Buffer> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) hash[String(flat[i])] = flat[i + 1] as string | Buffer
  return decodeRecord(model, hash)
}

/** Reads selected columns from an HMGET-shaped reply. */
export function decodeSelected<S extends Schema, K extends keyof S>(model: RecordLayout<S>, columns: readonly string[], values: readonly unknown[]): Pick<RecordOf<S>, K> {
  const record: Record<string, unknown> = {}
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i]!
    record[name] = decodeValue(model, name, values[i] as string | Buffer | null | undefined)
  }
  return record as Pick<RecordOf<S>, K>
}

/** One column's value from its stored form. Bytes columns keep their Buffer; every other column reads its text. */
export function decodeValue<S extends Schema>(model: RecordLayout<S>, name: string, raw: string | Buffer | null | undefined): unknown {
  if (raw === null || raw === undefined) return missing(model, name)
  const column = model.column(name)
  if (column.kind === 'bytes') return Buffer.isBuffer(raw) ? raw : Buffer.from(raw)
  return column.decode(typeof raw === 'string' ? raw : raw.toString())
}

// A field absent from the hash: the column was added after the record was written.
function missing<S extends Schema>(model: RecordLayout<S>, name: string): unknown {
  const fallback = model.column(name).options.default
  return typeof fallback === 'function' ? null : (fallback ?? null)
}
