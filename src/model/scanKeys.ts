import { Cluster, type Redis } from 'ioredis'

/**
 * Every key matching `pattern`, by SCAN (never KEYS). SCAN reads the one server it is sent to,
 * so on a cluster every master is asked.
 */
export async function scanKeys(redis: Redis | Cluster, pattern: string): Promise<string[]> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis]
  const found = await Promise.all(servers.map((server) => scanServer(server, pattern)))
  return found.flat()
}

/** Every key matching `pattern` on one server. */
export async function scanServer(server: Redis, pattern: string): Promise<string[]> {
  const found: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await server.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    found.push(...keys)
  } while (cursor !== '0')
  return found
}
