// What the numbers were measured on: they mean little without it.
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import type { Redis } from 'ioredis'
import { run } from './processes.js'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  redis: string
  /** The commit measured, with "+dirty" when the work tree had changes. */
  commit: string
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
    if (line) return line.split(':')[1]!.trim()
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown'
}

async function redisVersion(redis: Redis | null): Promise<string> {
  if (redis) {
    const info = await redis.info('server').catch(() => '')
    const version = /redis_version:(\S+)/.exec(info)?.[1]
    if (version) return version
  }
  const text = await run('redis-server', ['--version']).catch(() => '')
  return /v=(\S+)/.exec(text)?.[1] ?? 'unknown'
}

async function commit(): Promise<string> {
  try {
    const head = (await run('git', ['rev-parse', '--short', 'HEAD'])).trim()
    const dirty = (await run('git', ['status', '--porcelain', '--untracked-files=no'])).trim() !== ''
    return dirty ? `${head}+dirty` : head
  } catch {
    return 'unknown'
  }
}

export async function describeMachine(redis: Redis | null): Promise<Machine> {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    redis: await redisVersion(redis),
    commit: await commit(),
  }
}
