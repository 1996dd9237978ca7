import type { Cluster, Redis } from 'ioredis'
import type { Config } from '../config.js'
import { connectCluster, connectRedis, type ClientSettings } from './client.js'
import { EmbeddedRedis } from './EmbeddedRedis.js'

export interface RedisConnection {
  /** A Cluster client with REDIS_CLUSTER_NODES, else a single connection. */
  redis: Redis | Cluster
  /** Set when redbin runs its own redis-server. */
  embedded?: EmbeddedRedis
  /** Quits the client, then stops the embedded server if there is one. */
  close(): Promise<void>
}

export type RedisConfig = Pick<
  Config,
  'redisUrl' | 'redisClusterNodes' | 'redisCommandTimeoutMs' | 'dataDir' | 'redisAppendfsync'
>

/**
 * Connects to the Redis the configuration names: the cluster of REDIS_CLUSTER_NODES, else
 * REDIS_URL, else an embedded server. Setting both REDIS_CLUSTER_NODES and REDIS_URL is refused:
 * quietly picking one could put pastes somewhere the operator did not mean.
 */
export async function openRedis(config: RedisConfig): Promise<RedisConnection> {
  const settings: ClientSettings = { commandTimeoutMs: config.redisCommandTimeoutMs }
  if (config.redisClusterNodes !== undefined) {
    if (config.redisUrl !== undefined) throw new Error('set either REDIS_CLUSTER_NODES or REDIS_URL, not both')
    const redis = await connectCluster(config.redisClusterNodes, settings)
    return { redis, close: () => quit(redis) }
  }
  if (config.redisUrl !== undefined) return openUrl(config.redisUrl, settings)
  return openEmbedded(config, settings)
}

async function openUrl(url: string, settings: ClientSettings): Promise<RedisConnection> {
  const redis = await connectRedis(url, settings)
  return { redis, close: () => quit(redis) }
}

async function openEmbedded(config: RedisConfig, settings: ClientSettings): Promise<RedisConnection> {
  const embedded = await EmbeddedRedis.start({ dataDir: config.dataDir, appendfsync: config.redisAppendfsync })
  let redis: Redis
  try {
    redis = await connectRedis(embedded.socketPath, settings)
  } catch (err) {
    await embedded.stop()
    throw err
  }
  return {
    redis,
    embedded,
    close: async () => {
      await quit(redis)
      await embedded.stop()
    },
  }
}

// QUIT lets in-flight replies arrive first; if the connection is already down, just drop it.
async function quit(redis: Redis | Cluster): Promise<void> {
  await redis.quit().catch(() => redis.disconnect())
}
