// With no REDIS_URL, redbin runs the system redis-server as a child process: a unix socket and
// an append-only file inside DATA_DIR, no TCP port. A server left behind by a crashed run is shut
// down cleanly (so its AOF is complete) before ours starts, so two servers never share one AOF.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, open, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis, ReplyError } from 'ioredis'
import { failFastOptions } from './client.js'

export interface EmbeddedRedisOptions {
  dataDir: string
  appendfsync: 'everysec' | 'always'
  /** The redis-server binary; by default the one on PATH. */
  redisServerPath?: string
}

export class RedisNotInstalledError extends Error {
  override name = 'RedisNotInstalledError'
  constructor(binary: string) {
    super(
      `redis-server was not found (tried "${binary}"). Without REDIS_URL, redbin runs its own Redis ` +
        'and needs the redis-server binary. Either:\n' +
        '  - install it: apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS);\n' +
        '  - or set REDIS_URL to an existing Redis, e.g. REDIS_URL=redis://localhost:6379;\n' +
        '  - or run docker compose up, which starts redbin together with its Redis.',
    )
  }
}

const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 10_000
// sun_path holds 108 bytes on Linux and 104 on macOS, including the terminating NUL.
const MAX_SOCKET_PATH_BYTES = 103

interface DataFiles {
  dir: string
  socket: string
  pid: string
  log: string
  /** The pid of the process that started the server, to tell an orphan from a live instance's. */
  owner: string
}

export class EmbeddedRedis {
  readonly socketPath: string
  readonly pid: number
  private stopping: Promise<void> | undefined
  private exitStatus: number | NodeJS.Signals | undefined
  private readonly exited: Promise<void>
  private readonly killOnExit = () => this.child.kill('SIGTERM')

  private constructor(
    private readonly child: ChildProcess,
    private readonly files: DataFiles,
    private readonly output: string[],
  ) {
    this.socketPath = files.socket
    this.pid = child.pid ?? -1
    this.exited = new Promise((done) =>
      child.once('exit', (code, signal) => {
        this.exitStatus = code ?? signal ?? 'SIGKILL'
        done()
      }),
    )
    // If this process exits without stop(), SIGTERM still lets Redis flush its AOF.
    process.once('exit', this.killOnExit)
  }

  static async start(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
    const files = await prepareDataDir(opts.dataDir)
    await stopLeftoverServer(files)
    const binary = opts.redisServerPath ?? 'redis-server'
    await writeFile(files.owner, `${process.pid}\n`)
    const child = spawn(binary, serverArgs(files, opts.appendfsync), { stdio: ['ignore', 'pipe', 'pipe'] })
    try {
      await new Promise((ready, fail) => child.once('spawn', ready).once('error', fail))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new RedisNotInstalledError(binary)
      throw err
    }
    child.on('error', () => {}) // a failed kill() is handled by waiting for exit
    const server = new EmbeddedRedis(child, files, captureOutput(child))
    try {
      await server.waitUntilReady()
    } catch (err) {
      await server.stop()
      throw err
    }
    return server
  }

  /** Shuts Redis down (flushing the AOF) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown(): Promise<void> {
    process.off('exit', this.killOnExit)
    if (this.exitStatus !== undefined) return
    try {
      await sendShutdown(this.files.socket)
    } catch {
      this.child.kill('SIGTERM') // Redis treats SIGTERM as SHUTDOWN too
    }
    if (!(await this.exitsWithin(STOP_TIMEOUT_MS))) {
      this.child.kill('SIGKILL')
      await this.exited
    }
  }

  private async waitUntilReady(): Promise<void> {
    let deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      if (this.exitStatus !== undefined) {
        throw new Error(`redis-server exited during start-up (${this.exitStatus}):\n${await this.logTail()}`)
      }
      const reply = await probe(this.files.socket, (client) => client.ping())
      if (reply === 'PONG') return
      // A large AOF takes a while to load; the server is making progress, so keep waiting.
      if (reply instanceof Error && reply.message.startsWith('LOADING')) deadline = Date.now() + START_TIMEOUT_MS
      if (Date.now() > deadline) {
        throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms:\n${await this.logTail()}`)
      }
      await sleep(20)
    }
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    const timeout = sleep(ms, false, { ref: false })
    return Promise.race([this.exited.then(() => true), timeout])
  }

  private async logTail(): Promise<string> {
    const log = await readTail(this.files.log, 2000)
    return [log, this.output.join('')].filter(Boolean).join('\n') || '(no output)'
  }
}

async function prepareDataDir(dataDir: string): Promise<DataFiles> {
  await mkdir(resolve(dataDir), { recursive: true, mode: 0o700 })
  // Compared with /proc/<pid>/cwd later, which is always a real path.
  const dir = await realpath(dataDir)
  const files = {
    dir,
    socket: join(dir, 'redis.sock'),
    pid: join(dir, 'redis.pid'),
    log: join(dir, 'redis.log'),
    owner: join(dir, 'redis.owner'),
  }
  if (Buffer.byteLength(files.socket) > MAX_SOCKET_PATH_BYTES) {
    throw new Error(`DATA_DIR is too long for a unix socket path (${files.socket}); use a shorter DATA_DIR`)
  }
  return files
}

function serverArgs(files: DataFiles, appendfsync: string): string[] {
  return [
    '--port', '0',
    '--unixsocket', files.socket,
    '--unixsocketperm', '700',
    '--dir', files.dir,
    '--appendonly', 'yes',
    '--appendfsync', appendfsync,
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--pidfile', files.pid,
    '--logfile', files.log,
    '--daemonize', 'no',
  ]
}

/**
 * Shuts down a server still running on this data dir from an earlier run, then removes its
 * stale pid and socket files. A server whose starter is still alive is left alone: that is
 * another instance using the same DATA_DIR, not an orphan.
 */
async function stopLeftoverServer(files: DataFiles): Promise<void> {
  const answering = await probe(files.socket, (client) => client.info('server'))
  const socketPid = typeof answering === 'string' ? Number(/process_id:(\d+)/.exec(answering)?.[1]) : NaN
  const pid = Number.isInteger(socketPid) ? socketPid : await redisServerFromPidFile(files)
  if (pid !== undefined) {
    await assertOrphaned(pid, files)
    if (typeof answering === 'string') await sendShutdown(files.socket)
    else process.kill(pid, 'SIGTERM')
    if (!(await pidExitsWithin(pid, STOP_TIMEOUT_MS))) {
      throw new Error(`a redis-server from an earlier run (pid ${pid}) on ${files.dir} did not shut down; stop it first`)
    }
  }
  await rm(files.pid, { force: true })
  await rm(files.socket, { force: true })
}

/** The pid in the pid file, if that process is a redis-server working in this data dir. */
async function redisServerFromPidFile(files: DataFiles): Promise<number | undefined> {
  const pid = Number((await readFile(files.pid, 'utf8').catch(() => '')).trim())
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  // Redis rewrites its command line to "redis-server <address>" and chdirs to --dir. A pid that
  // fails either check was reused by another process and must never be signalled.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '')
  const program = basename(cmdline.split(/[\0 ]/)[0] ?? '')
  return program === 'redis-server' && cwd === files.dir ? pid : undefined
}

async function assertOrphaned(pid: number, files: DataFiles): Promise<void> {
  const owner = Number(await readFile(files.owner, 'utf8').catch(() => ''))
  const parent = Number((await procStat(pid))[1])
  // A crashed owner's server is re-parented (to init or a subreaper), so this only matches a live one.
  if (owner === parent && owner !== process.pid) {
    throw new Error(
      `DATA_DIR ${files.dir} is in use: its redis-server (pid ${pid}) belongs to the running process ${owner}`,
    )
  }
}

/**
 * Runs `command` on a one-off connection to the socket. Resolves to the reply, to the error
 * Redis replied with, or to undefined when nothing answers.
 */
async function probe<T>(socket: string, command: (client: Redis) => Promise<T>): Promise<T | Error | undefined> {
  const client = new Redis({ ...failFastOptions(), path: socket, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
  } catch {
    client.disconnect()
    return undefined
  }
  try {
    return await command(client)
  } catch (err) {
    return err as Error
  } finally {
    client.disconnect()
  }
}

/** SHUTDOWN closes the connection instead of replying; only an error reply means it failed. */
async function sendShutdown(socket: string): Promise<void> {
  const result = await probe(socket, (client) => client.shutdown())
  if (result === undefined) throw new Error(`nothing answers on ${socket}`)
  if (result instanceof ReplyError) throw result
}

async function pidExitsWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!(await isRunning(pid))) return true
    await sleep(20)
  }
  return false
}

async function isRunning(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // An exited process lingers as a zombie until its parent, often a slow init, reaps it.
  return (await procStat(pid))[0] !== 'Z'
}

/** The fields of /proc/<pid>/stat after "pid (comm)": state, ppid, …; empty off Linux. */
async function procStat(pid: number): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  // comm may contain spaces and parentheses, so split after the last ')'.
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : []
}

// Redis logs to its logfile, so stdout/stderr only carry errors from before it opens the file.
function captureOutput(child: ChildProcess): string[] {
  const output: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      output.push(chunk)
      if (output.length > 20) output.shift()
    })
  }
  return output
}

async function readTail(path: string, bytes: number): Promise<string> {
  const file = await open(path, 'r').catch(() => undefined)
  if (!file) return ''
  try {
    const { size } = await file.stat()
    const length = Math.min(size, bytes)
    const { buffer } = await file.read(Buffer.alloc(length), 0, length, size - length)
    return buffer.toString('utf8').trim()
  } finally {
    await file.close()
  }
}
