// REDIS_CLUSTER_NODES: openRedis connects through ioredis' Cluster with the same fail-fast
// behaviour as a single connection (src/redis/client.ts).
import { Cluster } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { clusterOptions } from '../../src/redis/client.js'
import { openRedis } from '../../src/redis/connect.js'
import { useTestCluster } from '../helpers/redis.js'

const db = useTestCluster()

describe('openRedis with REDIS_CLUSTER_NODES', () => {
  it('connects a Cluster client through any one node and discovers the others', async () => {
    const [first] = db.clusterNodes ?? []
    const connection = await openRedis(loadConfig({ REDIS_CLUSTER_NODES: `${first?.host}:${first?.port}`, REDIS_COMMAND_TIMEOUT_MS: '700' }))
    try {
      const redis = connection.redis
      expect(redis).toBeInstanceOf(Cluster)
      expect(connection.embedded).toBeUndefined()
      expect(redis.status).toBe('ready')
      expect((redis as Cluster).nodes('master')).toHaveLength(3)
      // Keys in different slots, each on its master.
      await Promise.all(Array.from({ length: 30 }, (_, i) => redis.set(`${db.prefix}k${i}`, String(i))))
      expect(await Promise.all(Array.from({ length: 30 }, (_, i) => redis.get(`${db.prefix}k${i}`)))).toEqual(Array.from({ length: 30 }, (_, i) => String(i)))
      expect((redis as Cluster).options.redisOptions?.commandTimeout).toBe(700)
    } finally {
      await connection.close()
    }
    await expect(connection.redis.get(`${db.prefix}k1`)).rejects.toThrow()
  })

  it('uses fail-fast options: no offline queue, bounded retries, masters only', () => {
    const options = clusterOptions({ commandTimeoutMs: 500 })
    expect(options).toMatchObject({ enableOfflineQueue: false, enableAutoPipelining: false, scaleReads: 'master', lazyConnect: true })
    expect(options.redisOptions).toMatchObject({ commandTimeout: 500, maxRetriesPerRequest: 1, connectTimeout: 2000 })
    expect(options.redisOptions).not.toHaveProperty('retryStrategy')
    const retry = options.clusterRetryStrategy as (attempt: number) => number
    expect([1, 2, 3, 10, 100].map(retry)).toEqual([200, 400, 800, 2000, 2000])
    expect((options.maxRedirections ?? 0) * (options.retryDelayOnFailover ?? 0)).toBeLessThanOrEqual(1000)
  })

  it('rejects commands at once while the cluster is not connected, instead of queueing them', async () => {
    const [first] = db.clusterNodes ?? []
    const connection = await openRedis(loadConfig({ REDIS_CLUSTER_NODES: `${first?.host}:${first?.port}` }))
    connection.redis.disconnect()
    await expect(connection.redis.get('x')).rejects.toThrow()
    await connection.close()
  })
})
