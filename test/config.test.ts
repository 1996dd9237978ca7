import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseExpires } from '../src/config.js'

function problemsFor(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('uses the documented defaults for an empty environment', () => {
    expect(loadConfig({})).toEqual({
      port: 3000,
      host: '0.0.0.0',
      publicUrl: 'http://localhost:3000',
      redisPrefix: 'redbin:',
      redisCommandTimeoutMs: 1000,
      requestTimeoutMs: 30000,
      dataDir: './data',
      redisAppendfsync: 'everysec',
      maxPasteBytes: 1_048_576,
      rateLimitCreatesPerMinute: 30,
      defaultExpiresSeconds: null,
      maxExpiresSeconds: null,
      trustProxy: false,
      logLevel: 'info',
      workers: 1,
      sweepIntervalMs: 5000,
      highlightMaxBytes: 262_144,
      highlightInlineBytes: 0,
      maxRevisions: 100,
      diffMaxBytes: 2_097_152,
      diffTimeoutMs: 2000,
      pageCacheBytes: 16_777_216,
      pageCacheMaxEntryBytes: 1_048_576,
      viewCountBatchMs: 5,
      redisReadBatchMs: 1,
      renderQueueBytes: 8_388_608,
      renderQueueJobs: 500,
      createBytesInFlight: 8_388_608,
      createWaitMs: 10_000,
      renderWorkerOldMb: 48,
      renderWorkerYoungMb: 8,
      renderWorkerIdleMs: 5000,
      mallocTrimQuietMs: 1000,
      mallocTrimGrowthBytes: 16_777_216,
      production: false,
    })
  })

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '', REDIS_URL: '' })
    expect(config.port).toBe(3000)
    expect(config.redisUrl).toBeUndefined()
  })

  it('parses every kind of value', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://paste.example.com/',
      REDIS_URL: 'rediss://user:pw@redis.example.com:6380/2',
      REDIS_CLUSTER_NODES: 'a:7000, b:7001',
      REDIS_PREFIX: 'rb:',
      REDIS_COMMAND_TIMEOUT_MS: '250',
      REQUEST_TIMEOUT_MS: '5000',
      DATA_DIR: '/var/lib/redbin',
      REDIS_APPENDFSYNC: 'always',
      MAX_PASTE_BYTES: '1000',
      RATE_LIMIT_CREATES_PER_MINUTE: '0',
      DEFAULT_EXPIRES: '1d',
      MAX_EXPIRES: '1y',
      TRUST_PROXY: '1',
      LOG_LEVEL: 'silent',
      WORKERS: '4',
      SWEEP_INTERVAL_MS: '100',
      HIGHLIGHT_MAX_BYTES: '0',
      HIGHLIGHT_INLINE_BYTES: '2048',
      MAX_REVISIONS: '5',
      DIFF_MAX_BYTES: '4096',
      DIFF_TIMEOUT_MS: '50',
      PAGE_CACHE_BYTES: '0',
      PAGE_CACHE_MAX_ENTRY_BYTES: '65536',
      VIEW_COUNT_BATCH_MS: '0',
      REDIS_READ_BATCH_MS: '0',
      RENDER_QUEUE_BYTES: '1000',
      RENDER_QUEUE_JOBS: '10',
      CREATE_BYTES_IN_FLIGHT: '0',
      CREATE_WAIT_MS: '2000',
      RENDER_WORKER_OLD_MB: '128',
      RENDER_WORKER_YOUNG_MB: '4',
      RENDER_WORKER_IDLE_MS: '0',
      MALLOC_TRIM_QUIET_MS: '0',
      MALLOC_TRIM_GROWTH_BYTES: '0',
      NODE_ENV: 'production',
    })
    expect(config).toEqual({
      port: 8080,
      host: '127.0.0.1',
      publicUrl: 'https://paste.example.com',
      redisUrl: 'rediss://user:pw@redis.example.com:6380/2',
      redisClusterNodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }],
      redisPrefix: 'rb:',
      redisCommandTimeoutMs: 250,
      requestTimeoutMs: 5000,
      dataDir: '/var/lib/redbin',
      redisAppendfsync: 'always',
      maxPasteBytes: 1000,
      rateLimitCreatesPerMinute: 0,
      defaultExpiresSeconds: 86_400,
      maxExpiresSeconds: 31_536_000,
      trustProxy: true,
      logLevel: 'silent',
      workers: 4,
      sweepIntervalMs: 100,
      highlightMaxBytes: 0,
      highlightInlineBytes: 2048,
      maxRevisions: 5,
      diffMaxBytes: 4096,
      diffTimeoutMs: 50,
      pageCacheBytes: 0,
      pageCacheMaxEntryBytes: 65_536,
      viewCountBatchMs: 0,
      redisReadBatchMs: 0,
      renderQueueBytes: 1000,
      renderQueueJobs: 10,
      createBytesInFlight: 0,
      createWaitMs: 2000,
      renderWorkerOldMb: 128,
      renderWorkerYoungMb: 4,
      renderWorkerIdleMs: 0,
      mallocTrimQuietMs: 0,
      mallocTrimGrowthBytes: 0,
      production: true,
    })
  })

  it('derives the default PUBLIC_URL from PORT', () => {
    expect(loadConfig({ PORT: '8080' }).publicUrl).toBe('http://localhost:8080')
  })

  it('accepts a unix socket path as REDIS_URL', () => {
    expect(loadConfig({ REDIS_URL: '/run/redis/redis.sock' }).redisUrl).toBe('/run/redis/redis.sock')
    expect(loadConfig({ REDIS_URL: './data/redis.sock' }).redisUrl).toBe('./data/redis.sock')
  })

  it.each([
    ['PORT', 'abc', 'PORT must be a port number (0-65535), got "abc"'],
    ['PORT', '70000', 'PORT must be a port number (0-65535), got "70000"'],
    ['PUBLIC_URL', 'ftp://example.com', 'PUBLIC_URL must be an http:// or https:// URL, got "ftp://example.com"'],
    ['PUBLIC_URL', 'example.com', 'PUBLIC_URL must be an http:// or https:// URL, got "example.com"'],
    ['REDIS_URL', 'localhost:6379', 'REDIS_URL must be a redis:// or rediss:// URL, or a unix socket path (starting with / or ./), got "localhost:6379"'],
    ['REDIS_URL', 'http://localhost', 'REDIS_URL must be a redis:// or rediss:// URL, or a unix socket path (starting with / or ./), got "http://localhost"'],
    ['REDIS_CLUSTER_NODES', 'a:7000,b', 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "a:7000,b"'],
    ['REDIS_CLUSTER_NODES', 'a:0', 'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "a:0"'],
    ['REDIS_PREFIX', '{rb}:', 'REDIS_PREFIX must not contain "{" or "}", got "{rb}:"'],
    ['REDIS_COMMAND_TIMEOUT_MS', '0', 'REDIS_COMMAND_TIMEOUT_MS must be a positive integer, got "0"'],
    ['REQUEST_TIMEOUT_MS', '-5', 'REQUEST_TIMEOUT_MS must be a positive integer, got "-5"'],
    ['REDIS_APPENDFSYNC', 'no', 'REDIS_APPENDFSYNC must be one of everysec, always, got "no"'],
    ['MAX_PASTE_BYTES', 'abc', 'MAX_PASTE_BYTES must be a positive integer, got "abc"'],
    ['MAX_PASTE_BYTES', '1.5', 'MAX_PASTE_BYTES must be a positive integer, got "1.5"'],
    ['RATE_LIMIT_CREATES_PER_MINUTE', '-1', 'RATE_LIMIT_CREATES_PER_MINUTE must be a non-negative integer, got "-1"'],
    ['DEFAULT_EXPIRES', '2h', 'DEFAULT_EXPIRES must be one of 10m, 1h, 1d, 1w, 30d, 1y, never or a whole number of seconds ≥ 1, got "2h"'],
    ['MAX_EXPIRES', '0', 'MAX_EXPIRES must be one of 10m, 1h, 1d, 1w, 30d, 1y, never or a whole number of seconds ≥ 1, got "0"'],
    ['TRUST_PROXY', 'yes', 'TRUST_PROXY must be true, false, 1 or 0, got "yes"'],
    ['LOG_LEVEL', 'verbose', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    ['WORKERS', '0', 'WORKERS must be a positive integer, got "0"'],
    ['SWEEP_INTERVAL_MS', '5s', 'SWEEP_INTERVAL_MS must be a positive integer, got "5s"'],
    ['HIGHLIGHT_MAX_BYTES', 'lots', 'HIGHLIGHT_MAX_BYTES must be a non-negative integer, got "lots"'],
    ['HIGHLIGHT_INLINE_BYTES', '20000', 'HIGHLIGHT_INLINE_BYTES must be a whole number of bytes from 0 to 16384, got "20000"'],
    ['MAX_REVISIONS', '0', 'MAX_REVISIONS must be a positive integer, got "0"'],
    ['DIFF_MAX_BYTES', 'big', 'DIFF_MAX_BYTES must be a positive integer, got "big"'],
    ['DIFF_TIMEOUT_MS', '-5', 'DIFF_TIMEOUT_MS must be a positive integer, got "-5"'],
    ['PAGE_CACHE_BYTES', '-1', 'PAGE_CACHE_BYTES must be a non-negative integer, got "-1"'],
    ['PAGE_CACHE_BYTES', '32MiB', 'PAGE_CACHE_BYTES must be a non-negative integer, got "32MiB"'],
    ['PAGE_CACHE_MAX_ENTRY_BYTES', '0', 'PAGE_CACHE_MAX_ENTRY_BYTES must be a positive integer, got "0"'],
    ['PAGE_CACHE_MAX_ENTRY_BYTES', '1e6', 'PAGE_CACHE_MAX_ENTRY_BYTES must be a positive integer, got "1e6"'],
    ['VIEW_COUNT_BATCH_MS', '5000', 'VIEW_COUNT_BATCH_MS must be a whole number of ms from 0 to 1000, got "5000"'],
    ['REDIS_READ_BATCH_MS', '500', 'REDIS_READ_BATCH_MS must be a whole number of ms from 0 to 100, got "500"'],
    ['REDIS_READ_BATCH_MS', '0.5', 'REDIS_READ_BATCH_MS must be a whole number of ms from 0 to 100, got "0.5"'],
    ['RENDER_QUEUE_BYTES', '0', 'RENDER_QUEUE_BYTES must be a positive integer, got "0"'],
    ['RENDER_QUEUE_JOBS', '0', 'RENDER_QUEUE_JOBS must be a positive integer, got "0"'],
    ['RENDER_WORKER_OLD_MB', '8', 'RENDER_WORKER_OLD_MB must be a whole number of MB from 16 to 4096, got "8"'],
    ['RENDER_WORKER_YOUNG_MB', '0', 'RENDER_WORKER_YOUNG_MB must be a whole number of MB from 1 to 1024, got "0"'],
    ['MALLOC_TRIM_QUIET_MS', '-1', 'MALLOC_TRIM_QUIET_MS must be a whole number of ms from 0 to 60000, got "-1"'],
    ['MALLOC_TRIM_QUIET_MS', '90000', 'MALLOC_TRIM_QUIET_MS must be a whole number of ms from 0 to 60000, got "90000"'],
    ['MALLOC_TRIM_GROWTH_BYTES', '16M', 'MALLOC_TRIM_GROWTH_BYTES must be a non-negative integer, got "16M"'],
    ['RENDER_WORKER_IDLE_MS', '1s', 'RENDER_WORKER_IDLE_MS must be a non-negative integer, got "1s"'],
  ])('rejects %s=%s', (name, value, problem) => {
    expect(problemsFor({ [name]: value })).toEqual([problem])
  })

  it('rejects a DEFAULT_EXPIRES longer than MAX_EXPIRES', () => {
    expect(problemsFor({ DEFAULT_EXPIRES: '1w', MAX_EXPIRES: '1d' })).toEqual([
      'DEFAULT_EXPIRES must not exceed MAX_EXPIRES, got "1w" > "1d"',
    ])
    expect(problemsFor({ MAX_EXPIRES: '1d' })).toEqual([
      'DEFAULT_EXPIRES must not exceed MAX_EXPIRES, got "never" > "1d"',
    ])
  })

  it('rejects a CREATE_WAIT_MS not below REQUEST_TIMEOUT_MS: node would time the waiting create out first', () => {
    expect(problemsFor({ CREATE_WAIT_MS: '30000' })).toEqual([
      'CREATE_WAIT_MS must be below REQUEST_TIMEOUT_MS (a waiting create would time out first), got 30000 ≥ 30000',
    ])
    expect(loadConfig({ CREATE_WAIT_MS: '30000', REQUEST_TIMEOUT_MS: '60000' }).createWaitMs).toBe(30_000)
    // Unset, it follows a short REQUEST_TIMEOUT_MS down.
    expect(loadConfig({ REQUEST_TIMEOUT_MS: '300' }).createWaitMs).toBe(150)
  })

  it('reports every problem at once', () => {
    const attempt = () => loadConfig({ PORT: 'x', MAX_PASTE_BYTES: 'abc', LOG_LEVEL: 'loud' })
    expect(attempt).toThrow(ConfigError)
    expect(attempt).toThrow(/PORT must be .*\n.*MAX_PASTE_BYTES must be .*\n.*LOG_LEVEL must be/)
    expect(problemsFor({ PORT: 'x', MAX_PASTE_BYTES: 'abc', LOG_LEVEL: 'loud' })).toHaveLength(3)
  })
})

describe('parseExpires', () => {
  it('maps presets to seconds and never to null', () => {
    expect(parseExpires('10m')).toBe(600)
    expect(parseExpires('1h')).toBe(3600)
    expect(parseExpires('1d')).toBe(86_400)
    expect(parseExpires('1w')).toBe(604_800)
    expect(parseExpires('30d')).toBe(2_592_000)
    expect(parseExpires('1y')).toBe(31_536_000)
    expect(parseExpires('never')).toBeNull()
  })

  it('accepts a whole number of seconds', () => {
    expect(parseExpires('1')).toBe(1)
    expect(parseExpires('90')).toBe(90)
  })

  it.each(['0', '-5', '1.5', '', '10 m', 'forever', '99999999999999999999', 'toString'])(
    'rejects %j',
    (value) => {
      expect(() => parseExpires(value)).toThrow(RangeError)
    },
  )
})
