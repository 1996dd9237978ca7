// `npm run bench:model`: the newest 20 of 1,000 records vs of 1,000,000, through the model's
// index (filter + default order + limit). The two must be equal within noise: O(log N + k).
// Starts its own redis-server on a free port (never touches another Redis).
import { rmSync } from 'node:fs'
import { Redis } from 'ioredis'
import { column, defineModel, Store } from '../src/model/index.js'
import { freePort, startRedisServer, stopRedisServer } from '../test/helpers/redis.js'

const Item = defineModel('item', {
  id: column.string({ primaryKey: true }),
  kind: column.enum(['a', 'b'], { index: true }),
  createdAt: column.date({ required: true, sortable: true }),
  body: column.string({ default: '' }),
}, { defaultOrder: '-createdAt' })

const SMALL = 1_000
const LARGE = Number(process.argv.find((a) => a.startsWith('--records='))?.split('=')[1] ?? 1_000_000)
const SAMPLES = 3_000

async function fill(store: Store, from: number, to: number) {
  const batch = 2_000
  for (let start = from; start < to; start += batch) {
    const writes = []
    for (let i = start; i < Math.min(to, start + batch); i++) {
      writes.push(Item.create(store, { id: `i${i}`, kind: i % 2 ? 'a' : 'b', createdAt: new Date(1_700_000_000_000 + i), body: 'x'.repeat(64) }))
    }
    await Promise.all(writes)
    const done = Math.min(to, start + batch)
    if (process.stderr.isTTY) process.stderr.write(`\r  filled ${done.toLocaleString()} records`)
    else if (done % 100_000 === 0 || done === to) process.stderr.write(`  filled ${done.toLocaleString()} records\n`)
  }
  if (process.stderr.isTTY) process.stderr.write('\n')
}

/** Median and p99 of `SAMPLES` sequential queries, in ms. */
async function measure(store: Store): Promise<{ median: number; p99: number }> {
  const query = Item.query(store).filter({ kind: 'a' }).limit(20)
  for (let i = 0; i < 300; i++) await query.all()
  const times: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    const start = process.hrtime.bigint()
    const rows = await query.all()
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
    if (rows.length !== 20) throw new Error(`expected 20 rows, got ${rows.length}`)
  }
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(SAMPLES / 2)] ?? 0, p99: times[Math.floor(SAMPLES * 0.99)] ?? 0 }
}

const port = await freePort()
const server = await startRedisServer(port)
const redis = new Redis(port, '127.0.0.1')
try {
  const store = new Store(redis, { prefix: 'benchmodel:' })
  await fill(store, 0, SMALL)
  const small = await measure(store)
  await fill(store, SMALL, LARGE)
  const large = await measure(store)
  const fmt = (n: number) => `${n.toFixed(3)} ms`
  console.log(`\nnewest 20 of ${SMALL.toLocaleString()} records:   median ${fmt(small.median)}, p99 ${fmt(small.p99)}`)
  console.log(`newest 20 of ${LARGE.toLocaleString()} records: median ${fmt(large.median)}, p99 ${fmt(large.p99)}`)
  console.log(`ratio (large / small median): ${(large.median / small.median).toFixed(2)}x`)
} finally {
  redis.disconnect()
  await stopRedisServer(server)
  rmSync('dump.rdb', { force: true })
}
