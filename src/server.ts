// Starts redbin: config → Redis (REDIS_CLUSTER_NODES, REDIS_URL or the embedded server) → app →
// listen. On SIGINT/SIGTERM: stop accepting, finish in-flight requests, close Redis cleanly.
//
// WORKERS=N (N > 1) runs N app processes sharing the port through node:cluster. The primary
// serves no requests: it starts the embedded Redis once (when there is no REDIS_URL or cluster)
// and hands its socket to the workers as REDIS_URL, forks the workers, replaces one that dies
// unexpectedly (with a back-off), forwards SIGTERM/SIGINT to them, and once they have all
// finished, stops the embedded Redis and exits. Every piece of state lives in Redis, so any
// worker can answer any request.
import cluster, { type Worker } from 'node:cluster'
import { ConfigError, loadConfig, type Config } from './config.js'
import type { EmbeddedRedis } from './redis/EmbeddedRedis.js'
import { workerExecArgv } from './workerExecArgv.js'

/** How long a worker may take to finish its requests and close before it is killed. */
const WORKER_STOP_TIMEOUT_MS = 15_000
/** A worker that dies before it listens this many times in a row means the setup is broken. */
const MAX_START_FAILURES = 3
/** Back-off before replacing a dead worker: doubles per recent death, up to this. */
const MAX_RESTART_DELAY_MS = 10_000
/** A worker that lived this long resets the back-off. */
const STABLE_AFTER_MS = 30_000

function fail(message: string): never {
  process.stderr.write(`redbin: ${message}\n`)
  process.exit(1)
}

function readConfig(): Config {
  try {
    return loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
}

/** One app process: the whole server when WORKERS=1, else one of the primary's workers. */
async function serve(config: Config) {
  // Imported here, not at the top: the primary of WORKERS=N serves nothing, and without the
  // app's modules (Fastify, eta, the routes) it stays a fraction of a worker's size.
  const [{ buildApp }, { openRedis }, { RedisNotInstalledError }] = await Promise.all([import('./app.js'), import('./redis/connect.js'), import('./redis/EmbeddedRedis.js')])
  const connection = await openRedis(config).catch((err: unknown) => {
    if (err instanceof RedisNotInstalledError) fail(err.message)
    fail(`cannot connect to Redis: ${(err as Error).message}`)
  })
  const logger = { level: config.logLevel }
  const app = await buildApp({ config, redis: connection.redis, logger })
  // Which process answered a scrape: 0 alone, else the node:cluster worker id (1..N).
  app.metrics.gauge('worker_id', () => cluster.worker?.id ?? 0)
  if (connection.embedded) app.log.info({ socket: connection.embedded.socketPath, dataDir: config.dataDir }, 'embedded redis-server running')

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => fail('shutdown took longer than 10 s'), 10_000)
    force.unref()
    await app.close()
    await connection.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  // A worker whose primary is gone gets no more connections: it finishes and exits.
  if (cluster.isWorker) process.on('disconnect', () => void stop('disconnect'))

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await connection.close()
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`)
  }
}

const LEVELS: Record<Config['logLevel'], number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** The primary of WORKERS=N: supervises the workers; serves nothing itself. */
async function supervise(config: Config) {
  // One JSON line per event, in the shape of the workers' (pino) logs.
  const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] < LEVELS[config.logLevel]) return
    const line = JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, role: 'primary', ...fields, msg })
    ;(level === 'info' ? process.stdout : process.stderr).write(`${line}\n`)
  }

  // One embedded Redis for every worker; a worker given REDIS_URL never starts one itself.
  let embedded: EmbeddedRedis | undefined
  const workerEnv: Record<string, string> = {}
  if (config.redisClusterNodes === undefined && config.redisUrl === undefined) {
    // Imported only here: it loads ioredis, and a primary given REDIS_URL or a cluster never
    // talks to Redis. Loading it grew the primary's anonymous memory from 8 to 27 MB (its young
    // generation touched by the module loading), counted in every WORKERS=N footprint.
    const { EmbeddedRedis, RedisNotInstalledError } = await import('./redis/EmbeddedRedis.js')
    embedded = await EmbeddedRedis.start({ dataDir: config.dataDir, appendfsync: config.redisAppendfsync }).catch((err: unknown) => {
      if (err instanceof RedisNotInstalledError) fail(err.message)
      fail(`cannot start the embedded redis-server: ${(err as Error).message}`)
    })
    workerEnv.REDIS_URL = embedded.socketPath
    log('info', 'embedded redis-server running', { socket: embedded.socketPath, dataDir: config.dataDir })
  }

  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead())
  const startedAt = new Map<Worker, number>()
  const listening = new Set<Worker>()
  let announced = false
  let stopping = false
  let exitCode = 0
  let startFailures = 0
  let recentDeaths = 0

  const finish = async () => {
    if (embedded) await embedded.stop()
    process.exit(exitCode)
  }

  cluster.setupPrimary({ execArgv: workerExecArgv(process.execArgv, config.workers) })
  const fork = () => {
    const worker = cluster.fork(workerEnv)
    startedAt.set(worker, Date.now())
    worker.once('listening', () => {
      startFailures = 0
      listening.add(worker)
      if (!announced && listening.size === config.workers) {
        announced = true
        log('info', `listening on ${config.host}:${config.port} with ${config.workers} workers`)
      }
    })
  }

  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    const workers = alive()
    log('info', 'shutting down', { signal, workers: workers.length })
    if (workers.length === 0) void finish()
    for (const worker of workers) {
      worker.process.kill(signal)
      // A worker stuck past its own 10 s shutdown limit is killed.
      setTimeout(() => worker.isDead() || worker.process.kill('SIGKILL'), WORKER_STOP_TIMEOUT_MS).unref()
    }
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))

  cluster.on('exit', (worker, code, signal) => {
    const wasListening = listening.delete(worker)
    const lived = Date.now() - (startedAt.get(worker) ?? Date.now())
    startedAt.delete(worker)
    if (stopping) {
      if (alive().length === 0) {
        log('info', 'all workers have stopped')
        void finish()
      }
      return
    }
    // An unexpected death. One that never listened, again and again, is a setup problem
    // (port taken, Redis unreachable): give up rather than loop. Else replace the worker after
    // a back-off that grows while deaths keep coming.
    if (!wasListening && ++startFailures >= MAX_START_FAILURES) {
      log('error', `workers keep dying before they listen (last exit: ${signal ?? code}); giving up`)
      exitCode = 1
      shutdown('SIGTERM')
      return
    }
    recentDeaths = lived > STABLE_AFTER_MS ? 1 : recentDeaths + 1
    const delay = Math.min(100 * 2 ** (recentDeaths - 1), MAX_RESTART_DELAY_MS)
    log('warn', 'worker died; replacing it', { worker: worker.id, workerPid: worker.process.pid, code, signal, restartInMs: delay })
    setTimeout(() => stopping || fork(), delay)
  })

  for (let i = 0; i < config.workers; i++) fork()
}

const config = readConfig()
if (config.workers > 1 && cluster.isPrimary) await supervise(config)
else await serve(config)
