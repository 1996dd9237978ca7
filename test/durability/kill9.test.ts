// Durability under load, measured from outside (issue 15): the real server (src/server.ts) with
// its embedded Redis and REDIS_APPENDFSYNC=always, in a process group of its own, in a temporary
// DATA_DIR. 8 clients create pastes; at a random moment the whole group (node and redis-server)
// gets kill -9; the server restarts on the same DATA_DIR, and every paste that was acknowledged
// with a 201, in this round or an earlier one, must be there byte for byte. Three rounds.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/redis.js'

const ROUNDS = 3
const CLIENTS = 8
/** Load runs this long before the kill, at a random moment in between. */
const KILL_AFTER_MS: [number, number] = [800, 2500]
const START_TIMEOUT_MS = 30_000
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 0x7fffffff)

let dataDir: string | undefined
let server: ChildProcess | undefined

afterAll(async () => {
  if (server?.pid !== undefined) killGroup(server.pid)
  if (dataDir) await rm(dataDir, { recursive: true, force: true })
})

function killGroup(pid: number) {
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

async function groupGone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      process.kill(-pid, 0)
    } catch {
      return
    }
    if (Date.now() > deadline) throw new Error(`process group ${pid} still alive 10 s after kill -9`)
    await sleep(20)
  }
}

/** Starts the real server in a process group of its own; resolves once /healthz answers. */
async function start(base: string, port: number, dir: string): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: base,
    DATA_DIR: dir,
    REDIS_APPENDFSYNC: 'always',
    RATE_LIMIT_CREATES_PER_MINUTE: '0',
    LOG_LEVEL: 'warn',
    WORKERS: '1',
  }
  // The embedded Redis, whatever the test run points at.
  delete env.REDIS_URL
  delete env.REDIS_CLUSTER_NODES
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)))
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}):\n${stderr}`)
    const ok = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false)
    if (ok) return child
    if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within ${START_TIMEOUT_MS} ms:\n${stderr}`)
    await sleep(50)
  }
}

/** Contents that are easy to damage: CRLF, tabs, multi-byte and astral characters, up to a few KB. */
const contents = fc.string({ unit: 'binary', minLength: 1, maxLength: 4000 }).map((s) => `${s}\r\n\t✓ 🦀 end`)

describe('durability: kill -9 under load', () => {
  it(`${ROUNDS} rounds of ${CLIENTS} clients creating pastes, then kill -9 of the whole process group: no acknowledged paste lost`, async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'redbin-kill-'))
    const port = await freePort()
    const base = `http://127.0.0.1:${port}`
    const samples = fc.sample(contents, { seed: SEED, numRuns: 200 })
    const rand = fc.sample(fc.integer({ min: KILL_AFTER_MS[0], max: KILL_AFTER_MS[1] }), { seed: SEED, numRuns: ROUNDS })
    const acknowledged = new Map<string, Buffer>()
    const perRound: number[] = []
    const lost = new Set<string>()
    const failures: string[] = []
    let unacknowledged = 0

    server = await start(base, port, dataDir)
    for (let round = 0; round < ROUNDS; round++) {
      let stop = false
      let made = 0
      const client = async (n: number) => {
        for (let i = n; !stop; i += CLIENTS) {
          const content = samples[i % samples.length] as string
          try {
            const res = await fetch(`${base}/api/pastes`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ content }),
            })
            if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`)
            const { id } = await res.json() as { id: string }
            acknowledged.set(id, Buffer.from(content))
            made++
          } catch (err) {
            if (!stop) {
              failures.push((err as Error).message)
              return
            }
            // Cut off by the kill: never acknowledged, so nothing is owed.
            unacknowledged++
          }
        }
      }
      const clients = Array.from({ length: CLIENTS }, (_, n) => client(n))
      await sleep(rand[round] as number)
      const pid = server.pid as number
      killGroup(pid)
      stop = true
      await Promise.all(clients)
      await groupGone(pid)
      perRound.push(made)

      server = await start(base, port, dataDir)
      const ids = [...acknowledged.keys()]
      for (let at = 0; at < ids.length; at += 16) {
        await Promise.all(ids.slice(at, at + 16).map(async (id) => {
          const res = await fetch(`${base}/${id}/raw`)
          const bytes = Buffer.from(await res.arrayBuffer())
          if (res.status !== 200 || !bytes.equals(acknowledged.get(id) as Buffer)) lost.add(id)
        }))
      }
    }
    const pid = server.pid as number
    process.kill(-pid, 'SIGTERM')
    await groupGone(pid)
    server = undefined

    console.log(`durability (seed ${SEED}): ${acknowledged.size} creates acknowledged over ${ROUNDS} kill -9 rounds (${perRound.join(', ')}), ${unacknowledged} cut off unacknowledged, ${lost.size} acknowledged lost`)
    expect(failures).toEqual([])
    expect([...lost]).toEqual([])
    for (const made of perRound) expect(made).toBeGreaterThan(0)
  }, 180_000)
})
