// Starts redbin: config → Redis (REDIS_URL or the embedded server) → app → listen.
// On SIGINT/SIGTERM: stop accepting, finish in-flight requests, close Redis cleanly.
import { buildApp } from './app.js'
import { ConfigError, loadConfig, type Config } from './config.js'
import { openRedis } from './redis/connect.js'
import { RedisNotInstalledError } from './redis/EmbeddedRedis.js'

function fail(message: string): never {
  process.stderr.write(`redbin: ${message}\n`)
  process.exit(1)
}

async function main() {
  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }

  const connection = await openRedis(config).catch((err: unknown) => {
    if (err instanceof RedisNotInstalledError) fail(err.message)
    fail(`cannot connect to Redis: ${(err as Error).message}`)
  })
  const logger = { level: config.logLevel }
  const app = await buildApp({ config, redis: connection.redis, logger })
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

  try {
    await app.listen({ port: config.port, host: config.host })
  } catch (err) {
    await connection.close()
    fail(`cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`)
  }
}

await main()
