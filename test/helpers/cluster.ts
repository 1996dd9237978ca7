// A throwaway Redis Cluster on loopback: N masters (no replicas) on free ports, joined with
// `redis-cli --cluster create`, without persistence, in a temporary directory. Used by
// `npm run test:cluster` (one cluster for the whole run, see test/cluster/globalSetup.ts) and by
// tests that need a cluster of their own (useTestCluster in redis.ts; failover kills masters).
// No vitest imports here: globalSetup runs outside the test workers.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'

const run = promisify(execFile)
const HOST = '127.0.0.1'
/** A node's cluster bus listens on its port + 10000, so both must be free and below 65536. */
const BUS_OFFSET = 10_000

async function canBind(port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, HOST, () => server.close(() => resolve(true)))
  })
}

/** A free port whose cluster bus port (+10000) is free too. */
export async function freeClusterPort(taken: Set<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 25_000)
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue
    if ((await canBind(port)) && (await canBind(port + BUS_OFFSET))) return port
  }
  throw new Error('no free port pair for a cluster node')
}

/** One node's answer to a command, or undefined when it does not answer. */
async function ask(port: number, ...args: string[]): Promise<string | undefined> {
  const client = new Redis(port, HOST, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 })
  client.on('error', () => {})
  try {
    await client.connect()
    return String(await client.call(args[0] as string, ...args.slice(1)))
  } catch {
    return undefined
  } finally {
    client.disconnect()
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`local cluster: ${what} within ${timeoutMs} ms`)
    await sleep(50)
  }
}

export interface ClusterNodeAddress {
  host: string
  port: number
}

export class LocalCluster {
  private readonly children = new Map<number, ChildProcess>()
  private readonly killAll = () => {
    for (const child of this.children.values()) child.kill('SIGKILL')
  }
  // A test process that is told to stop takes its nodes along, then stops as it was told.
  private readonly killAllAndStop = (signal: NodeJS.Signals) => {
    this.killAll()
    process.kill(process.pid, signal)
  }

  private constructor(
    readonly dir: string,
    readonly ports: number[],
  ) {
    // A crashed or interrupted test run must not leave redis-servers behind.
    process.once('exit', this.killAll)
    process.once('SIGTERM', this.killAllAndStop)
    process.once('SIGINT', this.killAllAndStop)
  }

  /** Starts `masters` nodes, joins them and waits until every node says cluster_state:ok. */
  static async start(masters = 3): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'redbin-cluster-'))
    const taken = new Set<number>()
    const ports: number[] = []
    for (let i = 0; i < masters; i++) {
      const port = await freeClusterPort(taken)
      taken.add(port).add(port + BUS_OFFSET)
      ports.push(port)
    }
    const cluster = new LocalCluster(dir, ports)
    try {
      await Promise.all(ports.map((port) => cluster.startNode(port)))
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes'])
      await cluster.waitUntilOk()
    } catch (err) {
      await cluster.stop()
      throw err
    }
    return cluster
  }

  /** The nodes as REDIS_CLUSTER_NODES wants them: host:port,host:port,... */
  get nodesEnv(): string {
    return this.ports.map((p) => `${HOST}:${p}`).join(',')
  }

  get nodes(): ClusterNodeAddress[] {
    return this.ports.map((port) => ({ host: HOST, port }))
  }

  /** Kills one node at once (SIGKILL: no shutdown, no goodbye to the other nodes). */
  async kill(port: number): Promise<void> {
    const child = this.children.get(port)
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }

  /** Whether the node on `port` is running. */
  running(port: number): boolean {
    const child = this.children.get(port)
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  /**
   * Starts a killed node again: same port, same nodes.conf, so it rejoins holding its slots
   * (empty: there is no persistence). A running node is left as it is.
   */
  async restart(port: number): Promise<void> {
    if (!this.running(port)) await this.startNode(port)
    await this.waitUntilOk()
  }

  /** Kills every node and removes the directory. */
  async stop(): Promise<void> {
    process.off('exit', this.killAll)
    process.off('SIGTERM', this.killAllAndStop)
    process.off('SIGINT', this.killAllAndStop)
    await Promise.all(this.ports.map((port) => this.kill(port)))
    await rm(this.dir, { recursive: true, force: true })
  }

  /** Every node answers, agrees the cluster is ok with all slots served, and knows every node. */
  async waitUntilOk(timeoutMs = 20_000): Promise<void> {
    await until('cluster_state:ok on every node', async () => {
      for (const port of this.ports) {
        const info = await ask(port, 'CLUSTER', 'INFO')
        if (!info?.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false
        if (!info.includes(`cluster_known_nodes:${this.ports.length}`)) return false
      }
      return true
    }, timeoutMs)
  }

  private async startNode(port: number): Promise<void> {
    const child = spawn('redis-server', [
      '--port', String(port),
      '--bind', HOST,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(this.dir, `nodes-${port}.conf`),
      '--cluster-require-full-coverage', 'no',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--maxmemory-policy', 'noeviction',
      '--loglevel', 'warning',
      '--logfile', join(this.dir, `redis-${port}.log`),
    ], { stdio: ['ignore', 'ignore', 'inherit'] })
    this.children.set(port, child)
    await until(`node ${port} answering PING`, async () => {
      if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited with ${child.exitCode}`)
      return (await ask(port, 'PING')) === 'PONG'
    }, 10_000)
  }
}
