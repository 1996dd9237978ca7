import cookie from '@fastify/cookie'
import formbody from '@fastify/formbody'
import fastifyStatic from '@fastify/static'
import swagger from '@fastify/swagger'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { Cluster, type Redis } from 'ioredis'
import type { Config } from './config.js'
import { loadMallocTrim, majorCollection, MemoryTrimmer } from './MemoryTrimmer.js'
import { RecordCache, Store } from './model/index.js'
import { CodeRenderer } from './pastes/CodeRenderer.js'
import { CreateBytesBudget } from './pastes/CreateBytesBudget.js'
import { CreateRateLimiter } from './pastes/CreateRateLimiter.js'
import { PageRenderer, PUBLIC_DIR } from './pastes/PageRenderer.js'
import { PasteService } from './pastes/PasteService.js'
import { RevisionService } from './pastes/RevisionService.js'
import { clientErrorReplies } from './plugins/clientErrors.js'
import { errorReplies, errorsPlugin } from './plugins/errors.js'
import { metricsPlugin } from './plugins/metrics.js'
import { helmetHeaders, securityHeadersPlugin } from './plugins/securityHeaders.js'
import { viewsPlugin } from './plugins/views.js'
import { HashReader } from './redis/HashReader.js'
import { TrackingConnections } from './redis/TrackingConnections.js'
import { apiRoutes } from './routes/api.js'
import { answerFirst, fastViews } from './routes/fastViews.js'
import { createRoutes } from './routes/create.js'
import { editRoutes } from './routes/edit.js'
import { moduleRoutes } from './routes/modules.js'
import { opsRoutes } from './routes/ops.js'
import { pageRoutes } from './routes/pages.js'
import { rawRoutes } from './routes/raw.js'
import { revisionRoutes } from './routes/revisions.js'
import type { RouteDeps } from './routes/shared.js'

export interface AppDeps {
  config: Config
  redis: Redis | Cluster
  logger?: FastifyServerOptions['logger']
}

declare module 'fastify' {
  interface FastifyInstance {
    pastes: PasteService
  }
}

/** Builds the whole app; server.ts listens, tests call app.inject(). */
export async function buildApp({ config, redis, logger = false }: AppDeps): Promise<FastifyInstance> {
  const pages = new PageRenderer(config.publicUrl, config.production)
  const securityHeaders = helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    strictTransportSecurity: config.publicUrl.startsWith('https:'),
  })
  // One error path for the app's errors, Fastify's own (a bad percent-encoding, an over-long
  // path parameter) and the HTTP parser's: same form, same headers, no body to a HEAD.
  const replies = errorReplies({ pages, securityHeaders, onRedisError: () => app.metrics.count('redis_errors') })
  const clientErrors = clientErrorReplies({ pages, securityHeaders, onAnswer: () => app.metrics.count('requests_rejected') })
  const app = Fastify({
    logger,
    trustProxy: config.trustProxy,
    requestTimeout: config.requestTimeoutMs,
    // Node checks for timed-out requests every 30 s by default: a 408 could come up to 30 s late.
    http: { connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.round(config.requestTimeoutMs / 4))) },
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors: replies.handle,
    clientErrorHandler: clientErrors.answer,
  })
  app.server.on('request', clientErrors.track)
  const pageCache = await openPageCache(config, redis)
  if (pageCache === 'cluster') app.log.info('page cache off: it is not supported on Redis Cluster (REDIS_CLUSTER_NODES)')
  const cache = typeof pageCache === 'object' ? pageCache : null
  // Reads past the page cache, the views it cannot hold, go through a lean connection (see HashReader.ts).
  const hashReader = cache ? new HashReader((redis as Redis).options, {
    timeoutMs: config.redisCommandTimeoutMs,
    batchMs: config.redisReadBatchMs,
    onError: (err) => app.log.debug({ err }, 'hash reader connection'),
  }) : undefined
  const store = new Store(redis, { prefix: config.redisPrefix, ...(cache ? { cache: cache.records } : {}), ...(hashReader ? { hashReader } : {}) })
  const code = new CodeRenderer({
    highlightMaxBytes: config.highlightMaxBytes,
    inlineMaxBytes: config.highlightInlineBytes,
    maxQueueBytes: config.renderQueueBytes,
    maxQueue: config.renderQueueJobs,
    oldGenerationMb: config.renderWorkerOldMb,
    youngGenerationMb: config.renderWorkerYoungMb,
    idleTimeoutMs: config.renderWorkerIdleMs,
  })
  const pastes = new PasteService(store, pages, code, config)
  const revisions = new RevisionService(store, pages, code, config)
  app.decorate('pastes', pastes)

  await app.register(metricsPlugin)
  // The bench waits for this to reach 0 before it measures page views.
  app.metrics.gauge('render_queue', () => code.pending)
  app.metrics.counter('renders_refused', () => code.refused)
  const stats = cache?.records.stats
  for (const name of ['hits', 'misses', 'evictions', 'invalidations', 'incrementErrors'] as const) {
    app.metrics.counter(`page_cache_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`, () => stats?.[name] ?? 0)
  }
  app.metrics.gauge('page_cache_entries', () => cache?.records.size ?? 0)
  app.metrics.gauge('page_cache_bytes', () => cache?.records.bytes ?? 0)
  app.metrics.gauge('page_cache_max_bytes', () => cache?.records.limits.maxBytes ?? 0)
  app.metrics.gauge('page_cache_tracking_up', () => (cache?.tracking.up ? 1 : 0))
  // Their ratio is how many commands (reads past the cache, the views' count scripts) each write to Redis carried (REDIS_READ_BATCH_MS).
  app.metrics.counter('redis_reads_sent', () => hashReader?.stats.commands ?? 0)
  app.metrics.counter('redis_read_writes', () => hashReader?.stats.writes ?? 0)
  app.metrics.gauge('render_workers', () => code.workers)
  await app.register(securityHeadersPlugin, { headers: securityHeaders })
  await app.register(errorsPlugin, { replies })
  // Home, list and burn pages through @fastify/view; paste pages are stored rendered, and
  // error pages rendered by PageRenderer (see src/plugins/views.ts for why).
  await app.register(viewsPlugin, { pages })
  await app.register(cookie)
  // Forms carry their text percent-encoded (up to 3 bytes per byte); raw bodies stop at the
  // paste limit while being read. The paste's own size is checked again once decoded.
  await app.register(formbody, { bodyLimit: config.maxPasteBytes * 3 + 64 * 1024 })
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser(['text/plain', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: config.maxPasteBytes }, (_request, body, done) => done(null, body))
  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/static/',
    // Asset URLs carry a content hash (?v=…), so browsers may keep them for good.
    maxAge: '365d',
    immutable: true,
    index: false,
  })
  await app.register(swagger, {
    openapi: {
      info: { title: 'redbin', version: '1.0.0', description: 'A pastebin on Redis. Burn-after-reading pastes are consumed by GET /{id}/raw and GET /api/pastes/{id}.' },
    },
  })

  const rateLimiter = new CreateRateLimiter(store, config.rateLimitCreatesPerMinute)
  const createBudget = new CreateBytesBudget(config.createBytesInFlight, config.createWaitMs)
  app.metrics.gauge('create_bytes_in_flight', () => createBudget.inFlight)
  app.metrics.gauge('creates_waiting', () => createBudget.queued)
  const trim = config.mallocTrimQuietMs > 0 ? await loadMallocTrim() : null
  const trimmer = trim && new MemoryTrimmer({
    trim,
    collect: majorCollection(),
    activity: () => (createBudget.busy || code.pending > 0 ? null : `${createBudget.arrived}:${code.jobs}:${code.workers}`),
    rss: () => process.memoryUsage.rss(),
    growthBytes: config.mallocTrimGrowthBytes,
    tickMs: config.mallocTrimQuietMs,
    log: app.log,
  })
  app.metrics.counter('malloc_trims', () => trimmer?.trims ?? 0)
  const deps: RouteDeps = { config, pastes, revisions, pages, rateLimiter, createBudget, metrics: app.metrics }
  await app.register(opsRoutes, { redis, metrics: app.metrics })
  await app.register(createRoutes, deps)
  await app.register(apiRoutes, deps)
  await app.register(rawRoutes, deps)
  await app.register(editRoutes, deps)
  await app.register(revisionRoutes, deps)
  await app.register(pageRoutes, deps)
  await app.register(moduleRoutes, { modules: pages.modules })
  // Page views and raw reads are answered before Fastify (routes/fastViews.ts); app.inject() calls Fastify
  // directly, so tests of that path go over HTTP (test/routes/fastViews.test.ts).
  answerFirst(app.server, fastViews({ pastes, securityHeaders, metrics: app.metrics }))

  // Expired pastes leave the indexes in bounded batches on every write; this catches the rest.
  let sweeper: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    sweeper = setInterval(() => {
      pastes.sweepExpired().catch((err: Error) => app.log.warn({ err: err.message }, 'sweep failed'))
    }, config.sweepIntervalMs)
    sweeper.unref()
    trimmer?.start()
  })
  app.addHook('onClose', async () => {
    clearInterval(sweeper)
    // The views counted in memory and not yet sent reach Redis before it is closed.
    await cache?.records.flush().catch((err: Error) => app.log.warn({ err: err.message }, 'view counts not sent at close'))
    hashReader?.close()
    await Promise.all([code.close(), cache?.tracking.close(), trimmer?.close()])
  })
  return app
}

/**
 * The page cache (PAGE_CACHE_BYTES): records kept in memory while Redis tracks the reads they
 * came from (src/redis/TrackingConnections.ts, src/model/RecordCache.ts). Off on Redis Cluster:
 * tracking is per node, and following keys across nodes and slot moves is not done.
 */
async function openPageCache(config: Config, redis: Redis | Cluster): Promise<{ records: RecordCache; tracking: TrackingConnections } | 'off' | 'cluster'> {
  if (config.pageCacheBytes === 0) return 'off'
  if (redis instanceof Cluster) return 'cluster'
  // PAGE_CACHE_BYTES is the server's: each of its WORKERS processes keeps its share.
  const records = new RecordCache({ maxBytes: Math.floor(config.pageCacheBytes / config.workers), maxEntryBytes: config.pageCacheMaxEntryBytes, incrementWindowMs: config.viewCountBatchMs })
  const tracking = new TrackingConnections(redis)
  tracking.on('up', () => records.enable(tracking.reader))
  tracking.on('down', () => records.disable())
  tracking.on('invalidate', (keys) => records.invalidate(keys))
  // Until tracking is up (Redis down at start, say), pages come from Redis as without a cache.
  await tracking.start()
  return { records, tracking }
}
