// Confines the measured server the way the target container is confined: 1 CPU and 2 GB.
// As root on Linux that is a cgroup (v1: cpu.cfs_quota_us = cpu.cfs_period_us and
// memory.limit_in_bytes; v2: cpu.max and memory.max), plus pinning to one core with taskset.
// Otherwise only taskset. Redis and the load generator are pinned to the other cores.
// `--workers` confines to N CPUs the same way: quota N × period, cores 0..N-1, the same memory.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { run } from './processes.js'

export interface ConfineOptions {
  /** CFS period in µs; the quota is `cpus` times it. */
  cpuPeriodUs: number
  memoryBytes: number
  /** CPUs the server gets (default 1): the quota, and the cores 0..cpus-1 it is pinned to. */
  cpus?: number
  /**
   * Pin the server to cores 0..cores-1 instead (default: `cpus`). Rows to be compared with each
   * other get one placement, so that they differ only in what is being compared.
   */
  cores?: number
}

export interface Confinement {
  kind: 'cgroup v1' | 'cgroup v2' | 'taskset' | 'none'
  /** One line for the terminal and the baseline. */
  description: string
  /** The cgroup directories made for this run. */
  groups: string[]
  /** The command prefix that starts a program confined from its first instruction. */
  wrap(argv: string[]): string[]
  /** The cores left for Redis and the load generator, as a taskset list ("1" or "1-3"); null: no pinning, or none left. */
  otherCores: string | null
  /** Every core as a taskset list ("0-1"), when taskset pins anything here; else null. */
  allCores: string | null
  /** Removes the cgroups (their processes must have exited). */
  release(): void
}

const CGROUP_ROOT = '/sys/fs/cgroup'
/** Groups made so far: each confinement needs a name of its own while the earlier ones live. */
let made = 0

async function hasTaskset(): Promise<boolean> {
  try {
    await run('taskset', ['-V'])
    return true
  } catch {
    return false
  }
}

/** The cgroup v1 path of this process for a controller ("/" or "/some/group"). */
function ownCgroupV1(controller: string): string | null {
  for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [, controllers, path] = line.split(':')
    if (controllers?.split(',').includes(controller)) return path ?? '/'
  }
  return null
}

/**
 * Makes a cgroup and writes its settings; on any failure removes what it made and returns null.
 * Groups are made below this process's own group, so a run inside a managed container stays
 * inside its limits.
 */
function makeGroup(dir: string, settings: [file: string, value: string][]): string | null {
  try {
    mkdirSync(dir)
  } catch {
    return null
  }
  try {
    for (const [file, value] of settings) writeFileSync(join(dir, file), value)
    return dir
  } catch (err) {
    process.stderr.write(`bench: cannot configure ${dir}: ${(err as Error).message}\n`)
    removeGroup(dir)
    return null
  }
}

/** Removes a cgroup, first moving any process still in it to the parent group. */
function removeGroup(dir: string): void {
  if (!existsSync(dir)) return
  try {
    rmdirSync(dir)
  } catch {
    const parentProcs = join(dir, '..', 'cgroup.procs')
    for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
      try {
        writeFileSync(parentProcs, pid)
      } catch {
        // the process has just exited
      }
    }
    rmdirSync(dir)
  }
}

function cgroupsV1(options: ConfineOptions, name: string): string[] | null {
  const cpuPath = ownCgroupV1('cpu')
  const memoryPath = ownCgroupV1('memory')
  if (cpuPath === null || memoryPath === null) return null
  const cpu = makeGroup(join(CGROUP_ROOT, 'cpu', cpuPath, name), [
    ['cpu.cfs_period_us', String(options.cpuPeriodUs)],
    ['cpu.cfs_quota_us', String(quotaUs(options))],
  ])
  if (!cpu) return null
  const memory = makeGroup(join(CGROUP_ROOT, 'memory', memoryPath, name), [['memory.limit_in_bytes', String(options.memoryBytes)]])
  if (!memory) {
    removeGroup(cpu)
    return null
  }
  return [cpu, memory]
}

function cgroupsV2(options: ConfineOptions, name: string): string[] | null {
  // v2 forbids processes in inner groups that delegate controllers, so the group goes at the
  // top of this namespace's hierarchy, which may hold processes itself.
  try {
    writeFileSync(join(CGROUP_ROOT, 'cgroup.subtree_control'), '+cpu +memory')
  } catch {
    // already enabled, or not allowed: makeGroup finds out
  }
  const group = makeGroup(join(CGROUP_ROOT, name), [
    ['cpu.max', `${quotaUs(options)} ${options.cpuPeriodUs}`],
    ['memory.max', String(options.memoryBytes)],
  ])
  return group ? [group] : null
}

function quotaUs(options: ConfineOptions): number {
  return (options.cpus ?? 1) * options.cpuPeriodUs
}

function coreList(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`
}

function cpuText(options: ConfineOptions): string {
  const cpus = options.cpus ?? 1
  return cpus === 1
    ? `1 CPU (quota = period = ${options.cpuPeriodUs} µs)`
    : `${cpus} CPUs (quota ${quotaUs(options)} µs = ${cpus} × period ${options.cpuPeriodUs} µs)`
}

export async function confine(options: ConfineOptions): Promise<Confinement> {
  const cores = cpus().length
  const wanted = options.cpus ?? 1
  // More CPUs than cores: the server gets every core (the quota cannot bind then).
  const serverCores = Math.min(options.cores ?? wanted, cores)
  const taskset = (await hasTaskset()) && cores > 1
  const name = `redbin-bench-${process.pid}-${++made}`
  const isRoot = process.platform === 'linux' && process.getuid?.() === 0

  let groups: string[] | null = null
  let kind: Confinement['kind'] = 'none'
  if (isRoot && existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) {
    groups = cgroupsV2(options, name)
    if (groups) kind = 'cgroup v2'
  } else if (isRoot && existsSync(join(CGROUP_ROOT, 'cpu')) && existsSync(join(CGROUP_ROOT, 'memory'))) {
    groups = cgroupsV1(options, name)
    if (groups) kind = 'cgroup v1'
  }
  if (!groups && taskset) kind = 'taskset'

  const parts: string[] = []
  if (groups) {
    const memory = `${(options.memoryBytes / 2 ** 30).toFixed(options.memoryBytes % 2 ** 30 === 0 ? 0 : 1)} GiB`
    // One limit for the group: several worker processes share the 2 GB as the container's would.
    parts.push(`${kind}: ${cpuText(options)}, ${memory} memory${wanted > 1 ? ' for all its processes' : ''}`)
  }
  const otherCores = taskset && serverCores < cores ? coreList(serverCores, cores - 1) : null
  if (taskset) {
    const server = serverCores === 1 ? 'core 0' : `cores ${coreList(0, serverCores - 1)}`
    const others = otherCores === null ? 'share all cores' : `on core${cores - serverCores > 1 ? 's' : ''} ${otherCores}`
    parts.push(`server pinned to ${server}; redis and load generator ${others}`)
  }
  const description = parts.length > 0 ? parts.join('; ') : 'none: the server may use every core and all memory'

  return {
    kind,
    description,
    groups: groups ?? [],
    otherCores,
    allCores: taskset ? coreList(0, cores - 1) : null,
    wrap(argv) {
      const pinned = taskset ? ['taskset', '-c', coreList(0, serverCores - 1), ...argv] : argv
      if (!groups) return pinned
      // The shell joins the groups, then execs the program: confined from its first instruction.
      const joins = groups.map((g) => `echo $$ > '${join(g, 'cgroup.procs')}'`).join(' && ')
      return ['sh', '-c', `${joins} && exec "$@"`, 'sh', ...pinned]
    },
    release() {
      for (const group of groups ?? []) removeGroup(group)
      groups = null
    },
  }
}

/** Pins an already running process (all its threads) to the given cores. */
export async function pinProcess(pid: number, cores: string): Promise<void> {
  await run('taskset', ['-a', '-pc', cores, String(pid)])
}

/** The cores a process may run on, as a taskset list ("1", "0,1"), to restore after pinProcess. */
export async function affinityOf(pid: number): Promise<string> {
  const text = await run('taskset', ['-pc', String(pid)])
  const list = /current affinity list:\s*(\S+)/.exec(text)?.[1]
  if (!list) throw new Error(`taskset -pc ${pid}: unexpected output "${text.trim()}"`)
  return list
}
