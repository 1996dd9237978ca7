import { Redis, type RedisOptions } from 'ioredis'

export interface ClientSettings {
  /** Per-command deadline in ms: a command that Redis does not answer in time fails. */
  commandTimeoutMs?: number
  /** Turn off auto-pipelining (only the bench does, to measure what it buys). */
  autoPipelining?: boolean
}

/**
 * Client options that fail fast. During an outage a request must get an error within about a
 * second, never hang and never queue without bound:
 * - the offline queue is off once connected, so commands issued while disconnected are rejected
 *   at once instead of piling up in memory;
 * - each command gets one retry on a reconnect and a hard timeout;
 * - reconnects continue forever with a capped back-off, so the app heals when Redis returns.
 */
export function failFastOptions(settings: ClientSettings = {}): RedisOptions {
  return {
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs ?? 1000,
    connectTimeout: 2000,
    enableOfflineQueue: false,
    enableAutoPipelining: settings.autoPipelining ?? true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    lazyConnect: true,
  }
}

/**
 * Connects to `target`: a redis:// or rediss:// URL, or a unix socket path. Resolves once the
 * connection is ready, so that the offline queue is never needed.
 */
export async function connectRedis(target: string, settings: ClientSettings = {}): Promise<Redis> {
  const options = failFastOptions(settings)
  const client = /^rediss?:\/\//.test(target)
    ? new Redis(target, options)
    : new Redis({ ...options, path: target })
  // An 'error' listener keeps ioredis from printing every reconnect attempt as unhandled.
  client.on('error', () => {})
  await client.connect()
  return client
}
