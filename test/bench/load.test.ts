// The bench's paired runs (runAlternating): servers measured in turn, window by window, each run
// summed over its own windows. Real HTTP servers, real autocannon.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runAlternating, runLoad, serverPids, type LoadResult, type LoadSpec, type LoadTarget } from '../../bench/load.js'

/** A server that answers every request with `status`, and remembers when each came. */
async function server(status: number) {
  const arrivals: number[] = []
  const http: Server = createServer((_req, res) => {
    arrivals.push(performance.now())
    res.writeHead(status, { 'content-type': 'text/plain' }).end('ok')
  })
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done))
  const target: LoadTarget = { baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, pid: null, metrics: false, ours: [], redisPid: null }
  return { http, target, arrivals }
}

/** The order in which the servers were asked: each one's name once per spell of its requests. */
function spells(arrivals: Record<string, number[]>): string {
  return Object.entries(arrivals)
    .flatMap(([side, times]) => times.map((t) => ({ t, side })))
    .sort((x, y) => x.t - y.t)
    .filter((arrival, i, all) => i === 0 || all[i - 1]!.side !== arrival.side)
    .map((arrival) => arrival.side)
    .join('')
}

const spec = (name: string): LoadSpec => ({ name, connections: 2, duration: 2, warmupSeconds: 0, requests: [{ method: 'GET', path: '/' }] })

describe('bench: runAlternating', () => {
  let a: Awaited<ReturnType<typeof server>>
  let b: Awaited<ReturnType<typeof server>>
  let c: Awaited<ReturnType<typeof server>>
  beforeAll(async () => {
    a = await server(200)
    b = await server(503)
    c = await server(200)
  })
  afterAll(async () => {
    for (const s of [a, b, c]) await new Promise((done) => s.http.close(done))
  })

  it('measures them in turn, window by window, and sums each over its own windows', async () => {
    const results = await runAlternating([[a.target, spec('a')], [b.target, spec('b')], [c.target, spec('c')]], { seconds: 1 })
    expect(results).toHaveLength(3)
    const [first, second, third] = results as [LoadResult, LoadResult, LoadResult]
    // Each run lasted its duration in all, in 2 windows of a second.
    for (const result of results) {
      expect(result.seconds).toBeGreaterThan(1.8)
      expect(result.seconds).toBeLessThan(3)
    }
    // Every response counted, of the requests that came; at most one per connection was still
    // in flight when each window ended.
    for (const [result, side] of [[first, a], [second, b], [third, c]] as const) {
      expect(result.requests).toBeGreaterThan(100)
      expect(result.requests).toBeLessThanOrEqual(side.arrivals.length)
      expect(result.requests).toBeGreaterThanOrEqual(side.arrivals.length - 2 * 2)
    }
    expect(first.rps).toBeCloseTo(first.requests / first.seconds, 6)
    expect(first.statusCodes).toEqual({ 200: first.requests })
    expect(first.unexpected).toBe(0)
    expect(second.unexpected).toBe(second.requests)
    expect(third.statusCodes).toEqual({ 200: third.requests })
    expect(first.serverCpu).toBeNull()

    // In turn: a's requests came in 2 spells, each followed by one of b's, then one of c's.
    expect(spells({ a: a.arrivals, b: b.arrivals, c: c.arrivals })).toBe('abcabc')
  })

  it('spreads the requests of a target with peers over them all, as one server', async () => {
    const before = [a.arrivals.length, c.arrivals.length]
    const both: LoadTarget = { ...a.target, peers: [{ baseUrl: c.target.baseUrl, pid: process.pid }] }
    const result = await runLoad(both, { ...spec('a+c'), duration: 1 })
    const toA = a.arrivals.length - before[0]!
    const toC = c.arrivals.length - before[1]!
    // One connection each: both served, every response counted once.
    expect(toA).toBeGreaterThan(20)
    expect(toC).toBeGreaterThan(20)
    expect(result.requests).toBeLessThanOrEqual(toA + toC)
    expect(result.requests).toBeGreaterThanOrEqual(toA + toC - 2)
    // pid null on the first: no CPU figure, even with a peer's pid.
    expect(result.serverCpu).toBeNull()
  })

  it('counts a target with peers as one server: its processes, and its CPU summed over them', async () => {
    expect(await serverPids({ ...a.target, pid: 101, peers: [{ baseUrl: c.target.baseUrl, pid: 202 }] })).toEqual([101, 202])
    // This process serves both and runs the load: named as the target and as its peer, its CPU
    // counts twice, as two servers' would once each.
    const twice: LoadTarget = { ...a.target, pid: process.pid, peers: [{ baseUrl: c.target.baseUrl, pid: process.pid }] }
    const before = process.cpuUsage()
    const result = await runLoad(twice, { ...spec('a+c'), duration: 1 })
    const used = process.cpuUsage(before)
    const ownSeconds = (used.user + used.system) / 1e6
    expect(ownSeconds).toBeGreaterThan(0.1)
    const ratio = (result.serverCpu! * result.seconds) / ownSeconds
    expect(ratio).toBeGreaterThan(1.5)
    expect(ratio).toBeLessThan(2.4)
  })

  it('shares out runs of a number of requests in windows of so many, the last one the rest', async () => {
    const before = [a.arrivals.length, b.arrivals.length]
    const counted = (name: string): LoadSpec => ({ ...spec(name), amount: 250 })
    const [first, second] = await runAlternating([[a.target, counted('a')], [b.target, counted('b')]], { requests: 100 })
    // Exactly the requests asked for, each counted once: windows of 100, 100 and 50.
    expect(first.requests).toBe(250)
    expect(second.requests).toBe(250)
    expect(a.arrivals.length - before[0]!).toBe(250)
    expect(b.arrivals.length - before[1]!).toBe(250)
    // A run of a number of requests lasts until its last response, not a whole second.
    expect(first.seconds).toBeLessThan(1)
    expect(spells({ a: a.arrivals.slice(before[0]), b: b.arrivals.slice(before[1]) })).toBe('ababab')
  })

  it('refuses windows of requests for a run of a duration', async () => {
    await expect(runAlternating([[a.target, spec('a')]], { requests: 100 })).rejects.toThrow('a has no amount to share out in windows of 100 requests')
  })
})
