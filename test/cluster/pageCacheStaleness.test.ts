// Issue 14's staleness test on Redis Cluster, where the page cache is off (tracking per node is
// not done): two server processes, A writes, B must show the new state as on one Redis, and B's
// metrics and log say the cache is off. See test/helpers/staleness.ts.
import { beforeAll, describe, expect, it } from 'vitest'
import { useTestCluster } from '../helpers/redis.js'
import { burnNeverCached, describeReport, editAndDeleteRounds, expiryRounds, metric, useServers, type ServerProcess } from '../helpers/staleness.js'

const db = useTestCluster()
const start = useServers(db, 2)
let a: ServerProcess
let b: ServerProcess

beforeAll(async () => {
  ;[a, b] = (await start()) as [ServerProcess, ServerProcess]
}, 60_000)

describe('two processes on a Redis Cluster', () => {
  it('run with the page cache off, and say so at start-up', async () => {
    expect(await metric(b.base, 'page_cache_tracking_up')).toBe(0)
    expect(b.lines.some((line) => line.includes('page cache off'))).toBe(true)
  })

  it('never serve a page or raw bytes after another process edited or deleted the paste', async () => {
    const report = await editAndDeleteRounds(a.base, b.base, 100, false)
    console.log(describeReport('Redis Cluster (cache off), edit and delete', report))
    expect(report.violations).toEqual([])
    expect(await metric(b.base, 'page_cache_hits_total')).toBe(0)
  }, 120_000)

  it('never serve a page or raw bytes after its expiry instant', async () => {
    const report = await expiryRounds(a.base, b.base, 20, false)
    console.log(describeReport('Redis Cluster (cache off), expiry', report))
    expect(report.violations).toEqual([])
  }, 60_000)

  it('never cache a burn-after-reading paste', async () => {
    expect(await burnNeverCached(a.base, b.base)).toEqual({ hits: 0, consumedOnce: true })
  })
})
