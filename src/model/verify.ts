import type { Schema } from './columns.js'
import { storedForm } from './encoding.js'
import type { Model } from './Model.js'
import { scanKeys } from './scanKeys.js'
import type { Store } from './Store.js'

export interface VerifyReport {
  ok: boolean
  records: number
  problems: string[]
}

/** A score as Redis prints it, rewritten the way `String(score)` does ('-inf' stays '-inf'). */
function sameScore(raw: string): string {
  return raw === '-inf' || raw === 'inf' ? raw : String(Number(raw))
}

/**
 * Compares a model's indexes, memos and unique claims with what its records say they should
 * be. Reads everything: meant for tests and for an operator's occasional check.
 * Records that have expired but are not swept yet are allowed to linger in the indexes.
 */
export async function verifyModel<S extends Schema>(model: Model<S>, store: Store): Promise<VerifyReport> {
  const keys = store.keys(model.name)
  const redis = store.redis
  const problems: string[] = []
  const now = Date.now()
  const expiry = new Map<string, number>()
  const flat = await redis.zrange(keys.expiry, 0, -1, 'WITHSCORES')
  for (let i = 0; i + 1 < flat.length; i += 2) expiry.set(flat[i] as string, Number(flat[i + 1]))

  // What every index key and claim should hold, built from the records themselves.
  const expected = new Map<string, Map<string, string>>() // key -> member -> score or owner
  const ids = await redis.zrange(keys.base + 'all', 0, -1)
  const memoIds = (await scanKeys(store.redis, `${keys.memoPrefix}*`)).map((k) => k.slice(keys.memoPrefix.length))
  for (const id of new Set([...ids, ...memoIds])) {
    const record = await model.readRecord(store, keys.record(id))
    const expired = (expiry.get(id) ?? Infinity) <= now + 1000
    if (!record) {
      if (!expired) problems.push(`${id}: indexed, but the record does not exist`)
      continue
    }
    const form = storedForm(model, record)
    const memo = await redis.hgetall(keys.memo(id))
    delete memo['~written'] // a cluster write's timestamp and version, not entries
    delete memo['~v']
    delete memo['~c'] // the version a cluster update indexed
    const wantMemo: Record<string, string> = {}
    for (const [suffix, score] of form.entries) {
      const key = keys.base + suffix
      wantMemo[key] = 'z'
      if (!expected.has(key)) expected.set(key, new Map())
      expected.get(key)?.set(id, score === -Infinity ? '-inf' : String(score))
    }
    for (const [column, value] of form.claims) {
      const key = `${keys.base}uniq:${column}`
      wantMemo[key] = `u${value}`
      if (!expected.has(key)) expected.set(key, new Map())
      expected.get(key)?.set(value, id)
    }
    if (JSON.stringify(Object.entries(memo).sort()) !== JSON.stringify(Object.entries(wantMemo).sort())) {
      problems.push(`${id}: memo does not list exactly its index entries`)
    }
  }

  const indexKeys = await scanKeys(store.redis, `${keys.base}*`)
  for (const key of indexKeys) {
    const suffix = key.slice(keys.base.length)
    const want = expected.get(key) ?? new Map<string, string>()
    let have = new Map<string, string>()
    if (suffix === 'all' || suffix.startsWith('idx:') || suffix.startsWith('sort:')) {
      const entries = await redis.zrange(key, 0, -1, 'WITHSCORES')
      have = new Map()
      // Redis may print a score with more digits than JavaScript (0.1 as 0.10000000000000001).
      for (let i = 0; i + 1 < entries.length; i += 2) have.set(entries[i] as string, sameScore(entries[i + 1] as string))
    } else if (suffix.startsWith('uniq:')) {
      have = new Map(Object.entries(await redis.hgetall(key)))
    } else {
      continue
    }
    for (const [member, value] of have) {
      const owner = suffix.startsWith('uniq:') ? value : member
      if ((expiry.get(owner) ?? Infinity) <= now + 1000 && !want.has(member)) continue
      if (want.get(member) !== value) problems.push(`${suffix}: holds ${member} -> ${value}, expected ${want.get(member) ?? 'nothing'}`)
    }
    for (const [member, value] of want) {
      if (!have.has(member)) problems.push(`${suffix}: misses ${member} -> ${value}`)
    }
  }
  for (const [key, want] of expected) {
    if (!indexKeys.includes(key)) problems.push(`${key.slice(keys.base.length)}: missing, expected ${want.size} entries`)
  }
  return { ok: problems.length === 0, records: ids.length, problems }
}
