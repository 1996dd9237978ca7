// Issue 14's staleness test on one Redis: two server processes, each with its page cache on.
// Whatever A writes (edit, delete) B shows within a few milliseconds of A's response, and no
// page outlives its expiry instant in B's memory. See test/helpers/staleness.ts.
import { describe, expect, it } from 'vitest'
import { useTestRedis } from '../helpers/redis.js'
import { burnNeverCached, describeReport, editAndDeleteRounds, expiryRounds, metric, useServerPair } from '../helpers/staleness.js'

const db = useTestRedis({ clusterNodes: () => undefined })
const servers = useServerPair(db)

describe('two processes with a page cache each, on one Redis', () => {
  it('never serve a page or raw bytes after another process edited or deleted the paste', async () => {
    expect(await metric(servers.b.base, 'page_cache_tracking_up')).toBe(1)
    const report = await editAndDeleteRounds(servers.a.base, servers.b.base, 200, true)
    console.log(describeReport('one Redis, edit and delete', report))
    expect(report.warmed).toBe(true)
    expect(report.violations).toEqual([])
  }, 120_000)

  it('never serve a page or raw bytes after its expiry instant', async () => {
    const report = await expiryRounds(servers.a.base, servers.b.base, 50, true)
    console.log(describeReport('one Redis, expiry', report))
    expect(report.warmed).toBe(true)
    expect(report.violations).toEqual([])
  }, 60_000)

  it('never cache a burn-after-reading paste', async () => {
    expect(await burnNeverCached(servers.a.base, servers.b.base)).toEqual({ hits: 0, consumedOnce: true })
  })
})
