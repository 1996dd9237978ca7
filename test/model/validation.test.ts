// Writes are type-checked against the schema, defaults are applied, and every valid value
// round-trips exactly through Redis.
import { beforeAll, describe, expect, it } from 'vitest'
import { column, defineModel, DuplicateKeyError, type Store, ValidationError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshStore, rejection, User } from './fixtures.js'

const db = useTestRedis()

/** One optional column of every kind, so that each value can be tried on its own. */
const Sample = defineModel('sample', {
  id: column.string({ primaryKey: true }),
  text: column.string({ index: true }),
  n: column.int({ sortable: true }),
  x: column.float({ sortable: true }),
  at: column.date({ sortable: true }),
  flag: column.boolean({ index: true }),
  kind: column.enum(['a', 'b', ''], { index: true }),
})

type SampleInput = Omit<Parameters<typeof Sample.create>[1], 'id'>

const valid = { id: 'u1', name: 'Ada', age: 36 }

/** Creates with `input` and returns the ValidationError it must throw. */
async function invalid(store: Store, input: Record<string, unknown>): Promise<ValidationError> {
  return rejection(User.create(store, input as never), ValidationError)
}

describe('writes are type-checked', () => {
  let store: Store
  beforeAll(() => {
    store = freshStore(db)
  })

  it('rejects a value of the wrong type, naming the column and the problem', async () => {
    const err = await invalid(store, { ...valid, age: '36' })
    expect(err.column).toBe('age')
    expect(err.model).toBe('user')
    expect(err.message).toBe('user.age must be a safe integer, got "36"')

    const err2 = await invalid(store, { ...valid, name: 42 })
    expect(err2.column).toBe('name')
    expect(err2.message).toBe('user.name must be a string, got number 42')

    const err3 = await invalid(store, { ...valid, active: 'yes' })
    expect(err3.column).toBe('active')
    expect(err3.message).toBe('user.active must be a boolean, got "yes"')

    const err4 = await invalid(store, { ...valid, createdAt: '2024-01-01' })
    expect(err4.column).toBe('createdAt')
    expect(err4.message).toMatch(/^user\.createdAt must be a valid Date/)
  })

  it('describes a valid Date given to a non-date column as a Date, not as an invalid one', async () => {
    const err = await invalid(store, { ...valid, age: new Date() })
    expect(err.column).toBe('age')
    expect(err.message).toBe('user.age must be a safe integer, got a Date')
  })

  it('rejects a missing required value, and null in its place', async () => {
    const err = await invalid(store, { id: 'u1', age: 36 })
    expect(err.column).toBe('name')
    expect(err.message).toBe('user.name is required')

    const err2 = await invalid(store, { ...valid, age: null })
    expect(err2.column).toBe('age')
    expect(err2.message).toBe('user.age is required')

    const err3 = await invalid(store, { name: 'Ada', age: 36 })
    expect(err3.column).toBe('id')
    expect(err3.message).toBe('user.id is required')
  })

  it('rejects an empty primary key', async () => {
    const err = await invalid(store, { ...valid, id: '' })
    expect(err.column).toBe('id')
    expect(err.message).toBe('user.id must not be empty')
  })

  it('rejects a value outside an enum, listing the allowed values', async () => {
    const err = await invalid(store, { ...valid, gender: 'robot' })
    expect(err.column).toBe('gender')
    expect(err.message).toBe('user.gender must be one of male, female, other, got "robot"')
    // Case matters: an enum value is an exact string.
    expect((await invalid(store, { ...valid, gender: 'Male' })).column).toBe('gender')
  })

  it('rejects an unknown column, even one named like an Object.prototype property', async () => {
    const err = await invalid(store, { ...valid, nickname: 'x' })
    expect(err.column).toBe('nickname')
    expect(err.message).toBe('user.nickname is not a column of user')

    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      const input = JSON.parse(JSON.stringify(valid)) as Record<string, unknown>
      Object.defineProperty(input, name, { value: 'x', enumerable: true })
      const e = await invalid(store, input)
      expect(e.column).toBe(name)
      expect(e.message).toBe(`user.${name} is not a column of user`)
    }
  })

  it('rejects a record that is not an object', async () => {
    const err = await invalid(store, null as never)
    expect(err.column).toBe('(record)')
  })

  it('rejects strings with lone surrogates', async () => {
    for (const bad of ['\uD800', 'a\uDC00b', 'x\uD83D', '\uDE00y']) {
      const err = await invalid(store, { ...valid, name: bad })
      expect(err.column).toBe('name')
      expect(err.message).toMatch(/well-formed Unicode/)
    }
  })

  it('rejects integers that are not safe, fractions, NaN and Infinity in an int column', async () => {
    for (const bad of [2 ** 53, -(2 ** 53), 1.5, Number.NaN, Infinity, -Infinity, 10n]) {
      const err = await invalid(store, { ...valid, age: bad })
      expect(err.column).toBe('age')
      expect(err.message).toMatch(/^user\.age must be a safe integer/)
    }
  })

  it('rejects NaN and infinities in a float column', async () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, '1.5']) {
      const err = await invalid(store, { ...valid, score: bad })
      expect(err.column).toBe('score')
      expect(err.message).toMatch(/^user\.score must be a finite number/)
    }
  })

  it('rejects an invalid Date and a timestamp number in a date column', async () => {
    const err = await invalid(store, { ...valid, createdAt: new Date('not a date') })
    expect(err.message).toBe('user.createdAt must be a valid Date, got an invalid date')
    expect((await invalid(store, { ...valid, createdAt: Date.now() })).column).toBe('createdAt')
  })

  it('writes nothing when a value is rejected', async () => {
    await invalid(store, { ...valid, id: 'never', age: 'old' })
    expect(await User.load(store, 'never')).toBeNull()
    expect(await User.query(store).count()).toBe(0)
  })

  it('checks save() as strictly as create()', async () => {
    const err = await rejection(User.save(store, { ...valid, gender: 'robot' } as never), ValidationError)
    expect(err.column).toBe('gender')
    expect(await User.load(store, valid.id)).toBeNull()
  })

  it('rejects an id of the wrong type when loading or deleting', async () => {
    expect((await rejection(User.load(store, 5), ValidationError)).column).toBe('id')
    expect((await rejection(User.delete(store, 5), ValidationError)).column).toBe('id')
  })
})

describe('defaults', () => {
  let store: Store
  beforeAll(() => {
    store = freshStore(db)
  })

  it('applies static and function defaults to omitted and null values', async () => {
    const before = Date.now()
    const created = await User.create(store, { id: 'd1', name: 'Ada', age: 36, score: null })
    expect(created.score).toBe(0)
    expect(created.active).toBe(true)
    expect(created.views).toBe(0)
    expect(created.createdAt).toBeInstanceOf(Date)
    expect(created.createdAt.getTime()).toBeGreaterThanOrEqual(before)
    expect(created.createdAt.getTime()).toBeLessThanOrEqual(Date.now())
    expect(created.gender).toBeNull()
    expect(await User.load(store, 'd1')).toEqual(created)
  })

  it('calls a function default once for each record', async () => {
    let calls = 0
    const Ticket = defineModel('ticket', {
      id: column.string({ primaryKey: true }),
      seq: column.int({ default: () => ++calls }),
    })
    const a = await Ticket.create(store, { id: 'a' })
    const b = await Ticket.create(store, { id: 'b' })
    expect([a.seq, b.seq]).toEqual([1, 2])
    expect((await Ticket.load(store, 'b'))?.seq).toBe(2)
  })

  it('keeps a given value over the default', async () => {
    const at = new Date(1_000_000_000_123)
    const created = await User.create(store, { id: 'd2', name: 'Bo', age: 1, score: 2.5, active: false, createdAt: at })
    expect(created).toMatchObject({ score: 2.5, active: false, createdAt: at })
    expect(await User.load(store, 'd2')).toEqual(created)
  })

  it('validates a default like any other value', async () => {
    const Broken = defineModel('broken', {
      id: column.string({ primaryKey: true }),
      n: column.int({ default: () => 1.5 }),
    })
    const err = await rejection(Broken.create(store, { id: 'x' }), ValidationError)
    expect(err.column).toBe('n')
  })
})

describe('values round-trip exactly', () => {
  let store: Store
  beforeAll(() => {
    store = freshStore(db)
  })

  const mib = 'redbin ✓ 😀\n'.repeat(Math.ceil((1 << 20) / 12)).slice(0, 1 << 20)
  const cases: [string, SampleInput][] = [
    ['an empty string', { text: '' }],
    ['a lone NUL byte', { text: '\0' }],
    ['NUL bytes inside a string', { text: 'a\0b\0\0c\0' }],
    ['emoji, ZWJ sequences and combining marks', { text: '😀👍🏽👨‍👩‍👧 é (e\u0301) 中文 \u{10FFFF}' }],
    ['control characters and CRLF', { text: '\t\r\n\u0001\u007f\u0085' }],
    ['strings that look like other types', { text: '-0' }],
    ['"null"', { text: 'null' }],
    ['JSON-ish text', { text: '["a",{"b":null}]' }],
    ['a 1 MiB string', { text: mib }],
    ['zero', { n: 0 }],
    ['a negative int', { n: -42 }],
    ['the largest safe int', { n: Number.MAX_SAFE_INTEGER }],
    ['the smallest safe int', { n: Number.MIN_SAFE_INTEGER }],
    ['0.1', { x: 0.1 }],
    ['0.1 + 0.2', { x: 0.1 + 0.2 }],
    ['-0.0', { x: -0 }],
    ['1e-300', { x: 1e-300 }],
    ['the smallest subnormal', { x: 5e-324 }],
    ['the largest double', { x: 1.7976931348623157e308 }],
    ['the most negative double', { x: -1.7976931348623157e308 }],
    ['a date with milliseconds', { at: new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)) }],
    ['the epoch', { at: new Date(0) }],
    ['a date before the epoch', { at: new Date(-1) }],
    ['the last representable date', { at: new Date(8.64e15) }],
    ['true', { flag: true }],
    ['false', { flag: false }],
    ['an enum value', { kind: 'b' }],
    ['an empty-string enum value', { kind: '' }],
    ['null in every optional column', { text: null, n: null, x: null, at: null, flag: null, kind: null }],
  ]
  const inputs = cases.map(([, input], i) => ({ ...input, id: `r${String(i).padStart(2, '0')}` }))
  const idOf = (label: string) => inputs[cases.findIndex(([l]) => l === label)]?.id ?? 'missing'

  beforeAll(async () => {
    for (const input of inputs) await Sample.create(store, input)
  })

  /** Every column the input gives must come back identical (Object.is: -0 is not 0). */
  function expectSame(loaded: Record<string, unknown> | null, input: Record<string, unknown>): void {
    expect(loaded).not.toBeNull()
    for (const [name, value] of Object.entries(input)) {
      const got = loaded?.[name]
      if (value instanceof Date) {
        expect(got).toBeInstanceOf(Date)
        expect((got as Date).getTime()).toBe(value.getTime())
      } else {
        expect(Object.is(got, value), `${name}: ${String(got).slice(0, 40)} vs ${String(value).slice(0, 40)}`).toBe(true)
      }
    }
    for (const name of Sample.columnNames) {
      if (!(name in input)) expect(loaded?.[name]).toBeNull()
    }
  }

  it.each(cases.map(([label], i) => [label, i] as const))('round-trips %s through create and load', async (_label, i) => {
    const input = inputs[i] as Record<string, unknown>
    expectSame(await Sample.load(store, input.id as string), input)
  })

  it('round-trips every value through query().all()', async () => {
    const all = await Sample.query(store).all()
    expect(all.map((r) => r.id)).toEqual(inputs.map((r) => r.id))
    all.forEach((record, i) => expectSame(record, inputs[i] as Record<string, unknown>))
  })

  it('round-trips every value through select() and load({ select })', async () => {
    const selected = await Sample.query(store).select('text', 'x', 'at').all()
    selected.forEach((record, i) => {
      const input = inputs[i] as Record<string, unknown>
      expect(Object.keys(record).sort()).toEqual(['at', 'id', 'text', 'x'])
      for (const name of ['text', 'x'] as const) expect(Object.is(record[name], input[name] ?? null)).toBe(true)
      expect(record.at?.getTime() ?? null).toBe((input.at as Date | undefined)?.getTime() ?? null)
    })
    const one = await Sample.load(store, idOf('-0.0'), { select: ['x'] })
    expect(Object.is(one?.x, -0)).toBe(true)
  })

  it('finds exact string values through an equality index (empty string, NUL, emoji, 1 MiB)', async () => {
    for (const input of inputs.filter((r) => typeof r.text === 'string')) {
      const ids = await Sample.query(store).filter({ text: input.text }).ids()
      expect(ids).toEqual([input.id])
    }
    expect(await Sample.query(store).filter({ kind: '' }).ids()).toEqual([idOf('an empty-string enum value')])
  })

  it('stores -0.0 as "-0" so that its sign survives', async () => {
    const key = store.keys('sample').record(idOf('-0.0'))
    expect(await db.redis.hget(key, 'x')).toBe('-0')
  })

  it('round-trips values through take()', async () => {
    const input = { id: 'take-me', text: 'a\0😀', x: -0, at: new Date(-1), flag: false, n: Number.MIN_SAFE_INTEGER }
    await Sample.create(store, input)
    expectSame(await Sample.take(store, input.id), input)
  })
})

describe('an int primary key', () => {
  const Counter = defineModel('counter', {
    id: column.int({ primaryKey: true }),
    label: column.string(),
  })

  it('round-trips negative and large ids', async () => {
    const store = freshStore(db)
    for (const id of [Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, -1, 7]) {
      await Counter.create(store, { id, label: String(id) })
      expect(await Counter.load(store, id)).toEqual({ id, label: String(id) })
    }
  })

  it('treats -0 and 0 as the same id', async () => {
    const store = freshStore(db)
    await Counter.create(store, { id: 0, label: 'zero' })
    await rejection(Counter.create(store, { id: -0, label: 'negative zero' }), DuplicateKeyError)
    expect(await Counter.load(store, -0)).toEqual({ id: 0, label: 'zero' })
  })

  it('rejects a fractional or string id', async () => {
    const store = freshStore(db)
    expect((await rejection(Counter.create(store, { id: 1.5 }), ValidationError)).column).toBe('id')
    expect((await rejection(Counter.load(store, '1'), ValidationError)).column).toBe('id')
  })
})
