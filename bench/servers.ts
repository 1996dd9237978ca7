// How the bench starts what it measures the way it is deployed: the node flags and environment
// of `npm start`, and a private redis-server.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectRedis } from '../src/redis/client.js'
import { freePort, startProcess, type Started } from './processes.js'

const ROOT = new URL('..', import.meta.url).pathname

/**
 * How `npm start` runs the server: its node flags and environment (package.json is their one
 * home; the Dockerfile repeats them). The bench starts the server, and the ceiling, the same way.
 */
export const { serverNodeFlags, serverStartEnv } = (() => {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? ''
  const words = start.split(/\s+/)
  const node = words.indexOf('node')
  const assignments = words.slice(0, Math.max(0, node)).map((word) => /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word)).filter((m) => m !== null)
  return {
    serverNodeFlags: words.slice(node + 1).filter((word) => word.startsWith('--')),
    serverStartEnv: Object.fromEntries(assignments.map((m) => [m[1]!, m[2]!])),
  }
})()

export async function startRedis(dir: string, cores: string | null): Promise<{ url: string; process: Started }> {
  const port = await freePort()
  const args = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning']
  const started = startProcess('redis-server', cores ? ['taskset', '-c', cores, ...args] : args, { logFile: join(dir, 'redis.log') })
  const url = `redis://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const probe = await connectRedis(url)
      await probe.quit()
      return { url, process: started }
    } catch (err) {
      if (started.child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start: ${(err as Error).message}\n${started.tail()}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}

