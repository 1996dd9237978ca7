// Turns results into what people read: the terminal table, the target checks, the .json/.md
// files, the SVG chart and bench/BASELINE.md.
import { readFileSync } from 'node:fs'
import type { LoadResult } from './load.js'
import type { Machine } from './machine.js'
import { controlScenario, isControl, PACED_WORKERS_BASE, WORKERS_BASE, workersOf, workersScenario } from './scenarios.js'

export interface ScenarioResult extends LoadResult {
  name: string
  title: string
  connections: number
  server: 'app' | 'ceiling'
  /** The result this one is compared to (its ceiling; page-1w for page-Nw), and the ratio of their req/s. */
  ceiling: string | null
  ratio: number | null
  /**
   * µs of server CPU per response: what the server itself spends, whatever bounds req/s. On 2
   * cores the load generator and Redis share one core, so req/s and its ratio flatten; this does not.
   */
  cpuPerResponseUs: number | null
  /** cpuPerResponseUs against the same figure of `ceiling`. */
  cpuRatio: number | null
}

export interface Check {
  kind: 'enforced' | 'goal'
  label: string
  value: number | null
  pass: boolean | null
  note?: string
}

export interface RunReport {
  startedAt: string
  seconds: number
  command: string
  options: Record<string, unknown>
  machine: Machine
  confinement: string
  data: Record<string, number | string>
  results: ScenarioResult[]
  checks: Check[]
}

export interface TargetRule {
  scenario: string
  metric: string
  max?: number
  min?: number
  /**
   * The bound is a multiple of the same metric of another row in the same run: "ceiling" (the
   * row's own ceiling, page-1w for page-Nw) or a row's name. Both must have run at the same
   * connections.
   */
  relativeTo?: string
  connections?: number
  why?: string
}

const UNITS: Record<string, string> = { p50: ' ms', p90: ' ms', p99: ' ms', max: ' ms', loopDelayP99: ' ms', peakRssMB: ' MB', ratio: '×', rps: ' req/s', cpuPerResponse: ' µs' }
const METRIC_LABELS: Record<string, string> = { loopDelayP99: 'event-loop delay p99', peakRssMB: 'peak RSS', non2xx: 'non-2xx', listScaleChange: 'req/s change 1k → N pastes', cpuPerResponse: 'server CPU per response', ratio: 'req/s × ceiling' }
/** Metrics that only some runs measure: the option that does, for the n/a note. */
const NEEDS: Record<string, string> = { listScaleChange: 'runs with --pastes above 10000' }
const WORKERS_NEEDED = 'runs with --workers 1,2'

/**
 * The row a scenario is compared to: its ceiling; page-1w for page-Nw; page-Nx1w-paced for
 * page-Nw-paced (N > 1), and page-1w-paced for those; null for ceilings and the fixed-rate probe.
 */
export function ceilingOf(name: string): string | null {
  const workers = workersOf(name)
  if (workers !== null) {
    if (!name.endsWith('-paced')) return WORKERS_BASE
    return workers > 1 && !isControl(name) ? controlScenario(workers) : PACED_WORKERS_BASE
  }
  if (name.startsWith('ceiling') || name === 'probe') return null
  return ({ raw: 'ceiling-raw', create: 'ceiling-create', seed: 'ceiling-seed' } as Record<string, string>)[name] ?? 'ceiling'
}

/** Fills in each app row's ceiling and its two ratios: req/s and server CPU per response. */
export function compareToCeilings(results: ScenarioResult[]): void {
  for (const result of results) {
    // A repeated row (seed#3) compares to its own round's ceiling (ceiling-seed#3) when it has one.
    const [, base, round = ''] = /^(.*?)(#\d+)?$/.exec(result.name)!
    const of = ceilingOf(base!)
    const ceiling = results.find((r) => r.name === `${of}${round}`) ?? results.find((r) => r.name === of)
    if (!ceiling || result.server !== 'app') continue
    result.ceiling = ceiling.name
    result.ratio = result.rps / ceiling.rps
    result.cpuRatio = result.cpuPerResponseUs !== null && ceiling.cpuPerResponseUs ? result.cpuPerResponseUs / ceiling.cpuPerResponseUs : null
  }
}

/** A repeated measurement: a row (seed#3) and its ceiling's row of the same round (ceiling-seed#3). */
export interface Round {
  seed: ScenarioResult
  ceiling: ScenarioResult | null
}

/**
 * Of repeated rounds, each with its rows (named with #N) and the ratio that ranks it (null: not
 * measured, left out), gives the plain names to the rows of the round of median ratio (the lower
 * middle of an even count); the other rounds keep their #N.
 */
export function nameMedian(rounds: { ratio: number | null; rows: ScenarioResult[] }[], titleOf: (name: string) => string): void {
  const measured = rounds.filter((r) => r.ratio !== null).sort((a, b) => a.ratio! - b.ratio!)
  for (const row of measured[Math.floor((measured.length - 1) / 2)]?.rows ?? []) {
    row.name = row.name.replace(/#\d+$/, '')
    row.title = titleOf(row.name)
  }
}

/**
 * Gives the plain names (seed, ceiling-seed) to the rows of the round whose req/s ratio is the
 * median; the other rounds keep their #N. Returns each round's ratio, in order (0 for a round
 * without a ceiling).
 */
export function nameMedianRound(rounds: Round[], titleOf: (name: string) => string): number[] {
  const ratios = rounds.map((r) => (r.ceiling ? r.seed.rps / r.ceiling.rps : 0))
  nameMedian(rounds.map((r, i) => ({ ratio: ratios[i]!, rows: r.ceiling ? [r.seed, r.ceiling] : [r.seed] })), titleOf)
  return ratios
}

/**
 * Gives the plain names (page-1w, page-1w-paced, page-Nw, page-Nw-paced, page-Nx1w-paced) to the
 * rows of the `--worker-rounds` round whose paced CPU ratio, page-`maxWorkers`w-paced#R ÷ its
 * control page-`maxWorkers`x1w-paced#R, is the median; rounds without both rows are left out.
 * Returns each round's ratio, in order (null without both rows).
 */
export function nameMedianWorkersRound(results: ScenarioResult[], rounds: number, maxWorkers: number, titleOf: (name: string) => string): (number | null)[] {
  const cpu = (name: string) => results.find((r) => r.name === name)?.cpuPerResponseUs
  const ratios = Array.from({ length: rounds }, (_, i) => {
    const control = cpu(`${controlScenario(maxWorkers)}#${i + 1}`)
    const many = cpu(`${workersScenario(maxWorkers, true)}#${i + 1}`)
    return control && many != null ? many / control : null
  })
  const rowsOf = (round: number) => results.filter((r) => new RegExp(`^page-\\d+(x1)?w(-paced)?#${round}$`).test(r.name))
  nameMedian(ratios.map((ratio, i) => ({ ratio, rows: rowsOf(i + 1) })), titleOf)
  return ratios
}

/** µs of server CPU per response; null when the server's CPU is not known (--url). */
export function cpuPerResponseUs(serverCpu: number | null, seconds: number, responses: number): number | null {
  return serverCpu === null || responses === 0 ? null : (serverCpu * seconds * 1e6) / responses
}

function metricOf(result: ScenarioResult, metric: string, all: ScenarioResult[]): number | null {
  switch (metric) {
    case 'p50': case 'p90': case 'p99': case 'max': return result.latencyMs[metric]
    case 'rps': return result.rps
    case 'ratio': return result.ratio
    case 'errors': return result.errors
    case 'non2xx': return result.unexpected
    case 'peakRssMB': return result.peakRssBytes === null ? null : result.peakRssBytes / 2 ** 20
    case 'loopDelayP99': return result.loopDelayP99Ms
    case 'cpuPerResponse': return result.cpuPerResponseUs
    case 'listScaleChange': {
      // Every run of each list (the scale variant alternates them): mean req/s against mean req/s.
      const mean = (pattern: RegExp) => {
        const runs = all.filter((r) => pattern.test(r.name))
        return runs.length > 0 ? runs.reduce((sum, r) => sum + r.rps, 0) / runs.length : null
      }
      const small = mean(/^list@1k(#\d+)?$/)
      const big = mean(/^list(#\d+)?$/)
      return small !== null && big !== null ? Math.abs(big - small) / small : null
    }
    default: throw new Error(`bench/targets.json: unknown metric "${metric}"`)
  }
}

function formatValue(metric: string, value: number): string {
  if (metric === 'listScaleChange') return `${(value * 100).toFixed(1)}%`
  if (metric === 'ratio') return `${value.toFixed(2)}×`
  const digits = metric === 'errors' || metric === 'non2xx' || metric === 'rps' ? 0 : metric === 'cpuPerResponse' ? 1 : 2
  return `${value.toFixed(digits)}${UNITS[metric] ?? ''}`
}

export function loadTargets(path: string): { enforced: TargetRule[]; goals: TargetRule[] } {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { enforced?: TargetRule[]; goals?: TargetRule[] }
  return { enforced: parsed.enforced ?? [], goals: parsed.goals ?? [] }
}

/** Every target against every scenario it names; a scenario that did not run is skipped. */
export function checkTargets(results: ScenarioResult[], targets: { enforced: TargetRule[]; goals: TargetRule[] }): Check[] {
  const checks: Check[] = []
  for (const [kind, rules] of [['enforced', targets.enforced], ['goal', targets.goals]] as const) {
    for (const rule of rules) {
      const matching = rule.scenario === '*' ? results : rule.scenario === 'app' ? results.filter((r) => r.server === 'app') : results.filter((r) => r.name === rule.scenario)
      const limit = rule.max ?? rule.min ?? 0
      const bound = `${rule.max !== undefined ? '≤' : '≥'} ${rule.relativeTo ? `${limit.toFixed(2)} × ${rule.relativeTo}'s` : formatValue(rule.metric, limit)}`
      const labelFor = (name: string) => `${name} ${METRIC_LABELS[rule.metric] ?? rule.metric} ${bound}`
      // The page-Nw rows exist only with --workers: say how to get them instead of skipping.
      if (matching.length === 0 && workersOf(rule.scenario) !== null) {
        checks.push({ kind, label: labelFor(rule.scenario), value: null, pass: null, note: WORKERS_NEEDED })
        continue
      }
      for (const result of matching) {
        const label = labelFor(result.name)
        if (rule.connections !== undefined && rule.connections !== result.connections) {
          checks.push({ kind, label, value: null, pass: null, note: `applies at ${rule.connections} connections; ran at ${result.connections}` })
          continue
        }
        const value = metricOf(result, rule.metric, results)
        if (value === null) {
          // Only say so when it matters: a missing number for an explicit scenario.
          if (rule.scenario !== '*' && rule.scenario !== 'app') checks.push({ kind, label, value, pass: null, note: NEEDS[rule.metric] ?? 'not measured in this run' })
          continue
        }
        if (rule.relativeTo) {
          checks.push(relativeCheck(kind, label, rule, result, value, results))
          continue
        }
        const pass = (rule.max === undefined || value <= rule.max) && (rule.min === undefined || value >= rule.min)
        // The zero-error checks are one line each when everything passes.
        checks.push({ kind, label, value, pass, note: formatValue(rule.metric, value) })
      }
    }
  }
  return collapsePassing(checks)
}

/** A bound that is a multiple of another row's same metric, measured in the same run. */
function relativeCheck(kind: Check['kind'], label: string, rule: TargetRule, result: ScenarioResult, value: number, all: ScenarioResult[]): Check {
  const name = rule.relativeTo === 'ceiling' ? result.ceiling ?? ceilingOf(result.name) : rule.relativeTo!
  const reference = all.find((r) => r.name === name)
  if (!reference) return { kind, label, value: null, pass: null, note: `${name ?? 'its ceiling'} did not run` }
  if (reference.connections !== result.connections) {
    return { kind, label, value: null, pass: null, note: `${name} ran at ${reference.connections} connections, ${result.name} at ${result.connections}` }
  }
  const base = metricOf(reference, rule.metric, all)
  if (base === null || base <= 0) return { kind, label, value: null, pass: null, note: `no ${METRIC_LABELS[rule.metric] ?? rule.metric} for ${name}` }
  const times = value / base
  const pass = (rule.max === undefined || times <= rule.max) && (rule.min === undefined || times >= rule.min)
  return { kind, label, value: times, pass, note: `${formatValue(rule.metric, value)} = ${times.toFixed(2)} × ${name}'s ${formatValue(rule.metric, base)}` }
}

/**
 * What a page-1w request costs in CPU (server, Redis, load generator), and the most req/s the
 * machine's cores could give the largest --workers run at that cost: whether a scaling target
 * is reachable here at all. The kernel's loopback work is not counted: the real bound is lower.
 */
export function cpuBudget(one: ScenarioResult, workers: number, cores: number): Record<string, string> {
  const perRequest = (used: number | null) => (used === null ? null : (used / one.rps) * 1e6)
  const [server, redis, generator] = [one.cpuPerResponseUs, perRequest(one.redisCpu), perRequest(one.generatorCpu)]
  const us = (value: number | null) => (value === null ? '–' : value.toFixed(0))
  const budget: Record<string, string> = { [`CPU per request (µs), ${one.name}`]: `server ${us(server)}, redis ${us(redis)}, load generator ${us(generator)}` }
  if (server === null || redis === null || generator === null) return budget
  const serverCores = Math.min(workers, cores)
  const left = cores - serverCores
  // Everything on the same cores: one sum. Else the server's cores and the others' bound separately.
  const [bound, how] = left === 0
    ? [(cores * 1e6) / (server + redis + generator), `${cores} cores / (${us(server)} + ${us(redis)} + ${us(generator)}) µs`]
    : [Math.min((serverCores * 1e6) / server, (left * 1e6) / (redis + generator)), `min(${serverCores} / ${us(server)} µs for the server, ${left} / (${us(redis)} + ${us(generator)}) µs for the rest) cores`]
  const where = left === 0 ? `with everything on ${cores} cores` : `with the server on ${serverCores} cores, redis and the load generator on ${left}`
  budget[`CPU bound, ${workersScenario(workers)}`] = `at most ${how} = ${int(bound)} req/s ${where}: ${(bound / one.rps).toFixed(2)}× ${one.name}`
  return budget
}

/** "* errors ≤ 0" would be one line per scenario: keep the misses, fold the passes into one line. */
function collapsePassing(checks: Check[]): Check[] {
  const out: Check[] = []
  const folded = new Map<string, Check[]>()
  for (const check of checks) {
    const generic = /^(\S+) (errors|non-2xx) /.exec(check.label)
    if (generic && check.pass === true) {
      const key = `${check.kind}|${check.label.slice(generic[1]!.length + 1)}`
      folded.set(key, [...(folded.get(key) ?? []), check])
    } else {
      out.push(check)
    }
  }
  for (const [key, group] of folded) {
    const [kind, rest] = key.split('|') as ['enforced' | 'goal', string]
    out.push({ kind, label: `every scenario: ${rest}`, value: 0, pass: true, note: `${group.length} scenarios` })
  }
  return out
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : '–')
const int = (value: number) => Math.round(value).toLocaleString('en-US')
const mb = (bytes: number | null) => (bytes === null ? '–' : `${(bytes / 2 ** 20).toFixed(0)} MB`)
const pct = (cores: number | null) => (cores === null ? '–' : `${Math.round(cores * 100)}%`)

const us = (value: number | null) => (value === null ? '–' : value.toFixed(1))
const times = (value: number | null) => (value === null ? '–' : `${value.toFixed(2)}×`)

const COLUMNS = ['scenario', 'conns', 'requests', 'server CPU µs/resp', 'CPU × ceiling', 'req/s', 'req/s × ceiling', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors', 'non-2xx', 'peak RSS', 'loop p99 ms', 'cache hits', 'server CPU', 'redis CPU', 'bench CPU', 'other CPU'] as const

function rows(results: ScenarioResult[]): string[][] {
  return results.map((r) => [
    r.name,
    String(r.connections),
    int(r.requests),
    us(r.cpuPerResponseUs),
    r.cpuRatio === null ? '–' : `${times(r.cpuRatio)} ${r.ceiling}`,
    int(r.rps),
    times(r.ratio),
    ms(r.latencyMs.p50),
    ms(r.latencyMs.p90),
    ms(r.latencyMs.p99),
    ms(r.latencyMs.max),
    int(r.errors),
    int(r.unexpected),
    mb(r.peakRssBytes),
    r.loopDelayP99Ms === null ? '–' : ms(r.loopDelayP99Ms),
    pct(r.cacheHitShare),
    pct(r.serverCpu),
    pct(r.redisCpu),
    pct(r.generatorCpu),
    pct(r.otherCpu),
  ])
}

export function terminalTable(results: ScenarioResult[]): string {
  const body = rows(results)
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')
  return [line(COLUMNS), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}

export function markdownTable(results: ScenarioResult[]): string {
  const align = COLUMNS.map((_, i) => (i === 0 ? ':--' : '--:'))
  return [`| ${COLUMNS.join(' | ')} |`, `| ${align.join(' | ')} |`, ...rows(results).map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

export function checksText(checks: Check[], markdown = false): string {
  const mark = (c: Check) => (c.pass === null ? 'n/a ' : c.pass ? 'PASS' : c.kind === 'enforced' ? 'FAIL' : 'MISS')
  return checks
    .map((c) => {
      const text = `${mark(c)}  ${c.kind === 'goal' ? '(goal) ' : ''}${c.label}${c.note ? `: ${c.note}` : ''}`
      return markdown ? `- ${text}` : `  ${text}`
    })
    .join('\n')
}

export function machineLines(report: RunReport): string[] {
  const m = report.machine
  return [
    `CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; kernel ${m.kernel}`,
    `Node ${m.node}; Redis ${m.redis}; commit ${m.commit}`,
    `Confinement: ${report.confinement}`,
    `Data: ${Object.entries(report.data).map(([k, v]) => `${k}: ${typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 1 }) : v}`).join('; ')}`,
  ]
}

const MEANING = `What the columns mean: **server CPU µs/resp** is the server's CPU time (user + system, every
thread; every process of a \`page-Nw\` server) over the measured window, divided by the responses
(the probe's 1 MiB creates included): what one response costs the server, whatever else bounds
req/s. **CPU × ceiling** divides it by the same figure of a bare Fastify process on the same
Node, confinement and load generator, serving a fixed body of the same size (\`ceiling\`: a small
paste's page; \`ceiling-raw\`: its raw text; \`ceiling-create\`: a 2 KB JSON POST answered 201),
so it shows what the app's own work costs; for \`page-Nw\` (\`--workers\`: the page scenario
against WORKERS=N confined to N CPUs) it divides by \`page-1w\` instead: whether a view costs
more CPU with N processes. **req/s** is responses per second over the measured window (after a
warm-up), and **req/s × ceiling** its ratio to the same row: on 2 cores the load generator and
Redis share one core, so it flattens towards what that core allows.
Latencies are per response, measured with hrtime at 0.01 ms resolution, from the load
generator's side (they include the generator's own queueing). **peak RSS** is the server's
resident memory, sampled every 100 ms (with \`--url\`, read from /metrics after the scenario
instead; for \`page-Nw\` with N > 1, the proportional set sizes of the primary and its workers,
summed, so the pages they share count once). **loop p99** is the server's event-loop delay p99 over the scenario, from
/metrics (not for \`page-Nw\` with N > 1: a scrape reaches one worker). **server CPU** is the
server's CPU time over wall time (100% = one core; every process of a \`page-Nw\` server),
**redis CPU** the same for redis-server; **bench CPU** is the load generator's: near 100%, the
generator, not the server, may be what limits req/s. **other CPU** is what every other process
on the machine used meanwhile (Redis and the kernel's threads excluded): above ~15%, something
else competed for the cores and the row is noisy.`

export function markdownReport(report: RunReport, chartFile: string | null): string {
  return [
    `# redbin bench, ${report.startedAt}`,
    '',
    `\`${report.command}\`, ${Math.round(report.seconds)} s.`,
    '',
    ...machineLines(report).map((l) => `- ${l}`),
    '',
    ...resultsAndTargets(report, chartFile),
  ].join('\n')
}

/** The headline: what a response costs the server, against its ceiling. */
export function efficiencyLines(results: ScenarioResult[]): string[] {
  return results
    .filter((r) => r.server === 'app' && r.cpuPerResponseUs !== null)
    .map((r) => {
      const ceiling = results.find((c) => c.name === r.ceiling)
      const against = r.cpuRatio !== null && ceiling ? `: ${times(r.cpuRatio)} ${ceiling.name} (${us(ceiling.cpuPerResponseUs)} µs)` : ''
      return `- **${r.name}**: ${us(r.cpuPerResponseUs)} µs of server CPU per response${against}`
    })
}

/** The headline, the table, the target checks, the chart and what the columns mean: both reports end so. */
function resultsAndTargets(report: RunReport, chartFile: string | null): string[] {
  const efficiency = efficiencyLines(report.results)
  return [
    ...(efficiency.length > 0 ? ['Server CPU per response, against its ceiling (the efficiency figure):', '', ...efficiency, ''] : []),
    markdownTable(report.results),
    '',
    '## Targets (bench/targets.json)',
    '',
    checksText(report.checks, true),
    '',
    ...(chartFile ? [`![latency and throughput](${chartFile})`, ''] : []),
    MEANING,
    '',
  ]
}

export function baselineMarkdown(report: RunReport): string {
  return [
    '# Bench baseline',
    '',
    `The latest numbers from \`npm run bench -- --baseline\`, written by the harness (do not edit by`,
    `hand; rerun it). Measured ${report.startedAt} in ${Math.round(report.seconds)} s with \`${report.command}\`.`,
    '',
    '## Machine',
    '',
    ...machineLines(report).map((l) => `- ${l}`),
    '',
    '## Results',
    '',
    ...resultsAndTargets(report, null),
  ].join('\n')
}

// ——— The SVG chart: hand-written, no dependencies, readable in any browser. ———

const escapeXml = (text: string) => text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)

export function svgChart(report: RunReport): string {
  const results = report.results
  const width = 960
  const left = 130
  const right = 40
  // Labels live in a column of their own at the right, so they never cover a marker.
  const labels = 120
  const plot = width - left - right - labels
  const rowHeight = 26
  const top1 = 90
  const height1 = results.length * rowHeight
  const top2 = top1 + height1 + 90
  const height2 = results.length * rowHeight
  const height = top2 + height2 + 60
  const out: string[] = []
  const text = (x: number, y: number, s: string, attrs = '') => out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(s)}</text>`)

  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`)
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/>`)
  text(left, 20, `redbin bench — ${report.startedAt} — commit ${report.machine.commit}`, 'font-size="13" font-weight="600"')
  text(left, 36, `${report.machine.cpu}, ${report.machine.cores} cores; ${report.confinement.split(' (')[0]}`, 'fill="#666" font-size="11"')

  // Panel 1, the headline: server CPU per response against its ceiling's, linear scale.
  const ceilingCost = (r: ScenarioResult) => results.find((c) => c.name === r.ceiling)?.cpuPerResponseUs ?? null
  // The scale comes from the rows that compare: the probe's figure (1 MiB creates among page
  // views) would squash every other bar. A row beyond it is drawn to the edge.
  const compared = results.filter((r) => r.server === 'ceiling' || r.cpuRatio !== null).map((r) => r.cpuPerResponseUs ?? 0)
  const peak = Math.max(1, ...compared)
  const bx = (v: number) => left + (plot - 60) * Math.min(1, v / peak)
  text(left, top1 - 30, 'Server CPU per response (µs, bar) against its ceiling, or page-1w for page-Nw (outline)', 'font-weight="600"')
  results.forEach((r, i) => {
    const y = top1 + i * rowHeight + 4
    const h = rowHeight - 8
    text(left - 8, y + h / 2 + 4, r.name, 'text-anchor="end"')
    const base = ceilingCost(r)
    if (base !== null) out.push(`<rect x="${left}" y="${y}" width="${bx(base) - left}" height="${h}" fill="none" stroke="#999" stroke-dasharray="4 3"/>`)
    if (r.cpuPerResponseUs === null) return
    out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, bx(r.cpuPerResponseUs) - left)}" height="${h}" fill="${r.server === 'ceiling' ? '#bbb' : '#2e86c1'}"/>`)
    const label = `${us(r.cpuPerResponseUs)} µs${r.cpuRatio !== null ? ` · ${times(r.cpuRatio)} ${r.ceiling}` : ''} · ${int(r.rps)} req/s`
    text(Math.max(bx(r.cpuPerResponseUs), base !== null ? bx(base) : 0) + 6, y + h / 2 + 4, label, 'fill="#333" font-size="11"')
  })

  // Panel 2: latency percentiles, log scale.
  const finite = results.flatMap((r) => [r.latencyMs.p50, r.latencyMs.max]).filter((v) => Number.isFinite(v) && v > 0)
  const lo = 10 ** Math.floor(Math.log10(Math.min(...finite, 1)))
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...finite, 1)))
  const x = (v: number) => left + (plot * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo))
  text(left, top2 - 30, 'Latency per response (ms, log scale): ● p50  ■ p90  ◆ p99  | max', 'font-weight="600"')
  for (let decade = lo; decade <= hi; decade *= 10) {
    out.push(`<line x1="${x(decade)}" y1="${top2 - 12}" x2="${x(decade)}" y2="${top2 + height2}" stroke="#ddd"/>`)
    text(x(decade), top2 - 16, decade >= 1 ? String(decade) : decade.toFixed(-Math.log10(decade)), 'text-anchor="middle" fill="#666"')
  }
  results.forEach((r, i) => {
    const y = top2 + i * rowHeight + rowHeight / 2
    const { p50, p90, p99, max } = r.latencyMs
    text(left - 8, y + 4, r.name, 'text-anchor="end"')
    if (!Number.isFinite(p50)) return
    const colour = r.server === 'ceiling' ? '#999' : '#c0392b'
    out.push(`<line x1="${x(p50)}" y1="${y}" x2="${x(max)}" y2="${y}" stroke="${colour}" stroke-opacity="0.35" stroke-width="2"/>`)
    out.push(`<circle cx="${x(p50)}" cy="${y}" r="4" fill="${colour}"/>`)
    out.push(`<rect x="${x(p90) - 4}" y="${y - 4}" width="8" height="8" fill="${colour}"/>`)
    out.push(`<path d="M${x(p99)} ${y - 5} l5 5 l-5 5 l-5 -5z" fill="${colour}"/>`)
    out.push(`<line x1="${x(max)}" y1="${y - 6}" x2="${x(max)}" y2="${y + 6}" stroke="${colour}" stroke-width="2"/>`)
    text(left + plot + 12, y + 4, `p99 ${ms(p99)} ms`, 'fill="#333" font-size="11"')
  })
  text(left, height - 24, 'Latencies at 0.01 ms resolution, from the load generator. Ceilings: bare Fastify on the same Node, confinement and load generator.', 'fill="#666" font-size="11"')
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
