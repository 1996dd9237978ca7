// WORKERS=N: the real server (src/server.ts, run by node with tsx) as N processes sharing one
// port through node:cluster, the embedded Redis started once by the primary, a dead worker
// replaced, and SIGTERM stopping everything: no worker and no redis-server left behind.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { freePort, useTestCluster } from '../helpers/redis.js'

const run = promisify(execFile)
const ROOT = new URL('../..', import.meta.url).pathname
const dirs: string[] = []
const servers: ChildProcess[] = []

afterEach(async () => {
  // A failed test must not leave a server running: SIGKILL the primary and every child of it.
  for (const server of servers.splice(0)) {
    if (server.exitCode !== null || server.signalCode !== null || server.pid === undefined) continue
    for (const child of await childrenOf(server.pid)) process.kill(child.pid, 'SIGKILL')
    server.kill('SIGKILL')
  }
})

afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

interface Server {
  child: ChildProcess
  port: number
  /** Every line the server printed so far (stdout and stderr). */
  lines: string[]
}

async function startServer(env: Record<string, string>, nodeFlags: string[] = []): Promise<Server> {
  const dataDir = await mkdtemp(join(tmpdir(), 'redbin-workers-'))
  dirs.push(dataDir)
  const port = await freePort()
  const { REDIS_URL: _url, REDIS_CLUSTER_NODES: _nodes, WORKERS: _workers, ...inherited } = process.env
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...inherited, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'info', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  servers.push(child)
  const lines: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    let rest = ''
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n')
      rest = parts.pop() ?? ''
      lines.push(...parts)
    })
  }
  return { child, port, lines }
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * The processes whose parent is `pid`, with their command name; without tsx's esbuild service,
 * which each process running TypeScript starts for itself.
 */
async function childrenOf(pid: number): Promise<{ pid: number; command: string }[]> {
  const { stdout } = await run('ps', ['--ppid', String(pid), '-o', 'pid=,comm=']).catch(() => ({ stdout: '' }))
  return stdout.trim().split('\n').filter(Boolean).map((line) => {
    const [childPid, command] = line.trim().split(/\s+/)
    return { pid: Number(childPid), command: command ?? '' }
  }).filter((child) => child.command !== 'esbuild')
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** One HTTP request on a connection of its own (node:cluster hands out connections, not requests). */
function fetchOnce(port: number, path: string, options: { method?: string; body?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { connection: 'close', 'content-type': 'text/plain' } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.setTimeout(5000, () => req.destroy(new Error(`${path}: no answer within 5 s`)))
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Which worker answered /metrics (the redbin_worker_id gauge). */
async function workerIds(port: number, requests = 16): Promise<Set<number>> {
  const ids = new Set<number>()
  for (let i = 0; i < requests; i++) {
    const { body } = await fetchOnce(port, '/metrics')
    const match = /^redbin_worker_id (\d+)$/m.exec(body)
    if (match) ids.add(Number(match[1]))
  }
  return ids
}

async function stopAndExpectClean(server: Server, pids: number[]): Promise<void> {
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  const [code, signal] = (await Promise.race([exited, sleep(20_000, ['timeout'])])) as [number | null, string | null]
  expect({ code, signal }).toEqual({ code: 0, signal: null })
  await waitFor('every child to be gone', () => pids.every((pid) => !isAlive(pid)), 5000)
}

describe('WORKERS=2 with the embedded Redis', () => {
  it('runs two workers on one port and one redis-server, serves from both, and stops them all on SIGTERM', async () => {
    const server = await startServer({ WORKERS: '2' })
    const pid = server.child.pid as number
    await waitFor('the primary to report its workers listening', () => server.lines.some((l) => l.includes('with 2 workers')))

    const children = await childrenOf(pid)
    const workers = children.filter((c) => c.command === 'node')
    const redisServers = children.filter((c) => c.command === 'redis-server')
    expect(workers).toHaveLength(2)
    expect(redisServers).toHaveLength(1)
    // The workers got the embedded server's socket; none started one of its own.
    for (const worker of workers) expect(await childrenOf(worker.pid)).toEqual([])

    expect(await workerIds(server.port)).toEqual(new Set([1, 2]))

    const created = await fetchOnce(server.port, '/', { method: 'POST', body: 'served by workers\n' })
    expect(created.status, created.body).toBe(201)
    const id = created.body.trim().split('/').pop() as string
    for (let i = 0; i < 6; i++) {
      const page = await fetchOnce(server.port, `/${id}`)
      expect(page.status).toBe(200)
      expect((await fetchOnce(server.port, `/${id}/raw`)).body).toBe('served by workers\n')
    }

    // A worker that dies is replaced; the other keeps serving meanwhile. (Connections the dead
    // one had accepted are lost with it.)
    const [victim] = workers
    process.kill(victim?.pid as number, 'SIGKILL')
    await waitFor('the primary to see the death', () => server.lines.some((l) => l.includes('worker died; replacing it')))
    expect((await fetchOnce(server.port, `/${id}/raw`)).status).toBe(200)
    const replaced = await waitFor('a replacement worker', async () => {
      const now = (await childrenOf(pid)).filter((c) => c.command === 'node')
      return now.length === 2 && !now.some((c) => c.pid === victim?.pid) && now
    })
    // node:cluster numbers workers on: the replacement is worker 3.
    await waitFor('the replacement to serve', async () => (await workerIds(server.port, 8)).has(3))

    await stopAndExpectClean(server, [...replaced, ...redisServers].map((c) => c.pid))
  }, 60_000)
})

describe('WORKERS=2 and the young generation', () => {
  it('runs each worker with the primary\'s semi-space divided by 2, its other node flags unchanged', async () => {
    const server = await startServer({ WORKERS: '2' }, ['--max-semi-space-size=8', '--min-semi-space-size=8', '--expose-gc'])
    const pid = server.child.pid as number
    await waitFor('the primary to report its workers listening', () => server.lines.some((l) => l.includes('with 2 workers')))
    const children = await childrenOf(pid)
    const workers = children.filter((c) => c.command === 'node')
    expect(workers).toHaveLength(2)
    for (const worker of workers) {
      const argv = readFileSync(`/proc/${worker.pid}/cmdline`, 'utf8').split('\0')
      expect(argv).toEqual(expect.arrayContaining(['--max-semi-space-size=4', '--min-semi-space-size=4', '--expose-gc']))
      expect(argv).not.toContain('--max-semi-space-size=8')
    }
    await stopAndExpectClean(server, children.map((c) => c.pid))
  }, 60_000)
})

describe('WORKERS=1', () => {
  it('is one process as before: no node:cluster, the embedded Redis its only child', async () => {
    const server = await startServer({ WORKERS: '1' })
    const pid = server.child.pid as number
    await waitFor('the server to listen', async () => (await fetchOnce(server.port, '/healthz').catch(() => ({ status: 0 }))).status === 200)
    const children = await childrenOf(pid)
    expect(children.map((c) => c.command)).toEqual(['redis-server'])
    expect(await workerIds(server.port, 2)).toEqual(new Set([0]))
    await stopAndExpectClean(server, children.map((c) => c.pid))
  }, 60_000)
})

describe('WORKERS=2 on a Redis Cluster', () => {
  const cluster = useTestCluster()

  it('connects every worker to the cluster through REDIS_CLUSTER_NODES and starts no redis-server', async () => {
    const nodes = (cluster.clusterNodes ?? []).map((n) => `${n.host}:${n.port}`).join(',')
    const server = await startServer({ WORKERS: '2', REDIS_CLUSTER_NODES: nodes, REDIS_PREFIX: `${cluster.prefix}srv:` })
    const pid = server.child.pid as number
    await waitFor('the primary to report its workers listening', () => server.lines.some((l) => l.includes('with 2 workers')))
    const children = await childrenOf(pid)
    expect(children.map((c) => c.command)).toEqual(['node', 'node'])

    const ids: string[] = []
    for (let i = 0; i < 10; i++) {
      const created = await fetchOnce(server.port, '/', { method: 'POST', body: `paste ${i}` })
      expect(created.status, created.body).toBe(201)
      ids.push(created.body.trim().split('/').pop() as string)
    }
    for (const [i, id] of ids.entries()) expect((await fetchOnce(server.port, `/${id}/raw`)).body).toBe(`paste ${i}`)
    expect((await fetchOnce(server.port, '/readyz')).status).toBe(200)
    await stopAndExpectClean(server, children.map((c) => c.pid))
  }, 60_000)
})
