// Issue 14's staleness test on Redis Cluster, where the page cache is off (tracking per node is
// not done): two server processes, A writes, B must show the new state as on one Redis, and B's
// metrics and log say the cache is off. See test/helpers/staleness.ts.
import { describe, expect, it } from 'vitest'
import { useTestCluster } from '../helpers/redis.js'
import { burnNeverCached, describeReport, editAndDeleteRounds, expiryRounds, metric, useServerPair } from '../helpers/staleness.js'

const db = useTestCluster()
const servers = useServerPair(db)

describe('two processes on a Redis Cluster', () => {
  it('run with the page cache off, and say so at start-up', async () => {
    expect(await metric(servers.b.base, 'page_cache_tracking_up')).toBe(0)
    expect(servers.b.lines.some((line) => line.includes('page cache off'))).toBe(true)
  })

  it('never serve a page or raw bytes after another process edited or deleted the paste', async () => {
    const report = await editAndDeleteRounds(servers.a.base, servers.b.base, 100, false)
    console.log(describeReport('Redis Cluster (cache off), edit and delete', report))
    expect(report.violations).toEqual([])
    expect(await metric(servers.b.base, 'page_cache_hits_total')).toBe(0)
  }, 120_000)

  it('never serve a page or raw bytes after its expiry instant', async () => {
    const report = await expiryRounds(servers.a.base, servers.b.base, 20, false)
    console.log(describeReport('Redis Cluster (cache off), expiry', report))
    expect(report.violations).toEqual([])
  }, 60_000)

  it('never cache a burn-after-reading paste', async () => {
    expect(await burnNeverCached(servers.a.base, servers.b.base)).toEqual({ hits: 0, consumedOnce: true })
  })
})
