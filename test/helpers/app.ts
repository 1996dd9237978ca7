// Builds the whole app against the test file's throwaway Redis, for app.inject() or a real
// listening server (curl, browsers). Config comes from the same loader as production.
import type { FastifyInstance } from 'fastify'
import { afterAll } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { TestRedis } from './redis.js'

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** Set by listen(): the base URL of the running server. */
  url: string
  listen(): Promise<string>
}

/** Builds an app; `env` overrides configuration variables (e.g. MAX_PASTE_BYTES). Closed in afterAll. */
export async function buildTestApp(db: TestRedis, env: Record<string, string> = {}): Promise<TestApp> {
  const config = loadConfig({
    PUBLIC_URL: 'http://redbin.test',
    REDIS_PREFIX: db.prefix,
    RATE_LIMIT_CREATES_PER_MINUTE: '0',
    SWEEP_INTERVAL_MS: '60000',
    LOG_LEVEL: 'silent',
    ...env,
  })
  const app = await buildApp({ config, redis: db.connect() })
  const testApp: TestApp = {
    app,
    config,
    url: '',
    async listen() {
      // A pre-picked PORT (so PUBLIC_URL can name it) is used; otherwise any free port.
      const address = await app.listen({ port: env.PORT ? config.port : 0, host: '127.0.0.1' })
      testApp.url = address
      return address
    },
  }
  return testApp
}

/** A test file's app, rebuilt per call but closed together at the end. */
export function closeAppsAfterAll(): (app: TestApp) => TestApp {
  const apps: TestApp[] = []
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.app.close()))
  })
  return (app) => {
    apps.push(app)
    return app
  }
}
