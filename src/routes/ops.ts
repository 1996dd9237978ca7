import type { FastifyInstance } from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Cluster, type Redis } from 'ioredis'
import type { Metrics } from '../plugins/metrics.js'

const READY_TIMEOUT_MS = 500

/**
 * The servers that must answer PING. On a cluster that is every master the slot table names:
 * a PING to the client would reach one random node, and ioredis drops a dead master from its
 * pool, so a master missing there is down.
 */
function serversToPing(redis: Redis | Cluster): (Redis | Cluster)[] {
  if (!(redis instanceof Cluster)) return [redis]
  const masters = redis.nodes('master')
  const live = new Set(masters.map((node) => `${node.options.host}:${node.options.port}`))
  const named = new Set(redis.slots.map((nodes) => nodes[0]).filter((key) => key !== undefined))
  const missing = [...named].filter((key) => !live.has(key))
  if (masters.length === 0 || missing.length > 0) throw new Error(`masters unreachable: ${missing.join(', ') || 'all'}`)
  return masters
}

/** Liveness, readiness, Prometheus metrics and the OpenAPI document. */
export async function opsRoutes(app: FastifyInstance, deps: { redis: Redis | Cluster; metrics: Metrics }) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const Status = Type.Object({ status: Type.String() })

  typed.get('/healthz', { schema: { summary: 'The process is up', response: { 200: Status } } }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return { status: 'ok' }
  })

  typed.get('/readyz', {
    schema: { summary: 'Redis (every master of a cluster) answers PING in time', response: { 200: Status, 503: Status } },
  }, async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS)
    })
    try {
      await Promise.race([Promise.all(serversToPing(deps.redis).map((server) => server.ping())), timeout])
      return { status: 'ok' }
    } catch {
      return reply.code(503).send({ status: 'redis unavailable' })
    } finally {
      clearTimeout(timer)
    }
  })

  typed.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: true } }, async (_request, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').header('cache-control', 'no-store').send(deps.metrics.render()))

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
