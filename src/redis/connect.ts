import type { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { connectRedis, type ClientSettings } from './client.js'
import { EmbeddedRedis } from './EmbeddedRedis.js'

export interface RedisConnection {
  redis: Redis
  /** Set when redbin runs its own redis-server. */
  embedded?: EmbeddedRedis
  /** Quits the client, then stops the embedded server if there is one. */
  close(): Promise<void>
}

export type RedisConfig = Pick<
  Config,
  'redisUrl' | 'redisClusterNodes' | 'redisCommandTimeoutMs' | 'dataDir' | 'redisAppendfsync'
>

/** Connects to the Redis the configuration names: REDIS_URL if set, else an embedded server. */
export async function openRedis(config: RedisConfig): Promise<RedisConnection> {
  const settings: ClientSettings = { commandTimeoutMs: config.redisCommandTimeoutMs }
  if (config.redisClusterNodes !== undefined) {
    // Refuse rather than quietly run on a single embedded server the operator did not ask for.
    throw new Error('REDIS_CLUSTER_NODES is not supported by this version of redbin; unset it or use REDIS_URL')
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
async function quit(redis: Redis): Promise<void> {
  await redis.quit().catch(() => redis.disconnect())
}
