// The bench's target checks: absolute bounds, bounds relative to another row of the same run,
// and server CPU per response against the ceilings.
import { describe, expect, it } from 'vitest'
import { hitShare } from '../../bench/load.js'
import { checkTargets, compareToCeilings, cpuPerResponseUs, efficiencyLines, nameMedian, nameMedianRound, nameMedianWorkersRound, type ScenarioResult, type TargetRule } from '../../bench/report.js'

function row(name: string, fields: { rps: number; p99: number; serverCpu: number; connections?: number; server?: 'app' | 'ceiling' }): ScenarioResult {
  const seconds = 10
  const requests = fields.rps * seconds
  return {
    name, title: name, connections: fields.connections ?? 50, server: fields.server ?? (name.startsWith('ceiling') ? 'ceiling' : 'app'),
    ceiling: null, ratio: null, cpuRatio: null, cpuPerResponseUs: cpuPerResponseUs(fields.serverCpu, seconds, requests),
    requests, seconds, rps: fields.rps, latencyMs: { p50: fields.p99 / 3, p90: fields.p99 / 2, p99: fields.p99, max: fields.p99 * 2 },
    errors: 0, unexpected: 0, statusCodes: {}, peakRssBytes: null, serverCpu: fields.serverCpu, generatorCpu: 0.9, otherCpu: 0,
    redisCpu: 0.3, loopDelayP99Ms: 7, loopDelayMaxMs: 9, cacheHitShare: null, notes: {},
  }
}

const check = (results: ScenarioResult[], rule: TargetRule) => {
  compareToCeilings(results)
  return checkTargets(results, { enforced: [rule], goals: [] })
}

describe('bench targets', () => {
  it('server CPU per response is CPU seconds over responses, in µs, and its ratio is to the ceiling', () => {
    expect(cpuPerResponseUs(0.8, 10, 157_140)).toBeCloseTo(50.9, 1)
    expect(cpuPerResponseUs(null, 10, 100)).toBeNull()
    const results = [row('ceiling', { rps: 28_304, p99: 4.06, serverCpu: 0.76 }), row('page', { rps: 15_714, p99: 6.61, serverCpu: 0.8 })]
    compareToCeilings(results)
    expect(results[1]!.ceiling).toBe('ceiling')
    expect(results[1]!.cpuRatio).toBeCloseTo(50.9 / 26.85, 2)
    expect(results[1]!.ratio).toBeCloseTo(0.555, 3)
    expect(efficiencyLines(results)).toEqual(['- **page**: 50.9 µs of server CPU per response: 1.90× ceiling (26.9 µs)'])
  })

  it('a relative bound scales with the reference row measured in the same run', () => {
    const rule: TargetRule = { scenario: 'page', metric: 'p99', relativeTo: 'ceiling', max: 5 }
    const fast = check([row('ceiling', { rps: 28_304, p99: 4.06, serverCpu: 0.76 }), row('page', { rps: 15_714, p99: 6.61, serverCpu: 0.8 })], rule)
    expect(fast[0]).toMatchObject({ pass: true, note: '6.61 ms = 1.63 × ceiling\'s 4.06 ms' })
    // A slower machine: everything takes longer, the bound with it.
    const slow = check([row('ceiling', { rps: 17_800, p99: 7.5, serverCpu: 0.76 }), row('page', { rps: 6_800, p99: 22.95, serverCpu: 0.71 })], rule)
    expect(slow[0]!.pass).toBe(true)
    const regressed = check([row('ceiling', { rps: 28_304, p99: 4.06, serverCpu: 0.76 }), row('page', { rps: 3_000, p99: 25, serverCpu: 1 })], rule)
    expect(regressed[0]).toMatchObject({ pass: false, label: 'page p99 ≤ 5.00 × ceiling\'s' })
  })

  it('page-2w-paced passes when a view costs it at most 1.1 × the CPU it costs two 1-worker servers side by side', () => {
    const rule: TargetRule = { scenario: 'page-2w-paced', metric: 'cpuPerResponse', relativeTo: 'page-2x1w-paced', max: 1.1 }
    const one = row('page-1w-paced', { rps: 3_000, p99: 3, serverCpu: 0.3 })
    // Two busy processes on shared cores: 1.3 × one's CPU per view, whatever they are.
    const control = row('page-2x1w-paced', { rps: 6_000, p99: 3, serverCpu: 0.78 })
    // The unpaced rows, at other rates, are compared with each other, never with the paced ones.
    const unpaced = [row('page-1w', { rps: 15_000, p99: 7, serverCpu: 0.78 }), row('page-2w', { rps: 15_000, p99: 9, serverCpu: 1.5 })]
    expect(check([...unpaced, one, control, row('page-2w-paced', { rps: 6_000, p99: 3, serverCpu: 0.82 })], rule)[0]).toMatchObject({ pass: true, label: 'page-2w-paced server CPU per response ≤ 1.10 × page-2x1w-paced\'s' })
    expect(check([...unpaced, one, control, row('page-2w-paced', { rps: 6_000, p99: 3, serverCpu: 0.9 })], rule)[0]!.pass).toBe(false)
    expect(unpaced[1]!.ceiling).toBe('page-1w')
    // The control against one server: what the sharing of the cores costs, for information.
    expect(control.ceiling).toBe('page-1w-paced')
    expect(control.cpuRatio).toBeCloseTo(1.3)
    // Without --workers there is nothing to compare: say how to get it.
    expect(check([row('page', { rps: 15_000, p99: 7, serverCpu: 0.8 })], rule)[0]).toMatchObject({ pass: null, note: 'runs with --workers 1,2' })
  })

  it('seed passes at 0.8 × its ceiling\'s req/s or more, a minimum and not a maximum', () => {
    const rule: TargetRule = { scenario: 'seed', metric: 'ratio', min: 0.8 }
    const ceiling = row('ceiling-seed', { rps: 10_000, p99: 1, serverCpu: 0.56, connections: 5 })
    const at = (rps: number) => check([ceiling, row('seed', { rps, p99: 1, serverCpu: 0.7, connections: 5 })], rule)[0]
    expect(at(8_500)).toMatchObject({ pass: true, label: 'seed req/s × ceiling ≥ 0.80×', note: '0.85×' })
    expect(at(4_959)).toMatchObject({ pass: false, note: '0.50×' })
  })

  it('seed is the round of median ratio among alternating rounds, each round against its own ceiling', () => {
    // A machine whose 5-connection runs land at either ~5k or ~10k req/s, whatever serves them.
    const rps = [[4_970, 4_980], [9_900, 4_990], [4_965, 4_975], [4_975, 9_850], [9_890, 9_860]]
    const rounds = rps.map(([ceiling, seed], i) => ({
      ceiling: row(`ceiling-seed#${i + 1}`, { rps: ceiling!, p99: 1, serverCpu: 0.4, connections: 5 }),
      seed: row(`seed#${i + 1}`, { rps: seed!, p99: 1, serverCpu: 0.5, connections: 5 }),
    }))
    const ratios = nameMedianRound(rounds, (name) => `title of ${name}`)
    expect(ratios.map((r) => r.toFixed(2))).toEqual(['1.00', '0.50', '1.00', '1.98', '1.00'])
    const results = rounds.flatMap((r) => [r.ceiling, r.seed])
    expect(results.filter((r) => !r.name.includes('#')).map((r) => r.name).sort()).toEqual(['ceiling-seed', 'seed'])
    expect(results.find((r) => r.name === 'seed')).toMatchObject({ title: 'title of seed' })
    const [median] = check(results, { scenario: 'seed', metric: 'ratio', min: 0.8 })
    expect(median).toMatchObject({ pass: true })
    // Each other round is compared to its own ceiling, not to the median round's.
    expect(results.find((r) => r.name === 'seed#2')).toMatchObject({ ceiling: 'ceiling-seed#2' })
    expect(results.find((r) => r.name === 'seed#2')!.ratio).toBeCloseTo(0.504, 3)
    // One round (no ceiling, --url): its row is seed.
    const alone = { ceiling: null, seed: row('seed#1', { rps: 5_000, p99: 1, serverCpu: 0.5, connections: 5 }) }
    expect(nameMedianRound([alone], (name) => name)).toEqual([0])
    expect(alone.seed.name).toBe('seed')
  })

  it('page is the round of median CPU ratio among rounds alternating with the ceiling, which the list is compared to', () => {
    // Server CPU (cores) over 10 s at 10,000 req/s: 0.4 → 40 µs per response. One slow ceiling reading (round 2).
    const cpu = [[0.30, 0.45], [0.60, 0.46], [0.31, 0.50]]
    const rounds = cpu.map(([ceiling, page], i) => {
      const against = row(`ceiling#${i + 1}`, { rps: 10_000, p99: 3, serverCpu: ceiling! })
      const view = row(`page#${i + 1}`, { rps: 10_000, p99: 5, serverCpu: page! })
      return { ratio: view.cpuPerResponseUs! / against.cpuPerResponseUs!, rows: [view, against] }
    })
    expect(rounds.map((r) => r.ratio.toFixed(2))).toEqual(['1.50', '0.77', '1.61'])
    nameMedian(rounds, (name) => name)
    const list = row('list', { rps: 2_000, p99: 20, serverCpu: 0.4 })
    const results = [...rounds.flatMap((r) => r.rows), list]
    const [page] = check(results, { scenario: 'page', metric: 'cpuPerResponse', relativeTo: 'ceiling', max: 1.5 })
    expect(page).toMatchObject({ pass: true })
    expect(results.find((r) => r.name === 'page')).toMatchObject({ ceiling: 'ceiling', serverCpu: 0.45 })
    expect(results.find((r) => r.name === 'page#2')).toMatchObject({ ceiling: 'ceiling#2' })
    expect(list.ceiling).toBe('ceiling')
    // 200 µs per list page against the median round's ceiling, 30 µs.
    expect(list.cpuRatio).toBeCloseTo(200 / 30, 5)
  })

  it('a relative bound is not applied across different connection counts', () => {
    const rule: TargetRule = { scenario: 'page', metric: 'p99', relativeTo: 'ceiling', max: 5 }
    const results = [row('ceiling', { rps: 28_304, p99: 4.06, serverCpu: 0.76 }), row('page', { rps: 15_714, p99: 30, serverCpu: 0.8, connections: 100 })]
    expect(check(results, rule)[0]).toMatchObject({ pass: null, note: 'ceiling ran at 50 connections, page at 100' })
  })
})

describe('the page cache column', () => {
  const scrape = (hits: number, misses: number) => `redbin_page_cache_hits_total ${hits}\nredbin_page_cache_misses_total ${misses}\n`

  it('is the share of the run\'s cache lookups answered from memory', () => {
    expect(hitShare(scrape(10, 5), scrape(40, 15))).toBe(0.75)
  })

  it('is empty without both scrapes, without the counters (the ceiling) or without lookups', () => {
    expect(hitShare(null, scrape(1, 1))).toBeNull()
    expect(hitShare('redbin_event_loop_delay_max_seconds 0.01\n', 'redbin_event_loop_delay_max_seconds 0.02\n')).toBeNull()
    expect(hitShare(scrape(3, 4), scrape(3, 4))).toBeNull()
  })
})

describe('the --workers rounds', () => {
  // CPU per view = serverCpu / rps: 100 µs at 0.3 cores and 3,000 views/s.
  const round = (r: number, controlUs: number, twoUs: number) => [
    row(`page-1w#${r}`, { rps: 9000, p99: 10, serverCpu: 0.9 }),
    row(`page-2w#${r}`, { rps: 9000, p99: 10, serverCpu: 0.95 }),
    row(`page-1w-paced#${r}`, { rps: 3000, p99: 10, serverCpu: 0.25 }),
    row(`page-2w-paced#${r}`, { rps: 6000, p99: 10, serverCpu: twoUs * 6000 / 1e6 }),
    row(`page-2x1w-paced#${r}`, { rps: 6000, p99: 10, serverCpu: controlUs * 6000 / 1e6 }),
  ]

  it('names the round of median paced CPU ratio, 2 workers to two servers of one, page-1w, page-2w, page-1w-paced, page-2w-paced, page-2x1w-paced', () => {
    const results = [...round(1, 100, 120), ...round(2, 100, 90), ...round(3, 100, 100)]
    const ratios = nameMedianWorkersRound(results, 3, 2, (name) => name)
    expect(ratios.map((r) => r?.toFixed(2))).toEqual(['1.20', '0.90', '1.00'])
    expect(results.map((r) => r.name)).toEqual([
      'page-1w#1', 'page-2w#1', 'page-1w-paced#1', 'page-2w-paced#1', 'page-2x1w-paced#1',
      'page-1w#2', 'page-2w#2', 'page-1w-paced#2', 'page-2w-paced#2', 'page-2x1w-paced#2',
      'page-1w', 'page-2w', 'page-1w-paced', 'page-2w-paced', 'page-2x1w-paced',
    ])
    // The scaling check then compares the median round's rows with each other.
    compareToCeilings(results)
    expect(results.find((r) => r.name === 'page-2w-paced')?.ceiling).toBe('page-2x1w-paced')
    expect(results.find((r) => r.name === 'page-2w-paced')?.cpuRatio).toBeCloseTo(1.0)
    expect(results.find((r) => r.name === 'page-2w-paced#1')?.cpuRatio).toBeCloseTo(1.2)
  })

  it('leaves a round without both paced rows out of the median', () => {
    const results = [...round(1, 100, 130), ...round(2, 100, 110).slice(0, 4)]
    expect(nameMedianWorkersRound(results, 2, 2, (name) => name)[1]).toBeNull()
    expect(results.map((r) => r.name).slice(0, 5)).toEqual(['page-1w', 'page-2w', 'page-1w-paced', 'page-2w-paced', 'page-2x1w-paced'])
  })
})
