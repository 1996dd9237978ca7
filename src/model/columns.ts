// Typed columns: how a value is checked, stored in a Redis hash field, read back, and scored
// in a sorted set. Every stored form round-trips exactly.

export type ColumnKind = 'string' | 'int' | 'float' | 'boolean' | 'date' | 'enum' | 'bytes'

export interface ColumnOptions<T> {
  primaryKey?: boolean
  required?: boolean
  /** A value, or a function called for each new record (e.g. `() => new Date()`). */
  default?: T | (() => T)
  /** Equality index: one sorted set per value, ordered by the model's default order. */
  index?: boolean
  /** Numeric order: one sorted set scored by this column (numbers, dates, booleans only). */
  sortable?: boolean
  unique?: boolean
  /**
   * A counter (int or float, with a number default): kept apart from the record, in its counters
   * hash, and changed only by increments, so that bumping it never writes the record's key.
   */
  counter?: boolean
}

export interface Column<T, O extends ColumnOptions<T> = ColumnOptions<T>> {
  readonly kind: ColumnKind
  readonly options: O
  /** The allowed values of an enum column. */
  readonly values?: readonly string[]
  /** Returns what is wrong with `value`, or null when it is a valid T. */
  problem(value: unknown): string | null
  /** The stored form: text, or the bytes themselves for a bytes column. */
  encode(value: T): string | Buffer
  decode(raw: string): T
  /** The sorted-set score; only numeric kinds have one. */
  score?(value: T): number
}

// The widest column: the schema's generic bound. Its options must not be `any`: a column
// written without options (`column.string()`) infers them from this bound, and `any` options
// would read as "always set", typing an optional column as non-null.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyColumn = Column<any, ColumnOptions<any>>
export type Schema = Record<string, AnyColumn>

// Inferred from decode(): matching on the options (e.g. ColumnOptions<never>) would turn every
// column with a default into `never`.
export type ValueOf<C> = C extends { decode(raw: string): infer T } ? T : never

/** Columns that always hold a value once saved: primary key, required, or defaulted. */
type AlwaysSet<C> = C extends { options: { primaryKey: true } | { required: true } | { default: unknown } } ? true : false

/** A loaded record: unset optional columns read back as null. */
export type RecordOf<S extends Schema> = {
  -readonly [K in keyof S]: AlwaysSet<S[K]> extends true ? ValueOf<S[K]> : ValueOf<S[K]> | null
}

type MustGive<C> = C extends { options: { default: unknown } }
  ? false
  : C extends { options: { primaryKey: true } | { required: true } }
    ? true
    : false
type GivenKeys<S extends Schema> = { [K in keyof S]: MustGive<S[K]> extends true ? K : never }[keyof S]
type Simplify<T> = { [K in keyof T]: T[K] } & unknown

/** What create() and save() accept: required columns must be given, the rest may be omitted. */
export type InputOf<S extends Schema> = Simplify<
  { [K in GivenKeys<S>]: ValueOf<S[K]> } & { [K in Exclude<keyof S, GivenKeys<S>>]?: ValueOf<S[K]> | null }
>

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : 'a Date'
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`
  return typeof value
}

function make<T, O extends ColumnOptions<T>>(
  kind: ColumnKind,
  options: O,
  body: Omit<Column<T, O>, 'kind' | 'options'>,
): Column<T, O> {
  return { kind, options, ...body }
}

function numberScore(value: number): number {
  return value
}

// String(-0) is "0"; keep the sign so that floats round-trip exactly.
function encodeNumber(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value)
}

export const column = {
  string<const O extends ColumnOptions<string>>(options: O = {} as O): Column<string, O> {
    return make('string', options, {
      problem: (v) =>
        typeof v !== 'string'
          ? `must be a string, got ${describe(v)}`
          : v.isWellFormed()
            ? null
            : 'must be well-formed Unicode (it contains a lone surrogate)',
      encode: (v) => v,
      decode: (raw) => raw,
    })
  },

  int<const O extends ColumnOptions<number>>(options: O = {} as O): Column<number, O> {
    return make('int', options, {
      problem: (v) => (Number.isSafeInteger(v) ? null : `must be a safe integer, got ${describe(v)}`),
      // An integer has no negative zero: -0 and 0 must be one key, one index entry, one claim.
      encode: (v) => String(v),
      decode: Number,
      score: numberScore,
    })
  },

  float<const O extends ColumnOptions<number>>(options: O = {} as O): Column<number, O> {
    return make('float', options, {
      problem: (v) => (typeof v === 'number' && Number.isFinite(v) ? null : `must be a finite number, got ${describe(v)}`),
      encode: encodeNumber,
      decode: Number,
      score: numberScore,
    })
  },

  boolean<const O extends ColumnOptions<boolean>>(options: O = {} as O): Column<boolean, O> {
    return make('boolean', options, {
      problem: (v) => (typeof v === 'boolean' ? null : `must be a boolean, got ${describe(v)}`),
      encode: (v) => (v ? '1' : '0'),
      decode: (raw) => raw === '1',
      score: (v) => (v ? 1 : 0),
    })
  },

  /** Dates are stored and sorted as epoch milliseconds. */
  date<const O extends ColumnOptions<Date>>(options: O = {} as O): Column<Date, O> {
    return make('date', options, {
      problem: (v) =>
        v instanceof Date && !Number.isNaN(v.getTime()) ? null : `must be a valid Date, got ${describe(v)}`,
      encode: (v) => String(v.getTime()),
      decode: (raw) => new Date(Number(raw)),
      score: (v) => v.getTime(),
    })
  },

  /**
   * Bytes, stored and read back as a Buffer without any text decoding: for data that is
   * written once and served as it is (e.g. a pre-rendered page). Cannot be indexed, sorted or
   * unique.
   */
  bytes<const O extends ColumnOptions<Buffer>>(options: O = {} as O): Column<Buffer, O> {
    return make('bytes', options, {
      problem: (v) => (Buffer.isBuffer(v) ? null : `must be a Buffer, got ${describe(v)}`),
      encode: (v) => v,
      decode: (raw) => Buffer.from(raw),
    })
  },

  enum<const V extends readonly string[], const O extends ColumnOptions<V[number]>>(
    values: V,
    options: O = {} as O,
  ): Column<V[number], O> {
    return make('enum', options, {
      values,
      problem: (v) =>
        typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.join(', ')}, got ${describe(v)}`,
      encode: (v) => v,
      decode: (raw) => raw,
    })
  },
}
