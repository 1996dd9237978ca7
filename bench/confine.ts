// Confines the measured server the way the target container is confined: 1 CPU and 2 GB.
// As root on Linux that is a cgroup (v1: cpu.cfs_quota_us = cpu.cfs_period_us and
// memory.limit_in_bytes; v2: cpu.max and memory.max), plus pinning to one core with taskset.
// Otherwise only taskset. Redis and the load generator are pinned to the other cores.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { run } from './processes.js'

export interface ConfineOptions {
  /** CFS period in µs; the quota equals it (one CPU). */
  cpuPeriodUs: number
  memoryBytes: number
}

export interface Confinement {
  kind: 'cgroup v1' | 'cgroup v2' | 'taskset' | 'none'
  /** One line for the terminal and the baseline. */
  description: string
  /** The cgroup directories made for this run. */
  groups: string[]
  /** The command prefix that starts a program confined from its first instruction. */
  wrap(argv: string[]): string[]
  /** The cores left for Redis and the load generator, as a taskset list ("1" or "1-3"); null: no pinning. */
  otherCores: string | null
  /** Removes the cgroups (their processes must have exited). */
  release(): void
}

const CGROUP_ROOT = '/sys/fs/cgroup'
const SERVER_CORE = 0

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
    ['cpu.cfs_quota_us', String(options.cpuPeriodUs)],
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
    ['cpu.max', `${options.cpuPeriodUs} ${options.cpuPeriodUs}`],
    ['memory.max', String(options.memoryBytes)],
  ])
  return group ? [group] : null
}

function coreList(from: number, to: number): string {
  return from === to ? String(from) : `${from}-${to}`
}

export async function confine(options: ConfineOptions): Promise<Confinement> {
  const cores = cpus().length
  const taskset = (await hasTaskset()) && cores > 1
  const name = `redbin-bench-${process.pid}`
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
    parts.push(`${kind}: 1 CPU (quota = period = ${options.cpuPeriodUs} µs), ${memory} memory`)
  }
  if (taskset) parts.push(`server pinned to core ${SERVER_CORE}; redis and load generator on core${cores > 2 ? 's' : ''} ${coreList(1, cores - 1)}`)
  const description = parts.length > 0 ? parts.join('; ') : 'none: the server may use every core and all memory'

  return {
    kind,
    description,
    groups: groups ?? [],
    otherCores: taskset ? coreList(1, cores - 1) : null,
    wrap(argv) {
      const pinned = taskset ? ['taskset', '-c', String(SERVER_CORE), ...argv] : argv
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
