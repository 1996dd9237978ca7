// What does ioredis auto-pipelining buy us? Many concurrent GETs against a throwaway
// redis-server, with enableAutoPipelining on and off. Run: npx tsx bench/pipelining.ts
import { performance } from 'node:perf_hooks'
import { connectRedis } from '../src/redis/client.js'
import { freePort, startRedisServer, stopRedisServer } from '../test/helpers/redis.js'

const TOTAL_OPS = 200_000
const CONCURRENCY = 500
const ROUNDS = 5
const KEYS = 1000

function key(i: number): string {
  return `bench:pipelining:${i % KEYS}`
}

async function measure(url: string, autoPipelining: boolean): Promise<number> {
  const client = await connectRedis(url, { autoPipelining })
  try {
    const run = async (ops: number) => {
      for (let done = 0; done < ops; done += CONCURRENCY) {
        await Promise.all(Array.from({ length: CONCURRENCY }, (_, j) => client.get(key(done + j))))
      }
    }
    await run(20_000) // warm-up: JIT and connection buffers
    const started = performance.now()
    await run(TOTAL_OPS)
    return TOTAL_OPS / ((performance.now() - started) / 1000)
  } finally {
    await client.quit()
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? NaN
}

const port = await freePort()
const server = await startRedisServer(port)
const url = `redis://127.0.0.1:${port}`
try {
  const setup = await connectRedis(url)
  await Promise.all(Array.from({ length: KEYS }, (_, i) => setup.set(key(i), 'x'.repeat(100))))
  await setup.quit()

  const results = { on: [] as number[], off: [] as number[] }
  // Alternate the modes so that drift (thermal, other load) does not favour one of them.
  for (let round = 0; round < ROUNDS; round++) {
    results.on.push(await measure(url, true))
    results.off.push(await measure(url, false))
  }
  const on = median(results.on)
  const off = median(results.off)
  const format = (opsPerSecond: number) => `${Math.round(opsPerSecond).toLocaleString('en-US')} ops/s`
  console.log(`${TOTAL_OPS} GETs, ${CONCURRENCY} concurrent, median of ${ROUNDS} rounds`)
  console.log(`auto-pipelining on:  ${format(on)}  (rounds: ${results.on.map(format).join(', ')})`)
  console.log(`auto-pipelining off: ${format(off)}  (rounds: ${results.off.map(format).join(', ')})`)
  console.log(`ratio on/off: ${(on / off).toFixed(2)}x`)
} finally {
  await stopRedisServer(server)
}
