// Bytes columns: Buffers in, the same Buffers out, on every read path, with no text decoding.
import { describe, expect, it } from 'vitest'
import { column, defineModel, ValidationError } from '../../src/model/index.js'
import { useTestRedis } from '../helpers/redis.js'
import { freshStore } from './fixtures.js'

const db = useTestRedis()

const Page = defineModel('page', {
  id: column.string({ primaryKey: true }),
  kind: column.enum(['a', 'b'], { index: true }),
  title: column.string({ default: '' }),
  body: column.bytes(),
  createdAt: column.date({ required: true, sortable: true }),
}, { defaultOrder: '-createdAt' })

// Not valid UTF-8 (a lone continuation byte, an overlong form, 0xFF), with NUL and multi-byte text.
const binary = Buffer.concat([Buffer.from([0x80, 0xc0, 0xaf, 0xff, 0x00]), Buffer.from('é ✓ 🎉')])

describe('bytes columns', () => {
  it('round-trips bytes that are not valid UTF-8 exactly, through every read', async () => {
    const store = freshStore(db)
    await Page.create(store, { id: 'p1', kind: 'a', title: 'café', body: binary, createdAt: new Date(1000) })

    const loaded = await Page.load(store, 'p1')
    expect(Buffer.isBuffer(loaded?.body)).toBe(true)
    expect(loaded?.body?.equals(binary)).toBe(true)
    expect(loaded?.title).toBe('café')

    const selected = await Page.load(store, 'p1', { select: ['body', 'title'] })
    expect(selected?.body?.equals(binary)).toBe(true)
    expect(selected?.title).toBe('café')

    const [many] = await Page.loadMany(store, ['p1'])
    expect(many?.body?.equals(binary)).toBe(true)

    const [listed] = await Page.query(store).filter({ kind: 'a' }).all()
    expect(listed?.body?.equals(binary)).toBe(true)
    expect(listed?.createdAt.getTime()).toBe(1000)

    const [picked] = await Page.query(store).select('body').all()
    expect(picked?.body?.equals(binary)).toBe(true)

    const taken = await Page.take(store, 'p1')
    expect(taken?.body?.equals(binary)).toBe(true)
    expect(await Page.load(store, 'p1')).toBeNull()
  })

  it('stores an empty Buffer as an empty value, and unset as null', async () => {
    const store = freshStore(db)
    await Page.create(store, { id: 'e', kind: 'b', body: Buffer.alloc(0), createdAt: new Date() })
    await Page.create(store, { id: 'n', kind: 'b', createdAt: new Date() })
    expect((await Page.load(store, 'e'))?.body?.length).toBe(0)
    expect((await Page.load(store, 'n'))?.body).toBeNull()
  })

  it('can be patched in place', async () => {
    const store = freshStore(db)
    await Page.create(store, { id: 'p', kind: 'a', createdAt: new Date() })
    expect(await Page.patch(store, 'p', { body: binary })).toBe(true)
    expect((await Page.load(store, 'p', { select: ['body'] }))?.body?.equals(binary)).toBe(true)
    expect((await Page.verify(store)).ok).toBe(true)
  })

  it('refuses anything but a Buffer', async () => {
    const store = freshStore(db)
    await expect(Page.create(store, { id: 'x', kind: 'a', body: 'text' as unknown as Buffer, createdAt: new Date() }))
      .rejects.toThrow(ValidationError)
  })

  it('cannot be indexed, sorted, unique or a key', () => {
    for (const options of [{ index: true }, { sortable: true }, { unique: true }]) {
      expect(() => defineModel('bad', { id: column.string({ primaryKey: true }), b: column.bytes(options) })).toThrow(/bytes|sortable/)
    }
    expect(() => defineModel('bad', { b: column.bytes({ primaryKey: true }) })).toThrow(/primary key is a string or an int/)
    expect(() => defineModel('bad', { id: column.string({ primaryKey: true }), b: column.bytes() }, { indexes: [['id', 'b']] }))
      .toThrow(/bytes/)
  })
})
