// Type-level tests: checked by `npm run typecheck` (tsc), the runtime part is trivial.
import { describe, expectTypeOf, it } from 'vitest'
import { column, defineModel, type InferInput, type InferRecord, type Store } from '../../src/model/index.js'

const Thing = defineModel(
  'thing',
  {
    id: column.string({ primaryKey: true }),
    name: column.string({ required: true }),
    count: column.int({ required: true, sortable: true }),
    kind: column.enum(['a', 'b', 'c'], { index: true }),
    size: column.enum(['s', 'm'], { default: 's' }),
    ratio: column.float({ default: 0 }),
    at: column.date({ default: () => new Date(), sortable: true }),
    flag: column.boolean({ default: false, index: true }),
    note: column.string(),
    hits: column.int({ default: 0, counter: true }),
    seen: column.date(),
  },
  { defaultOrder: '-at' },
)

const IntKeyed = defineModel('intkeyed', { id: column.int({ primaryKey: true }), label: column.string() })

// Never called: query() and load() do not touch Redis until awaited, but nothing here runs.
const store = {} as Store

describe('InferRecord', () => {
  it('makes required, defaulted and primary key columns non-null and optional ones nullable', () => {
    expectTypeOf<InferRecord<typeof Thing>>().toEqualTypeOf<{
      id: string
      name: string
      count: number
      kind: 'a' | 'b' | 'c' | null
      size: 's' | 'm'
      ratio: number
      at: Date
      flag: boolean
      note: string | null
      hits: number
      seen: Date | null
    }>()
    expectTypeOf(IntKeyed.create).returns.resolves.toEqualTypeOf<{ id: number; label: string | null }>()
  })

  it('types an enum column as the union of its literal values', () => {
    expectTypeOf<InferRecord<typeof Thing>['kind']>().toEqualTypeOf<'a' | 'b' | 'c' | null>()
    expectTypeOf<InferRecord<typeof Thing>['size']>().toEqualTypeOf<'s' | 'm'>()
  })
})

describe('InferInput', () => {
  it('requires required columns and the primary key, and makes every other column optional', () => {
    expectTypeOf<InferInput<typeof Thing>>().toEqualTypeOf<{
      id: string
      name: string
      count: number
      kind?: 'a' | 'b' | 'c' | null
      size?: 's' | 'm' | null
      ratio?: number | null
      at?: Date | null
      flag?: boolean | null
      note?: string | null
      hits?: number | null
      seen?: Date | null
    }>()
  })

  it('accepts the minimal input and refuses incomplete or ill-typed ones', () => {
    expectTypeOf<{ id: string; name: string; count: number }>().toExtend<InferInput<typeof Thing>>()
    expectTypeOf<{ id: string; name: string }>().not.toExtend<InferInput<typeof Thing>>()
    expectTypeOf<{ id: string; name: string; count: string }>().not.toExtend<InferInput<typeof Thing>>()
    expectTypeOf<{ id: string; name: string; count: number; kind: 'z' }>().not.toExtend<InferInput<typeof Thing>>()
    expectTypeOf(Thing.create).parameter(1).toEqualTypeOf<InferInput<typeof Thing>>()
    expectTypeOf(Thing.create).returns.resolves.toEqualTypeOf<InferRecord<typeof Thing>>()
  })
})

describe('queries and loads', () => {
  it('narrows query results to the selected columns', () => {
    expectTypeOf(Thing.query(store).all).returns.resolves.toEqualTypeOf<InferRecord<typeof Thing>[]>()
    const picked = Thing.query(store).filter({ kind: ['a', null] }).orderBy('-count').select('id', 'name', 'kind')
    type Picked = { id: string; name: string; kind: 'a' | 'b' | 'c' | null }
    expectTypeOf(picked.all).returns.resolves.toEqualTypeOf<Picked[]>()
    expectTypeOf(picked.first).returns.resolves.toEqualTypeOf<Picked | null>()
    expectTypeOf(picked.page).returns.resolves.toEqualTypeOf<{ items: Picked[]; total: number }>()
    expectTypeOf(picked.count).returns.resolves.toEqualTypeOf<number>()
    expectTypeOf(picked.ids).returns.resolves.toEqualTypeOf<string[]>()
    // The primary key comes along at run time, but select()'s type names only what was selected.
    expectTypeOf(Thing.query(store).select('count').all).returns.resolves.toEqualTypeOf<{ count: number }[]>()
  })

  it('narrows load() to the selected columns', () => {
    expectTypeOf(Thing.load<'hits' | 'name'>).returns.resolves.toEqualTypeOf<{ hits: number; name: string } | null>()
    expectTypeOf(Thing.load).returns.resolves.toEqualTypeOf<InferRecord<typeof Thing> | null>()
  })

  it('rejects ill-typed filters, orders, selections and increments at compile time', () => {
    // Never called: each line must fail to compile.
    const _compileOnly = () => {
      // @ts-expect-error: a value outside the enum
      Thing.query(store).filter({ kind: 'z' })
      // @ts-expect-error: a string for an int column
      Thing.query(store).filter({ count: '1' })
      // @ts-expect-error: not a column
      Thing.query(store).filter({ nope: 1 })
      // @ts-expect-error: not a column
      Thing.query(store).orderBy('-nope')
      // @ts-expect-error: not a column
      Thing.query(store).select('nope')
      // @ts-expect-error: only counter columns can be incremented
      void Thing.load(store, 'x', { increment: { name: 1 } })
      // @ts-expect-error: a number column that is not a counter
      void Thing.increment(store, 'x', { ratio: 1 })
      // @ts-expect-error: a missing required column
      void Thing.create(store, { id: 'x', name: 'n' })
      // @ts-expect-error: an unknown column
      void Thing.create(store, { id: 'x', name: 'n', count: 1, nope: 1 })
      // @ts-expect-error: null for the primary key
      void Thing.save(store, { id: null, name: 'n', count: 1 })
    }
    expectTypeOf(_compileOnly).toBeFunction()
  })
})
