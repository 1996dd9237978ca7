// The processes a bench run starts (redis-server, the app, the ceiling server) and the one
// place that stops them: every start registers its own cleanup, and cleanup runs on success,
// on error and on Ctrl-C alike, so a run never leaves a process or a cgroup behind.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { openSync, closeSync, existsSync, readFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { http } from './http.js'

type Cleanup = () => Promise<void> | void
const cleanups: { name: string; run: Cleanup }[] = []

/** Registers a cleanup; cleanups run last-registered first. */
export function onCleanup(name: string, run: Cleanup): void {
  cleanups.push({ name, run })
}

let cleaning: Promise<void> | null = null

/** Runs every registered cleanup once, even when some of them fail. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const { name, run } = cleanups.pop()!
      try {
        await run()
      } catch (err) {
        process.stderr.write(`bench: cleanup "${name}" failed: ${(err as Error).message}\n`)
      }
    }
  })()
  return cleaning
}

/** Ctrl-C and kill: clean up, then exit with the conventional status. */
export function cleanupOnSignals(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, cleaning up…\n`)
      void cleanupAll().finally(() => process.exit(code))
    })
  }
}

export { freePort } from '../test/helpers/redis.js'

export interface Started {
  child: ChildProcess
  pid: number
  logFile: string
  /** The last lines the process wrote, for error messages. */
  tail(): string
}

/**
 * Spawns a long-running process with its output in `logFile`, and registers its stop: SIGTERM,
 * then SIGKILL after `graceMs`. `argv` may start with a wrapper (sh, taskset) that execs the
 * real program, so the pid stays the program's.
 */
export function startProcess(name: string, argv: string[], options: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string; graceMs?: number }): Started {
  const [command, ...args] = argv
  if (!command) throw new Error('empty command')
  const log = openSync(options.logFile, 'a')
  const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', log, log] })
  closeSync(log)
  if (child.pid === undefined) throw new Error(`cannot start ${name} (${command})`)
  onCleanup(`stop ${name}`, () => stopProcess(child, options.graceMs ?? 5000))
  const tail = () => {
    try {
      return readFileSync(options.logFile, 'utf8').trimEnd().split('\n').slice(-20).join('\n')
    } catch {
      return ''
    }
  }
  return { child, pid: child.pid, logFile: options.logFile, tail }
}

export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** Resolves when `url` answers 200; rejects when the process exits or the time is up. */
export async function waitForHttp(url: string, started: Started | null, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (started && (started.child.exitCode !== null || started.child.signalCode !== null)) {
      throw new Error(`process exited (${started.child.exitCode ?? started.child.signalCode}) before ${url} answered:\n${started.tail()}`)
    }
    try {
      if ((await http('GET', url, { timeoutMs: 1000 })).status === 200) return
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s${started ? `:\n${started.tail()}` : ''}`)
    await sleep(100)
  }
}

/** Resident memory of a process, from /proc (Linux); null elsewhere or once it has gone. */
export async function residentBytes(pid: number): Promise<number | null> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => null)
  const kb = status && /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
  return kb ? Number(kb) * 1024 : null
}

/**
 * Proportional set size (Linux 4.14+): resident memory with each shared page split between
 * the processes sharing it, so that a sum over processes counts Node's code once.
 */
export async function proportionalBytes(pid: number): Promise<number | null> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => null)
  const kb = rollup && /^Pss:\s+(\d+) kB/m.exec(rollup)?.[1]
  return kb ? Number(kb) * 1024 : residentBytes(pid)
}

/**
 * Samples a process's RSS every `everyMs` and keeps the peak. With `tree`, the memory of the
 * process and all its descendants (a node:cluster primary and its workers) as the sum of their
 * proportional set sizes: a sum of RSS would count the pages they share once per process.
 */
export class RssSampler {
  private peak = 0
  private timer: NodeJS.Timeout | null = null

  constructor(private readonly pid: number, private readonly everyMs = 100, private readonly tree = false) {}

  private read(): Promise<number | null> {
    return this.tree ? sumOverTree(this.pid, proportionalBytes) : residentBytes(this.pid)
  }

  start(): void {
    this.peak = 0
    const sample = () => void this.read().then((bytes) => { if (bytes !== null && bytes > this.peak) this.peak = bytes })
    sample()
    this.timer = setInterval(sample, this.everyMs)
  }

  async stop(): Promise<number | null> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    const last = await this.read()
    const peak = Math.max(this.peak, last ?? 0)
    return peak > 0 ? peak : null
  }
}

/** CPU time (user + system, all threads) a process has used, in seconds; null when unknown. */
export async function cpuSeconds(pid: number): Promise<number | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null)
  if (!stat) return null
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return ticks / 100
}

/** Whether this kernel lists a thread's children in /proc (CONFIG_PROC_CHILDREN). */
const CHILDREN_FILES = existsSync(`/proc/${process.pid}/task/${process.pid}/children`)

/** The children of a process: from its threads' children files, else by scanning every ppid. */
async function childrenOf(pid: number): Promise<number[]> {
  const children: number[] = []
  if (CHILDREN_FILES) {
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
      const text = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '')
      children.push(...text.split(' ').filter(Boolean).map(Number))
    }
    return children
  }
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null)
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry))
  }
  return children
}

/** A process and all its descendants, the process first. */
export async function processTree(pid: number): Promise<number[]> {
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) tree.push(...await childrenOf(tree[i]!))
  return tree
}

/** `read` (cpuSeconds, residentBytes) summed over a process tree; null once its root has gone. */
export async function sumOverTree(pid: number, read: (pid: number) => Promise<number | null>): Promise<number | null> {
  const [root, ...descendants] = await processTree(pid)
  let total = await read(root!)
  if (total === null) return null
  for (const descendant of descendants) total += (await read(descendant)) ?? 0
  return total
}

/**
 * CPU time all processes on the machine have spent (user, nice, system; every core), in
 * seconds. Interrupt and softirq time are left out: loopback networking lands there, and no
 * process is charged for it.
 */
export async function machineBusySeconds(): Promise<number | null> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => null)
  const fields = stat?.split('\n')[0]?.trim().split(/\s+/).slice(1).map(Number)
  if (!fields || fields.length < 8) return null
  const [user = 0, nice = 0, system = 0] = fields
  return (user + nice + system) / 100
}

const PF_KTHREAD = 0x00200000

/**
 * CPU time of the kernel's own threads (ksoftirqd and friends), in seconds. Loopback traffic is
 * largely processed there: it is the bench's doing, not another process's.
 */
export async function kernelThreadSeconds(): Promise<number> {
  let ticks = 0
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null)
    if (!stat) continue
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    if ((Number(fields[6]) & PF_KTHREAD) !== 0) ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / 100
}

/** Runs a command to completion and returns its stdout; rejects with its stderr on failure. */
export async function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; inherit?: boolean } = {}): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', options.inherit ? 'inherit' : 'pipe', options.inherit ? 'inherit' : 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const [code] = (await once(child, 'close')) as [number | null]
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}${stderr ? `:\n${stderr.trim()}` : ''}`)
  return stdout
}
