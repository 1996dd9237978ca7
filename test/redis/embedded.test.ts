import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { EmbeddedRedis, RedisNotInstalledError } from '../../src/redis/EmbeddedRedis.js'
import { connectRedis } from '../../src/redis/client.js'

const cleanups: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'redbin-embedded-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function start(dataDir: string, appendfsync: 'everysec' | 'always' = 'everysec'): Promise<EmbeddedRedis> {
  const server = await EmbeddedRedis.start({ dataDir, appendfsync })
  cleanups.push(() => server.stop())
  return server
}

async function connect(server: EmbeddedRedis): Promise<Redis> {
  const client = await connectRedis(server.socketPath)
  cleanups.push(async () => client.disconnect())
  return client
}

/** True while `pid` runs; a zombie waiting to be reaped counts as gone. */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')
  return stat !== '' && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

/** Pids of live redis-server processes working in `dir`, found through /proc. */
async function redisServersIn(dir: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '')
    if (cmdline.startsWith('redis-server') && cwd === dir && (await isRunning(Number(entry)))) pids.push(Number(entry))
  }
  return pids
}

async function deadPid(): Promise<number> {
  const child = spawn('true')
  await once(child, 'exit')
  return child.pid ?? -1
}

describe('EmbeddedRedis', () => {
  it('answers PING on a private unix socket inside the data dir', async () => {
    const dataDir = await tempDataDir()
    const server = await start(dataDir)
    expect(server.socketPath).toBe(join(dataDir, 'redis.sock'))
    expect((await stat(server.socketPath)).mode & 0o777).toBe(0o700)
    const client = await connect(server)
    expect(await client.ping()).toBe('PONG')
  })

  it('creates a missing data dir', async () => {
    const dataDir = join(await tempDataDir(), 'nested', 'data')
    const server = await start(dataDir)
    expect(server.socketPath).toBe(join(dataDir, 'redis.sock'))
  })

  it('runs with AOF persistence, noeviction and no TCP port', async () => {
    const client = await connect(await start(await tempDataDir()))
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes'])
    expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec'])
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction'])
    expect(await client.config('GET', 'port')).toEqual(['port', '0'])
    expect(await client.config('GET', 'save')).toEqual(['save', ''])
  })

  it('passes appendfsync always through', async () => {
    const client = await connect(await start(await tempDataDir(), 'always'))
    expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always'])
  })

  it('keeps data across a stop and a start', async () => {
    const dataDir = await tempDataDir()
    const first = await start(dataDir)
    const writer = await connect(first)
    await writer.set('greeting', 'hello')
    await first.stop()
    expect(await isRunning(first.pid)).toBe(false)

    const reader = await connect(await start(dataDir))
    expect(await reader.get('greeting')).toBe('hello')
  })

  it('stop() can be called more than once', async () => {
    const server = await start(await tempDataDir())
    await Promise.all([server.stop(), server.stop()])
    await server.stop()
    expect(await isRunning(server.pid)).toBe(false)
  })

  it('replaces a server orphaned by an earlier run instead of starting a second one', async () => {
    const dataDir = await tempDataDir()
    const orphan = await start(dataDir) // never stopped by its owner: a crashed run
    await (await connect(orphan)).set('written-before-crash', '1')

    const server = await start(dataDir)
    expect(await isRunning(orphan.pid)).toBe(false)
    expect(await redisServersIn(dataDir)).toEqual([server.pid])
    expect(await readFile(join(dataDir, 'redis.pid'), 'utf8')).toBe(`${server.pid}\n`)
    const client = await connect(server)
    expect(await client.get('written-before-crash')).toBe('1') // SHUTDOWN flushed the AOF
  })

  it('replaces the server of an app process that was killed', async () => {
    const dataDir = await tempDataDir()
    const embedded = new URL('../../src/redis/EmbeddedRedis.ts', import.meta.url).pathname
    const script = `import { EmbeddedRedis } from ${JSON.stringify(embedded)}
      const server = await EmbeddedRedis.start({ dataDir: ${JSON.stringify(dataDir)}, appendfsync: 'always' })
      console.log(server.pid)
      setInterval(() => {}, 1000)`
    const app = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script])
    cleanups.push(async () => app.kill('SIGKILL'))
    const [output] = (await once(app.stdout, 'data')) as [Buffer]
    const orphanPid = Number(output.toString())
    app.kill('SIGKILL')
    await once(app, 'exit')

    const server = await start(dataDir)
    expect(await isRunning(orphanPid)).toBe(false)
    expect(await redisServersIn(dataDir)).toEqual([server.pid])
  })

  it('recovers from a server that was killed, leaving its pid and socket files behind', async () => {
    const dataDir = await tempDataDir()
    const crashed = await start(dataDir, 'always')
    await (await connect(crashed)).set('key', 'value')
    process.kill(crashed.pid, 'SIGKILL')
    await stopped(crashed.pid)

    const client = await connect(await start(dataDir))
    expect(await client.get('key')).toBe('value')
  })

  it('removes a stale pid file naming a dead process', async () => {
    const dataDir = await tempDataDir()
    await writeFile(join(dataDir, 'redis.pid'), `${await deadPid()}\n`)
    const client = await connect(await start(dataDir))
    expect(await client.ping()).toBe('PONG')
  })

  it('never signals a live process that is not a redis-server', async () => {
    const dataDir = await tempDataDir()
    const bystander = spawn('sleep', ['30'])
    cleanups.push(async () => bystander.kill('SIGKILL'))
    await writeFile(join(dataDir, 'redis.pid'), `${bystander.pid}\n`)
    await start(dataDir)
    expect(bystander.exitCode).toBeNull()
    expect(await isRunning(bystander.pid ?? -1)).toBe(true)
  })

  it('refuses a data dir whose redis-server belongs to another running process', async () => {
    const dataDir = await tempDataDir()
    const socket = join(dataDir, 'redis.sock')
    // The shell stays the server's parent (it has more to do after redis-server), like a live app.
    const owner = spawn('sh', ['-c', `echo $$ > redis.owner; redis-server --port 0 --unixsocket ${socket} --dir . --save ''; true`], { cwd: dataDir })
    cleanups.push(async () => {
      owner.kill('SIGKILL')
      for (const pid of await redisServersIn(dataDir)) {
        process.kill(pid, 'SIGTERM')
        await stopped(pid)
      }
    })
    await waitFor(async () => (await redisServersIn(dataDir)).length === 1 && (await exists(socket)))

    await expect(EmbeddedRedis.start({ dataDir, appendfsync: 'everysec' })).rejects.toThrow(/is in use/)
    expect(await redisServersIn(dataDir)).toHaveLength(1)
  })

  it('explains how to get Redis when redis-server is not installed', async () => {
    const attempt = EmbeddedRedis.start({
      dataDir: await tempDataDir(),
      appendfsync: 'everysec',
      redisServerPath: '/nonexistent/redis-server',
    })
    await expect(attempt).rejects.toThrow(RedisNotInstalledError)
    await expect(attempt).rejects.toThrow(/apt-get install redis-server.*Debian\/Ubuntu/)
    await expect(attempt).rejects.toThrow(/brew install redis.*macOS/)
    await expect(attempt).rejects.toThrow(/set REDIS_URL/)
    await expect(attempt).rejects.toThrow(/docker compose up/)
  })

  it('reports the server log when redis-server cannot start', async () => {
    const dataDir = await tempDataDir()
    const attempt = EmbeddedRedis.start({ dataDir, appendfsync: 'never-valid' as 'always' })
    await expect(attempt).rejects.toThrow(/exited during start-up[\s\S]*appendfsync/)
  })
})

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false)
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 20))
  }
}

async function stopped(pid: number): Promise<void> {
  await waitFor(async () => !(await isRunning(pid)))
}
