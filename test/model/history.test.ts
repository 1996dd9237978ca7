// Versioned models: update() with compare-and-set on the version column, a history of past
// versions (defineHistory) that expires and is deleted with its record, and patch(ifVersion).
import { describe, expect, it, vi } from 'vitest'
import {
  column, defineHistory, defineModel, QueryError, Store, ValidationError, VersionConflictError, VersionLimitError,
} from '../../src/model/index.js'
import { clusterMode, useTestRedis } from '../helpers/redis.js'
import { freshPrefix, freshStore, rejection, scanRecordsAndIndexes } from './fixtures.js'

const db = useTestRedis()

const Doc = defineModel('doc', {
  id: column.string({ primaryKey: true }),
  title: column.string({ default: '' }),
  tag: column.string({ required: true, index: true }),
  email: column.string({ unique: true }),
  body: column.bytes({ required: true }),
  rev: column.int({ default: 1 }),
  views: column.int({ default: 0, counter: true }),
  createdAt: column.date({ required: true, sortable: true }),
}, { defaultOrder: '-createdAt', version: 'rev' })

const DocVersion = defineHistory('doc_version', Doc, ['title', 'tag', 'body', 'rev'])

function newDoc(id: string, tag = 'a') {
  return { id, tag, body: Buffer.from(`body of ${id}`), createdAt: new Date(), email: `${id}@x` }
}

describe('update()', () => {
  it('moves the version on, keeps the old version in the history and moves index entries, in one round trip', async () => {
    const store = new Store(db.connect(), { prefix: freshPrefix(db) })
    const created = await Doc.create(store, newDoc('d1', 'a'))
    await Doc.load(store, 'd1') // connects
    const warm = await Doc.create(store, newDoc('warm', 'w'))
    await Doc.update(store, warm, { title: 'loads the script' })
    const sent = vi.spyOn(store.redis, 'sendCommand')
    const updated = await Doc.update(store, created, { title: 'Two', tag: 'b', body: Buffer.from('new\0body') })
    expect(sent).toHaveBeenCalledTimes(clusterMode ? 2 : 1)
    sent.mockRestore()
    expect(updated).toMatchObject({ id: 'd1', rev: 2, title: 'Two', tag: 'b' })
    expect(await Doc.load(store, 'd1')).toMatchObject({ rev: 2, title: 'Two', tag: 'b', body: Buffer.from('new\0body') })
    expect(await DocVersion.load(store, 'd1', 1)).toEqual({ id: 'd1', title: '', tag: 'a', body: Buffer.from('body of d1'), rev: 1 })
    expect(await DocVersion.load(store, 'd1', 2)).toBeNull()
    expect(await Doc.query(store).filter({ tag: 'b' }).ids()).toEqual(['d1'])
    expect(await Doc.query(store).filter({ tag: 'a' }).ids()).toEqual([])
    expect(await Doc.verify(store)).toMatchObject({ ok: true })
  })

  it('refuses a stale version, naming the current one, and changes nothing', async () => {
    const store = freshStore(db)
    const v1 = await Doc.create(store, newDoc('s'))
    await Doc.update(store, v1, { title: 'second' })
    const err = await rejection(Doc.update(store, v1, { title: 'lost?', tag: 'z' }), VersionConflictError)
    expect(err).toMatchObject({ expected: 1, current: 2, id: 's' })
    expect(await Doc.load(store, 's')).toMatchObject({ rev: 2, title: 'second', tag: 'a' })
    expect(await DocVersion.load(store, 's', 2)).toBeNull()
    expect(await Doc.verify(store)).toMatchObject({ ok: true })
  })

  it('lets exactly one of 20 concurrent updates from one version win', async () => {
    const store = freshStore(db)
    const v1 = await Doc.create(store, newDoc('race'))
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) =>
      Doc.update(store, v1, { title: `writer ${i}`, tag: `t${i}` })))
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r) => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost.every((r) => r.reason instanceof VersionConflictError && r.reason.current === 2)).toBe(true)
    const winner = (won[0] as PromiseFulfilledResult<{ title: string; tag: string }>).value
    expect(await Doc.load(store, 'race')).toMatchObject({ rev: 2, title: winner.title, tag: winner.tag })
    expect(await Doc.query(store).filter({ tag: winner.tag }).ids()).toEqual(['race'])
    expect(await Doc.verify(store)).toMatchObject({ ok: true })
  })

  it('refuses to go beyond maxVersion, naming the limit', async () => {
    const store = freshStore(db)
    let doc = await Doc.create(store, newDoc('lim'))
    doc = (await Doc.update(store, doc, { title: '2' }, { maxVersion: 3 }))!
    doc = (await Doc.update(store, doc, { title: '3' }, { maxVersion: 3 }))!
    const err = await rejection(Doc.update(store, doc, { title: '4' }, { maxVersion: 3 }), VersionLimitError)
    expect(err).toMatchObject({ limit: 3 })
    expect(await Doc.load(store, 'lim')).toMatchObject({ rev: 3, title: '3' })
  })

  it('returns null for a missing or deleted record and never creates one', async () => {
    const store = freshStore(db)
    const doc = await Doc.create(store, newDoc('gone'))
    await Doc.delete(store, 'gone')
    expect(await Doc.update(store, doc, { title: 'back?' })).toBeNull()
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })

  it('keeps columns it is not given, counters bumped meanwhile included', async () => {
    const store = freshStore(db)
    const doc = await Doc.create(store, newDoc('keep'))
    await Doc.load(store, 'keep', { increment: { views: 5 } })
    await Doc.update(store, doc, { title: 'edited' })
    expect(await Doc.load(store, 'keep')).toMatchObject({ views: 5, title: 'edited', email: 'keep@x' })
    // The unique claim is still held after the update rebuilt the entries.
    await expect(Doc.create(store, { ...newDoc('other'), email: 'keep@x' })).rejects.toThrow(/must be unique/)
  })

  it('refuses changes to the key, the version or a unique column, incomplete records and bad values', async () => {
    const store = freshStore(db)
    const doc = await Doc.create(store, newDoc('ref'))
    for (const change of [{ id: 'x' }, { rev: 9 }, { email: 'y@x' }]) {
      await rejection(Doc.update(store, doc, change), QueryError)
    }
    const { tag: _tag, ...partial } = doc
    await expect(Doc.update(store, partial as typeof doc, { title: 'x' })).rejects.toThrow(/doc\.tag is missing/)
    await rejection(Doc.update(store, doc, { tag: null } as never), ValidationError)
    await rejection(Doc.update(store, doc, { title: 5 } as never), ValidationError)
    await expect(Doc.update(store, doc, { views: 1 })).rejects.toThrow(/doc\.views cannot be updated: it is a counter/)
    expect(await Doc.load(store, 'ref')).toMatchObject({ rev: 1, id: 'ref' })
  })

  it('needs a version column, and a version column must be an int with default 1 in no index', () => {
    const Plain = defineModel('plain', { id: column.string({ primaryKey: true }) })
    expect(() => defineHistory('plain_history', Plain, [])).toThrow(/needs a version column/)
    expect(() => defineModel('bad', { id: column.string({ primaryKey: true }), v: column.int({ index: true, default: 1 }) }, { version: 'v' }))
      .toThrow(/version column/)
    expect(() => defineModel('bad2', { id: column.string({ primaryKey: true }), v: column.int() }, { version: 'v' })).toThrow(/version column/)
    expect(() => defineHistory('again', Doc, ['title'])).toThrow(/already has the history/)
  })
})

describe('a history', () => {
  it('reads versions one at a time or many in one round trip, with selected columns', async () => {
    const store = new Store(db.connect(), { prefix: freshPrefix(db) })
    let doc = await Doc.create(store, newDoc('h'))
    for (let i = 2; i <= 4; i++) doc = (await Doc.update(store, doc, { title: `t${i}` }))!
    await DocVersion.load(store, 'h', 1) // connects
    const sent = vi.spyOn(store.redis, 'sendCommand')
    const many = DocVersion.loadMany(store, 'h', [3, 2, 1, 7], ['title', 'rev'])
    expect(sent).toHaveBeenCalledTimes(4) // all sent before any reply
    expect(await many).toEqual([{ id: 'h', title: 't3', rev: 3 }, { id: 'h', title: 't2', rev: 2 }, { id: 'h', title: '', rev: 1 }, null])
    sent.mockRestore()
    expect(await DocVersion.load(store, 'h', 2, ['title'])).toEqual({ id: 'h', title: 't2' })
  })

  it('expires with its record', async () => {
    const store = freshStore(db)
    const at = new Date(Date.now() + 60_000)
    const doc = await Doc.create(store, newDoc('ttl'), { expiresAt: at })
    await Doc.update(store, doc, { title: 'v2' })
    const key = store.historyKeys('doc_version').version('ttl', 1)
    expect(await db.redis.call('PEXPIRETIME', key)).toBe(at.getTime())
    expect(await db.redis.call('PEXPIRETIME', store.keys('doc').record('ttl'))).toBe(at.getTime())
  })

  it('is deleted with its record, by delete and by take', async () => {
    const store = freshStore(db)
    for (const id of ['del', 'take']) {
      let doc = await Doc.create(store, newDoc(id))
      for (let i = 0; i < 3; i++) doc = (await Doc.update(store, doc, { title: `t${i}` }))!
    }
    expect((await scanRecordsAndIndexes(db.redis, `${store.prefix}doc_version:*`)).length).toBe(6)
    expect(await Doc.delete(store, 'del')).toBe(true)
    expect(await Doc.take(store, 'take')).toMatchObject({ rev: 4 })
    expect(await scanRecordsAndIndexes(db.redis, `${store.prefix}*`)).toEqual([])
  })
})

describe('patch(ifVersion)', () => {
  it('changes the record only while it is at that version', async () => {
    const store = freshStore(db)
    const doc = await Doc.create(store, newDoc('pv'))
    expect(await Doc.patch(store, 'pv', { title: 'at 1' }, { ifVersion: 1 })).toBe(true)
    await Doc.update(store, { ...doc, title: 'at 1' }, { title: 'v2' })
    expect(await Doc.patch(store, 'pv', { title: 'late render of 1' }, { ifVersion: 1 })).toBe(false)
    expect(await Doc.load(store, 'pv')).toMatchObject({ title: 'v2', rev: 2 })
  })
})
