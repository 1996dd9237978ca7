// MALLOC_TRIM_QUIET_MS: after creates or renders, once they have been quiet for a tick, the
// memory malloc kept is given back (glibc's malloc_trim through koffi), once per burst, page views
// or not. MALLOC_TRIM_GROWTH_BYTES: during a burst, only when RSS has grown that much since the
// last trim, and at most every GROWTH_TRIM_TICKS ticks.
import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { serverNodeFlags } from '../bench/servers.js'
import { GROWTH_TRIM_TICKS, loadMallocTrim, majorCollection, MemoryTrimmer } from '../src/MemoryTrimmer.js'
import { metric } from './helpers/staleness.js'
import { freePort, useTestRedis } from './helpers/redis.js'
import { useApps } from './routes/fixtures.js'

const MB = 1024 * 1024
const ROOT = new URL('..', import.meta.url).pathname

/**
 * A trimmer whose activity and RSS the test sets, ticked by hand; counts the trims it asks for.
 * Growth trims are off unless `growthBytes` is given.
 */
function trimmerWith(start: string | null, trim?: () => Promise<void>, growthBytes = 0) {
  let activity = start
  let rss = 100 * MB
  let calls = 0
  const trimmer = new MemoryTrimmer({
    trim: trim ?? (async () => { calls++ }),
    activity: () => activity,
    rss: () => rss,
    growthBytes,
    tickMs: 60_000,
  })
  return {
    trimmer,
    set: (value: string | null) => { activity = value },
    setRss: (bytes: number) => { rss = bytes },
    get calls() { return calls },
  }
}

describe('MemoryTrimmer', () => {
  it('leaves a process alone that has done nothing since it started', () => {
    const t = trimmerWith('0:0:0')
    for (let i = 0; i < 5; i++) t.trimmer.tick()
    expect(t.calls).toBe(0)
  })

  it('trims once after a burst, after one whole tick of quiet', async () => {
    const t = trimmerWith('0:0:0')
    t.set(null) // a create in flight
    t.trimmer.tick()
    t.set('1:1:1') // done; the render worker still runs
    t.trimmer.tick()
    expect(t.calls).toBe(0) // not quiet for a whole tick yet
    t.trimmer.tick()
    expect(t.calls).toBe(1)
    for (let i = 0; i < 5; i++) t.trimmer.tick()
    await t.trimmer.close()
    expect(t.calls).toBe(1)
    expect(t.trimmer.trims).toBe(1)
  })

  it('never trims while work goes on, and trims again once it stops', async () => {
    const t = trimmerWith('0:0:0')
    t.set('1:0:0')
    t.trimmer.tick()
    for (let i = 2; i < 10; i++) {
      // Something new every tick: creates keep coming.
      t.set(`${i}:${i}:1`)
      t.trimmer.tick()
    }
    expect(t.calls).toBe(0)
    t.trimmer.tick()
    expect(t.calls).toBe(1)
    await sleep(0) // the trim has finished
    // The worker exits later: its arena can go back too.
    t.set('9:9:0')
    t.trimmer.tick()
    t.trimmer.tick()
    expect(t.calls).toBe(2)
  })

  it('trims during a burst once RSS has grown by growthBytes since the last trim, at most every GROWTH_TRIM_TICKS ticks', async () => {
    const t = trimmerWith('0:0:0', undefined, 16 * MB)
    let tick = 0
    const ticks = (n: number, rss?: number) => {
      for (let i = 0; i < n; i++) {
        t.set(`${++tick}:0:0`) // creates keep coming: never quiet
        if (rss !== undefined) t.setRss(rss)
        t.trimmer.tick()
      }
    }
    ticks(GROWTH_TRIM_TICKS - 1, 130 * MB)
    expect(t.calls).toBe(0) // grown, but too soon after the start
    ticks(1)
    expect(t.calls).toBe(1)
    // The trim gave back 25 MB: growth now counts from 105 MB.
    t.setRss(105 * MB)
    await sleep(0)
    ticks(2 * GROWTH_TRIM_TICKS, 120 * MB)
    expect(t.calls).toBe(1) // 15 MB: not enough
    ticks(1, 121 * MB)
    expect(t.calls).toBe(2)
    await sleep(0)
    // Nothing given back (the growth was V8's heap, not malloc's): no trim until it grows again.
    ticks(3 * GROWTH_TRIM_TICKS, 125 * MB)
    expect(t.calls).toBe(2)
    await t.trimmer.close()
  })

  it('starts no trim for growth with growthBytes 0', () => {
    const t = trimmerWith('0:0:0')
    for (let i = 1; i <= 4 * GROWTH_TRIM_TICKS; i++) {
      t.set(`${i}:0:0`)
      t.setRss(100 * MB + i * 64 * MB)
      t.trimmer.tick()
    }
    expect(t.calls).toBe(0)
  })

  it('starts no trim while one is running, and survives one that fails', async () => {
    let finish!: () => void
    let calls = 0
    const t = trimmerWith('0:0:0', () => {
      calls++
      if (calls === 1) return new Promise<void>((resolve) => { finish = resolve })
      return Promise.reject(new Error('no'))
    })
    t.set('1:1:0')
    t.trimmer.tick()
    t.trimmer.tick()
    expect(calls).toBe(1)
    t.set('2:2:0')
    t.trimmer.tick()
    t.trimmer.tick()
    expect(calls).toBe(1) // the first is still running
    finish()
    await sleep(0)
    t.set('3:3:0')
    t.trimmer.tick()
    t.trimmer.tick()
    expect(calls).toBe(2)
    await t.trimmer.close() // the failure was caught
  })

  it('collects garbage before a quiet trim, not before one for growth, and trims even if collecting fails', async () => {
    const order: string[] = []
    let fail = false
    let activity = '0:0:0'
    let rss = 100 * MB
    const trimmer = new MemoryTrimmer({
      trim: async () => { order.push('trim') },
      collect: async () => {
        order.push('collect')
        if (fail) throw new Error('no')
      },
      activity: () => activity,
      rss: () => rss,
      growthBytes: 16 * MB,
      tickMs: 60_000,
    })
    activity = '1:1:0'
    trimmer.tick()
    trimmer.tick() // quiet for a whole tick
    await sleep(0)
    expect(order).toEqual(['collect', 'trim'])
    // A burst that grows RSS: trimmed for growth, without a collection (work goes on).
    for (let i = 2; i < 2 + GROWTH_TRIM_TICKS; i++) {
      activity = `${i}:${i}:1`
      rss = 200 * MB
      trimmer.tick()
    }
    await sleep(0)
    expect(order).toEqual(['collect', 'trim', 'trim'])
    fail = true
    trimmer.tick() // quiet again
    await sleep(0)
    await trimmer.close()
    expect(order).toEqual(['collect', 'trim', 'trim', 'collect', 'trim'])
  })

  it('has V8\'s full collection where node runs with --expose-gc, and none without', async () => {
    const gc = (globalThis as { gc?: unknown }).gc
    try {
      ;(globalThis as { gc?: unknown }).gc = undefined
      expect(majorCollection()).toBeNull()
      const asked: unknown[] = []
      ;(globalThis as { gc?: unknown }).gc = (options: unknown) => {
        asked.push(options)
        return Promise.resolve()
      }
      await majorCollection()!()
      expect(asked).toEqual([{ type: 'major', execution: 'async' }])
    } finally {
      ;(globalThis as { gc?: unknown }).gc = gc
    }
  })

  it('calls glibc\'s malloc_trim on this machine', async () => {
    const trim = await loadMallocTrim()
    expect(trim).not.toBeNull()
    // Something for it to give back: freed buffers above the mmap threshold's reach.
    const kept = Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 1))
    kept.length = 0
    await expect(trim!()).resolves.toBeUndefined()
  })
})

describe('MALLOC_TRIM_QUIET_MS in the app', () => {
  const db = useTestRedis()
  const build = useApps(db)

  const createOne = async (url: string) => {
    const response = await fetch(`${url}/api/pastes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: 'x = 1\n'.repeat(2000), language: 'python' }) })
    expect(response.status).toBe(201)
  }

  it('trims once after creates, when they and their renders are done', async () => {
    // Growth trims off: this test process's RSS moves with every other test's work.
    const server = await build({ MALLOC_TRIM_QUIET_MS: '50', MALLOC_TRIM_GROWTH_BYTES: '0', RENDER_WORKER_IDLE_MS: '0' })
    const url = await server.listen()
    await sleep(300)
    expect(await metric(url, 'malloc_trims_total')).toBe(0) // a fresh process has nothing to give back
    await Promise.all([createOne(url), createOne(url), createOne(url)])
    // Each look is a request: looking less often than the ticks leaves whole ticks without any.
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && await metric(url, 'malloc_trims_total') === 0) await sleep(300)
    expect(await metric(url, 'malloc_trims_total')).toBe(1)
    // Views alone start no trim: they are not what malloc keeps from creates.
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${url}/`).then((r) => r.arrayBuffer())))
    await sleep(300)
    expect(await metric(url, 'malloc_trims_total')).toBe(1)
  })

  it('trims when RSS grows by MALLOC_TRIM_GROWTH_BYTES, creates or not', async () => {
    const server = await build({ MALLOC_TRIM_QUIET_MS: '50', MALLOC_TRIM_GROWTH_BYTES: String(4 * 1024 * 1024) })
    const url = await server.listen()
    // 32 MB more resident memory than the trimmer started with, kept until the end of the test.
    const held = Buffer.alloc(32 * 1024 * 1024, 1)
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && await metric(url, 'malloc_trims_total') === 0) await sleep(100)
    expect(await metric(url, 'malloc_trims_total')).toBeGreaterThan(0)
    expect(held[held.length - 1]).toBe(1)
  })

  it('collects garbage before that trim in a server run with npm start\'s node flags', async () => {
    // The flags npm start gives node (package.json), --expose-gc among them, read as the bench reads them.
    const flags = serverNodeFlags
    expect(flags).toContain('--expose-gc')
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, WORKERS: _workers, ...inherited } = process.env
    const child = spawn(process.execPath, [...flags, '--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env: {
        ...inherited, REDIS_URL: db.url, REDIS_PREFIX: db.prefix, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', WORKERS: '1',
        LOG_LEVEL: 'debug', RATE_LIMIT_CREATES_PER_MINUTE: '0', MALLOC_TRIM_QUIET_MS: '50', MALLOC_TRIM_GROWTH_BYTES: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let log = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { log += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { log += chunk })
    try {
      const deadline = Date.now() + 20_000
      while (!await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${log}`)
        await sleep(50)
      }
      await Promise.all([createOne(url), createOne(url), createOne(url)])
      const trims = () => log.split('\n').filter((line) => line.includes('"msg":"malloc_trim"')).map((line) => JSON.parse(line) as { quiet: boolean; collected: boolean })
      while (Date.now() < deadline && !trims().some((trim) => trim.quiet)) await sleep(100)
      expect(trims().filter((trim) => trim.quiet)[0]).toMatchObject({ quiet: true, collected: true })
    } finally {
      child.kill('SIGTERM')
      await new Promise((resolve) => child.exitCode !== null ? resolve(null) : child.once('exit', resolve))
    }
  })

  it('never trims with MALLOC_TRIM_QUIET_MS=0', async () => {
    const server = await build({ MALLOC_TRIM_QUIET_MS: '0' })
    const url = await server.listen()
    await createOne(url)
    await sleep(500)
    expect(await metric(url, 'malloc_trims_total')).toBe(0)
  })
})
