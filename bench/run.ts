// `npm run bench`: builds and starts redbin in production mode on a private redis-server,
// confined like the target container (1 CPU, 2 GB), seeds realistic pastes, runs each scenario
// with autocannon, and checks bench/targets.json. `--url` measures a server that already runs
// (docker compose's bench profile) instead. `--workers 1,2` then measures the page scenario
// against WORKERS=N on N CPUs, to see how node:cluster scales. See `npm run bench -- --help`.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import type { Request } from 'autocannon'
import { loadConfig } from '../src/config.js'
import { connectRedis } from '../src/redis/client.js'
import { affinityOf, confine, pinProcess, type Confinement } from './confine.js'
import { Corpus, randomGenerator } from './corpus.js'
import { http } from './http.js'
import { runAlternating, runLoad, serverPids, type LoadResult, type LoadSpec, type LoadTarget, type Turn } from './load.js'
import { describeMachine } from './machine.js'
import { parseOptions, REALISTIC_PASTES, USAGE, UsageError, type Options } from './options.js'
import { cleanupAll, cleanupOnSignals, freePort, onCleanup, run, startProcess, stopProcess, waitForHttp, type Started } from './processes.js'
import { progress } from './progress.js'
import { banner, BUSY_MACHINE_CORES, otherLoad, waitForQuiet } from './quiet.js'
import { baselineMarkdown, checksText, checkTargets, compareToCeilings, cpuBudget, cpuPerResponseUs, efficiencyLines, loadTargets, markdownReport, nameMedian, nameMedianRound, nameMedianWorkersRound, svgChart, terminalTable, type Round, type RunReport, type ScenarioResult } from './report.js'
import { bigCreates, controlScenario, createRequests, fixedRequest, listRequests, mixedRequests, pageRequests, rawRequests, SCENARIOS, titleOf, workersScenario, WORKERS_BASE, type ScenarioName } from './scenarios.js'
import { serverNodeFlags, serverStartEnv, startRedis } from './servers.js'
import { clearPrefix, createBody, deleteThroughApi, deleteWithModel, fetchBodies, growWithModel, seedThroughApi, waitForRenderedPages, waitForRenderQueue, writeCeilingFiles, type SeededPaste } from './seed.js'

const BENCH_DIR = new URL('.', import.meta.url).pathname
const ROOT = new URL('..', import.meta.url).pathname
const SCALE_FIRST_STEP = 1_000
/**
 * The scale variant's list runs go 1k, N, N, 1k this many times. Runs of the same server a
 * minute apart differ by up to 40% on this shared machine; the means of 4 runs each agree.
 */
const LIST_CYCLES = 2
const LIST_PAGE_SIZE = 20
const DEEP_LIST_PAGE = 200
/**
 * Page and raw alternate with their ceilings in windows this long (ceilingRounds), as the paced
 * worker rows do with each other (workersRound): short enough
 * that the machine's speed hardly moves between the two, long enough (~10k responses) that each
 * window's CPU, read from /proc in 10 ms ticks, is exact to 2%.
 */
const PAIRED_WINDOW_SECONDS = 1
const SEED_REQUESTS = 10_000
const SEED_CONNECTIONS = 5
/**
 * The seed test's windows (runAlternating): 5 of each run's 10,000 views, 0.1-0.2 s of views
 * each, a second apart (autocannon resolves a run at its next one-second tick). Only its req/s
 * and latencies are targets: a window's CPU, read in 10 ms ticks, is a rough figure.
 */
const SEED_WINDOW_REQUESTS = 2_000
const PROBE_CONNECTIONS = 10
/** The container's memory, for every confinement (N workers share it as they would there). */
const MEMORY_BYTES = 2 * 2 ** 30

/** Notes for the error message when the run fails (where the server's log went). */
const onFailure: (() => string)[] = []

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '').replace(/[-:]/g, '').replace('T', '-')
}

async function bench(options: Options): Promise<number> {
  const startedAt = new Date()
  const random = randomGenerator(options.seed)
  const wanted = (name: ScenarioName) => options.only === null || options.only.has(name)
  const local = options.url === null
  const results: ScenarioResult[] = []
  const data: Record<string, number | string> = {}
  const say = (message: string) => progress.log(message)

  say(`redbin bench: ${options.pastes.toLocaleString('en-US')} pastes, ${options.duration} s per scenario after ${options.warmup} s warm-up, ${options.connections} connections`)
  const busy = await otherLoad()
  if (busy !== null && busy > BUSY_MACHINE_CORES) {
    say(banner([`WARNING: this machine is already busy (${busy.toFixed(1)} cores in use by other processes).`, 'They compete with the server and the load generator: expect noisy numbers.', 'See the "other CPU" column.']))
  }
  const cores = cpus().length
  const tooMany = options.workers?.filter((n) => n > cores) ?? []
  if (tooMany.length > 0) {
    say(banner([`WARNING: --workers ${tooMany.join(',')}: more than this machine's ${cores} cores.`, 'Such a server gets every core, shared with Redis and the load generator:', 'its row measures processes competing for cores, not scaling.']))
  }

  // ——— Where the server runs ———
  const tmp = mkdtempSync(join(tmpdir(), 'redbin-bench-'))
  onCleanup('remove the temporary directory', () => rmSync(tmp, { recursive: true, force: true }))
  let confinement: Confinement | null = null
  if (local) {
    confinement = await confine({ cpuPeriodUs: options.cpuPeriodUs, memoryBytes: MEMORY_BYTES })
    const release = confinement.release
    onCleanup('remove the cgroups', () => release())
    say(`confinement: ${confinement.description}${confinement.groups.length > 0 ? ` (${confinement.groups.join(', ')})` : ''}`)
    if (confinement.kind === 'none') {
      say(banner(['WARNING: the server is NOT confined: not root with cgroups, and no taskset.', 'It may use every core and all memory: these numbers are not comparable', 'with the 1-CPU, 2 GB container or with bench/BASELINE.md.']))
    } else if (confinement.kind === 'taskset') {
      say(banner(['NOTE: only taskset applied (run as root on Linux for the 1-CPU, 2 GB cgroup).', 'CPU is confined to one core; memory is not limited.']))
    }
    if (confinement.otherCores) await pinProcess(process.pid, confinement.otherCores)
  } else {
    say(banner([`Measuring the server at ${options.url}: it is not started, built or confined here,`, 'and there is no ceiling. Seeded pastes are deleted at the end; the pastes that', 'create, mixed and probe make expire after an hour.']))
  }

  // ——— Redis ———
  let redisUrl = process.env.REDIS_URL || null
  let redisPid: number | null = null
  const prefix = local ? 'bench:' : process.env.REDIS_PREFIX || 'redbin:'
  if (local && !redisUrl) {
    const redis = await startRedis(tmp, confinement?.otherCores ?? null)
    redisUrl = redis.url
    redisPid = redis.process.pid
    say(`redis-server on ${redisUrl} (AOF everysec, noeviction${confinement?.otherCores ? `, cores ${confinement.otherCores}` : ''})`)
  } else if (local) {
    say(`using REDIS_URL (keys under ${prefix})`)
  }
  let redis: Redis | null = null
  if (redisUrl) {
    const client = await connectRedis(redisUrl, { commandTimeoutMs: 60_000 })
    redis = client
    onCleanup('close the Redis client', async () => { await client.quit().catch(() => client.disconnect()) })
  }
  if (local && process.env.REDIS_URL && redis) {
    const client = redis
    const removed = await clearPrefix(client, prefix)
    if (removed > 0) say(`removed ${removed} keys left under ${prefix} by an earlier run`)
    onCleanup(`delete the ${prefix} keys`, async () => { await clearPrefix(client, prefix) })
  }

  // ——— The server ———
  let baseUrl: string
  /** The app server running (or last run): a failure keeps its log; `stopped` when we stopped it. */
  const current: { server: Started | null; stopped: boolean } = { server: null, stopped: false }
  /** Replaces the app server with a fresh process on the same port and data; returns its pid. */
  let restartApp: (() => Promise<number>) | null = null
  /**
   * Starts another app server, `name`, beside the app server, on a port of its own, confined by
   * `wrap`, with `env` added (the keys under another prefix, other WORKERS); the caller stops it.
   */
  let startSideServer: ((name: string, wrap: Confinement['wrap'], env: Record<string, string>) => Promise<{ started: Started; url: string }>) | null = null
  const stopApp = async () => {
    if (!current.server) return
    await stopProcess(current.server.child, 15_000)
    current.stopped = true
  }
  if (local) {
    progress.phase('npm run build', 1, '')
    await run('npm', ['run', 'build', '--silent'], { cwd: ROOT })
    progress.done()
    const port = await freePort()
    baseUrl = `http://127.0.0.1:${port}`
    const env = {
      ...process.env,
      ...serverStartEnv,
      NODE_ENV: 'production', REDIS_URL: redisUrl!, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: baseUrl,
      RATE_LIMIT_CREATES_PER_MINUTE: '0', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', REDIS_PREFIX: prefix, DATA_DIR: join(tmp, 'data'),
    }
    const profileDir = join(BENCH_DIR, 'results', 'profiles')
    if (options.profile) mkdirSync(profileDir, { recursive: true })
    const nodeArgs = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
    const program = [process.execPath, ...serverNodeFlags, ...nodeArgs, join(ROOT, 'dist/server.js')]
    const url = baseUrl
    const spawn = (name: string, wrap: Confinement['wrap'], extraEnv: Record<string, string>, logName: string) =>
      startProcess(name, wrap(program), { env: { ...env, ...extraEnv }, cwd: ROOT, logFile: join(tmp, logName), graceMs: 15_000 })
    /** Starts the app server, confined the bench's way, and waits until it is ready. */
    const launch = async () => {
      const started = spawn('redbin', confinement!.wrap, {}, 'server.log')
      current.server = started
      current.stopped = false
      await waitForHttp(`${url}/readyz`, started)
      return started
    }
    startSideServer = async (name, wrap, extraEnv) => {
      const port = await freePort()
      const sideUrl = `http://127.0.0.1:${port}`
      const started = spawn(`redbin (${name})`, wrap, { ...extraEnv, PORT: String(port), PUBLIC_URL: sideUrl }, `server-${name}.log`)
      await waitForHttp(`${sideUrl}/readyz`, started)
      return { started, url: sideUrl }
    }
    await launch()
    restartApp = async () => {
      await stopApp()
      return (await launch()).pid
    }
    // If the run fails, the server's log says why: keep it next to the results.
    onFailure.push(() => {
      const server = current.server
      if (!server) return 'the server never started'
      const exited = !current.stopped && (server.child.exitCode !== null || server.child.signalCode !== null)
      const saved = join(BENCH_DIR, 'results', `${timestamp(startedAt)}-server.log`)
      mkdirSync(join(BENCH_DIR, 'results'), { recursive: true })
      copyFileSync(server.logFile, saved)
      return `${exited ? `the server exited (${server.child.exitCode ?? server.child.signalCode}) during the run; ` : ''}its log: ${saved}`
    })
    data['started as npm start'] = [...Object.entries(serverStartEnv).map(([k, v]) => `${k}=${v}`), 'node', ...serverNodeFlags].join(' ')
    say(`redbin (NODE_ENV=production${serverNodeFlags.length > 0 ? `, node ${serverNodeFlags.join(' ')}` : ''}) on ${baseUrl}, pid ${current.server?.pid}`)
  } else {
    baseUrl = options.url!
    await waitForHttp(`${baseUrl}/healthz`, null, 10_000)
  }
  const metricsText = await http('GET', `${baseUrl}/metrics`).then((r) => (r.status === 200 ? r.text() : ''), () => '')
  const app: LoadTarget = { baseUrl, pid: current.server?.pid ?? null, metrics: metricsText.includes('redbin_'), ours: redisPid ? [redisPid] : [], redisPid }

  /** A run's result as a row of the report. */
  const record = (name: string, server: 'app' | 'ceiling', connections: number, result: LoadResult) => {
    // The probe's 1 MiB creates are responses too, and the CPU they cost is in serverCpu.
    const responses = result.requests + Number(result.notes.bigCreates ?? 0)
    const cpu = cpuPerResponseUs(result.serverCpu, result.seconds, responses)
    const scenario: ScenarioResult = { name, title: titleOf(name), connections, server, ceiling: null, ratio: null, cpuPerResponseUs: cpu, cpuRatio: null, ...result }
    results.push(scenario)
    say(`  ${name.padEnd(15)} ${Math.round(result.rps).toLocaleString('en-US').padStart(8)} req/s  ${cpu === null ? '' : `${cpu.toFixed(1)} µs CPU/resp  `}p50 ${result.latencyMs.p50.toFixed(2)}  p99 ${result.latencyMs.p99.toFixed(2)} ms  errors ${result.errors}  non-2xx ${result.unexpected}`)
    return scenario
  }
  const measure = async (name: string, target: LoadTarget, server: 'app' | 'ceiling', spec: Omit<LoadSpec, 'name' | 'warmupSeconds' | 'duration'> & { duration?: number }) => {
    if (target.pid !== null) await waitForQuiet([...await serverPids(target), ...target.ours])
    return record(name, server, spec.connections, await runLoad(target, { name, warmupSeconds: options.warmup, duration: options.duration, ...spec }))
  }
  /**
   * Runs that take turns in windows of `turn` (runAlternating), once the machine is quiet, each
   * recorded as a row under its spec's name. While one runs the others idle: their processes
   * count as ours, not as other load.
   */
  const measureInTurns = async <const Runs extends readonly { server: 'app' | 'ceiling'; target: LoadTarget; spec: LoadSpec }[]>(runs: Runs, turn: Turn) => {
    const pids = await Promise.all(runs.map(({ target }) => serverPids(target)))
    await waitForQuiet([...pids.flat(), ...app.ours])
    const others = (i: number) => pids.filter((_, j) => j !== i).flat()
    const results = await runAlternating(runs.map(({ target, spec }, i): [LoadTarget, LoadSpec] => [{ ...target, ours: [...new Set([...target.ours, ...others(i)])] }, spec]), turn)
    return runs.map(({ server, spec }, i) => record(spec.name, server, spec.connections, results[i]!)) as { -readonly [K in keyof Runs]: ScenarioResult }
  }

  // ——— Data ———
  const corpus = new Corpus(random, ROOT)
  say(`corpus: ${corpus.fileCount} source files on this machine`)
  const scale = options.pastes > REALISTIC_PASTES
  const realistic = Math.min(options.pastes, REALISTIC_PASTES)
  const seeded: SeededPaste[] = []
  let deepPage = 1
  const renderWait = (ids: string[]) => waitForRenderedPages(app, ids, redis && { client: redis, prefix })
  // A full page (the last one may hold a few items only), at most DEEP_LIST_PAGE deep.
  const deepPageOf = (publicPastes: number) => Math.max(1, Math.min(DEEP_LIST_PAGE, Math.floor(publicPastes / LIST_PAGE_SIZE)))
  if (!local) onCleanup('delete the seeded pastes', () => deleteThroughApi(baseUrl, seeded))
  const scaleRedis = () => {
    if (!redis) throw new UsageError('the scale variant writes through the model layer: set REDIS_URL (and REDIS_PREFIX) to the server\'s Redis')
    return redis
  }
  const grown: string[] = []
  if (!local && scale) onCleanup('delete the scale pastes', () => deleteWithModel(scaleRedis(), prefix, grown))

  // The scale variant's list@1k: 1,000 pastes written like the growth (through the model, all
  // public), so that both lists show pastes of one kind on the same pages and only their number
  // differs. Measured against the API's titled pastes, the 1k run rendered other items and a
  // shorter last page. Locally they go under a prefix of their own, listed by a second server
  // after the growth, in runs alternating with the 1M list (below): one 10 s run differs from
  // the next by up to 40% on this machine, so before/after runs minutes apart cannot resolve
  // the 10% target. With --url they are listed before the growth instead.
  const listPrefix = local ? `${prefix}list1k:` : prefix
  const listPastes: string[] = []
  if (scale && wanted('list')) {
    for (const id of await growWithModel(scaleRedis(), listPrefix, corpus, random, SCALE_FIRST_STEP)) listPastes.push(id)
    deepPage = deepPageOf(SCALE_FIRST_STEP)
    if (!local) {
      grown.push(...listPastes)
      await measure('list@1k', app, 'app', { connections: options.connections, requests: listRequests(deepPage) })
    }
  }
  const seedStarted = performance.now()
  seeded.push(...await seedThroughApi(baseUrl, corpus, random, realistic - seeded.length))
  data['seeded through the API'] = seeded.length
  data['seeding (s)'] = Math.round((performance.now() - seedStarted) / 100) / 10
  const renderStarted = performance.now()
  await renderWait(seeded.map((p) => p.id))
  data['render wait (s)'] = Math.round((performance.now() - renderStarted) / 100) / 10
  if (!scale) deepPage = deepPageOf(seeded.filter((p) => p.visibility === 'public').length)

  const small = seeded.filter((p) => p.bucket === 'small')
  const pageIds = shuffle(small.map((p) => p.id), random)
  const typical = [...small].sort((a, b) => a.bytes - b.bytes)[Math.floor(small.length / 2)]!
  const createBodies = Array.from({ length: 64 }, () => Buffer.from(createBody(corpus, random, 2048, random() < 0.5 ? 'public' : 'unlisted', '1h')))
  const bigBodies = Array.from({ length: 4 }, () => createBody(corpus, random, 1024 * 1024 - 4096, 'unlisted', '1h'))
  data['seeded content (bytes)'] = seeded.reduce((sum, p) => sum + p.bytes, 0)
  data['public pastes'] = seeded.filter((p) => p.visibility === 'public').length
  data['small-bucket ids in rotation'] = pageIds.length
  data['seed scenario\'s paste (bytes)'] = typical.bytes

  if (scale) {
    const growStarted = performance.now()
    // Not push(...ids): a million arguments overflow the stack.
    for (const id of await growWithModel(scaleRedis(), prefix, corpus, random, options.pastes - seeded.length - grown.length)) grown.push(id)
    data['growing (s)'] = Math.round((performance.now() - growStarted) / 100) / 10
    data['written through the model'] = grown.length
  }
  data['list deep page'] = deepPage
  let listDone = false
  if (scale && wanted('list')) {
    const list = (name: string, target: LoadTarget) => measure(name, target, 'app', { connections: options.connections, requests: listRequests(deepPage) })
    if (startSideServer && restartApp && app.pid !== null) {
      // Two fresh processes started together, so that only the data differs: the app server,
      // after seeding 10,000 pastes, listed N ~9% faster than the new process listed 1k.
      app.pid = await restartApp()
      const side = await startSideServer('list-1k', confinement!.wrap, { REDIS_PREFIX: listPrefix })
      const small: LoadTarget = { ...app, baseUrl: side.url, pid: side.started.pid, ours: [...app.ours, app.pid] }
      const big: LoadTarget = { ...app, ours: [...app.ours, side.started.pid] }
      // A, B, B, A, twice: a steady drift of the machine cancels out, and bursts average out.
      const nth = (name: string, n: number) => (n === 1 ? name : `${name}#${n}`)
      for (let cycle = 0; cycle < LIST_CYCLES; cycle++) {
        await list(nth('list@1k', 2 * cycle + 1), small)
        await list(nth('list', 2 * cycle + 1), big)
        await list(nth('list', 2 * cycle + 2), big)
        await list(nth('list@1k', 2 * cycle + 2), small)
      }
      await stopProcess(side.started.child)
    } else {
      await list('list', app)
    }
    listDone = true
  }
  data['RSS'] = app.pid !== null ? 'peak, /proc every 100 ms' : 'from /metrics after each scenario (not a peak)'

  /**
   * The seed test, in `--seed-rounds` rounds of ceiling-seed and seed. At 5 connections each view
   * waits on its round trip, and on some machines that wait is the machine's: on one VM, bare
   * Fastify ran the test at 5.0k req/s in 9 runs of 10 and at 9.9k in the other, whatever it
   * served. A single pair compared the modes the two rows landed in, not the servers. Within a
   * round the two take turns in windows of SEED_WINDOW_REQUESTS views (runAlternating), each
   * summed over its 10,000: run one after the other, the ceiling's rounds read 23.6k, 24.7k,
   * 13.5k, 10.4k and 14.9k req/s within two minutes (2026-12-06, 10:40), and the rounds' ratios
   * 0.49-1.09. The row named `seed` (and its `ceiling-seed`) is the round whose ratio is the
   * median; the other rounds stay in the table as `seed#N` and `ceiling-seed#N`.
   */
  const seedRounds = async (ceiling: { target: LoadTarget } | null) => {
    const spec = { connections: SEED_CONNECTIONS, amount: SEED_REQUESTS, requests: fixedRequest(`/${typical.id}`) }
    const rounds: Round[] = []
    if (!ceiling) rounds.push({ ceiling: null, seed: await measure('seed#1', app, 'app', spec) })
    else {
      const run = (name: string): LoadSpec => ({ name, warmupSeconds: options.warmup, duration: options.duration, ...spec })
      for (let round = 1; round <= options.seedRounds; round++) {
        const [against, seed] = await measureInTurns([
          { server: 'ceiling', target: ceiling.target, spec: run(`ceiling-seed#${round}`) },
          { server: 'app', target: app, spec: run(`seed#${round}`) },
        ], { requests: SEED_WINDOW_REQUESTS })
        rounds.push({ ceiling: against, seed })
      }
    }
    const ratios = nameMedianRound(rounds, titleOf)
    if (ceiling) data[`seed rounds (seed ÷ ceiling-seed req/s, in order; alternating windows of ${SEED_WINDOW_REQUESTS.toLocaleString('en-US')} views)`] = ratios.map((r) => `${r.toFixed(2)}×`).join(', ')
  }
  /**
   * `name` and its ceiling in `--page-rounds` rounds, the round of median CPU ratio taking the
   * plain names, as the seed test's rounds do. Within a round the two alternate in windows of
   * PAIRED_WINDOW_SECONDS (runAlternating), the ceiling first: on a shared VM the CPU a response
   * costs drifts within a minute, and runs of 10 s one after the other compared the drift as
   * much as the servers (on 2026-12-06 the rounds of one run read 2.11, 0.97 and 1.55 ×). One
   * reading of the ceiling, minutes before the rows it is the reference of, was worse still (on
   * 2026-12-05 the ceiling read 12.3k req/s in one run and 21.7k in the next). Without the
   * ceiling (`--only page`), one run.
   */
  const ceilingRounds = async (name: string, ceilingName: string, requests: () => Request[]) => {
    const spec = () => ({ connections: options.connections, requests: requests() })
    if (!ceilingUp) {
      await measure(name, app, 'app', spec())
      return
    }
    const ceiling = ceilingUp.target
    const rounds: { ratio: number | null; rows: ScenarioResult[] }[] = []
    for (let round = 1; round <= options.pageRounds; round++) {
      const run = (runName: string): LoadSpec => ({ name: runName, warmupSeconds: options.warmup, duration: options.duration, ...spec() })
      const [against, row] = await measureInTurns([
        { server: 'ceiling', target: ceiling, spec: run(`${ceilingName}#${round}`) },
        { server: 'app', target: app, spec: run(`${name}#${round}`) },
      ], { seconds: PAIRED_WINDOW_SECONDS })
      const ratio = row.cpuPerResponseUs !== null && against.cpuPerResponseUs ? row.cpuPerResponseUs / against.cpuPerResponseUs : null
      rounds.push({ ratio, rows: [row, against] })
    }
    data[`${name} rounds (server CPU per response ÷ ${ceilingName}'s, in order; alternating windows of ${PAIRED_WINDOW_SECONDS} s)`] = rounds.map(({ ratio }) => (ratio === null ? 'n/a' : `${ratio.toFixed(2)}×`)).join(', ')
    nameMedian(rounds, titleOf)
  }
  /** The ceiling's process while seed, page and raw alternate with it. */
  let ceilingUp: { target: LoadTarget; stop: () => Promise<unknown> } | null = null

  // ——— The ceiling ———
  const steps = SCENARIOS.filter(wanted).filter((s) => (local || s !== 'ceiling') && !(listDone && s === 'list'))
  let step = 0
  const next = () => progress.setStep(++step, steps.length + (options.workers ? (options.workers.length + 1) * options.workerRounds : 0))

  if (local && wanted('ceiling')) {
    next()
    const bodies = await fetchBodies(baseUrl, pageIds)
    const ceilingFiles = writeCeilingFiles(tmp, bodies)
    data['ceiling bodies: pages, raw texts (mean bytes)'] = `${Math.round(bodies.pageBytes / pageIds.length).toLocaleString('en-US')}, ${Math.round(bodies.rawBytes / pageIds.length).toLocaleString('en-US')}`
    const [pageStart, rawStart, rawEnd] = bodies.index[typical.id]!
    data['seed scenario\'s page, raw text (bytes)'] = `${(rawStart - pageStart).toLocaleString('en-US')}, ${(rawEnd - rawStart).toLocaleString('en-US')}`
    const port = await freePort()
    const ceiling = startProcess('ceiling', confinement!.wrap([process.execPath, ...serverNodeFlags, join(BENCH_DIR, 'ceiling.js')]), {
      env: { ...process.env, ...serverStartEnv, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', ...ceilingFiles },
      cwd: ROOT,
      logFile: join(tmp, 'ceiling.log'),
    })
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, ceiling)
    const target: LoadTarget = { baseUrl: `http://127.0.0.1:${port}`, pid: ceiling.pid, metrics: true, ours: [...app.ours, ...(app.pid ? [app.pid] : [])], redisPid: null }
    // Page and raw measure theirs in rounds with them (ceilingRounds).
    if (!wanted('page')) await measure('ceiling', target, 'ceiling', { connections: options.connections, requests: pageRequests(pageIds) })
    if (!wanted('raw')) await measure('ceiling-raw', target, 'ceiling', { connections: options.connections, requests: rawRequests(pageIds) })
    await measure('ceiling-create', target, 'ceiling', { connections: options.connections, requests: createRequests(createBodies) })
    // The seed test, page and raw alternate with the ceiling below: it stays up until then.
    ceilingUp = { target, stop: () => stopProcess(ceiling.child) }
  }

  // ——— The scenarios ———
  try {
    if (wanted('seed')) {
      next()
      await seedRounds(ceilingUp)
    }
    if (wanted('page')) {
      next()
      await ceilingRounds('page', 'ceiling', () => pageRequests(pageIds))
    }
    if (wanted('raw')) {
      next()
      await ceilingRounds('raw', 'ceiling-raw', () => rawRequests(pageIds))
    }
  } finally {
    await ceilingUp?.stop()
  }
  if (wanted('list') && !listDone) {
    next()
    await measure('list', app, 'app', { connections: options.connections, requests: listRequests(deepPage) })
  }
  if (wanted('mixed')) {
    next()
    await measure('mixed', app, 'app', { connections: options.connections, requests: mixedRequests(pageIds, createBodies, random) })
    await waitForRenderQueue(app)
  }
  if (wanted('create')) {
    next()
    await measure('create', app, 'app', { connections: options.connections, requests: createRequests(createBodies) })
    await waitForRenderQueue(app)
  }
  if (wanted('probe')) {
    next()
    const result = await measure('probe', app, 'app', {
      connections: PROBE_CONNECTIONS,
      overallRate: options.probeViews,
      requests: pageRequests(pageIds),
      alongside: bigCreates(baseUrl, bigBodies, options.probeRate),
    })
    result.unexpected += Number(result.notes.bigCreateFailures ?? 0)
  }

  // ——— Scaling: the page scenario against WORKERS=N on N CPUs ———
  /** The servers' PAGE_CACHE_BYTES, as their config reads it: N workers share it out. */
  const pageCacheBytes = loadConfig({ ...process.env, ...serverStartEnv }).pageCacheBytes
  /**
   * A fresh WORKERS=N server, `name`, in its own N-CPU cgroup, on a port of its own; `helpers`
   * (Redis, us) moved aside. Every one is pinned to the cores of the largest N, so that the rows
   * differ in N alone: on 2 cores, a 1-worker server alone on core 0 spent 15% less CPU per view
   * than 2 workers sharing both cores with Redis and the load generator, the sharing and not
   * the workers.
   */
  const startWorkers = async (workers: number, helpers: number[], cores: number, name: string, extraEnv: Record<string, string> = {}) => {
    const confined = await confine({ cpus: workers, cores, cpuPeriodUs: options.cpuPeriodUs, memoryBytes: MEMORY_BYTES })
    onCleanup(`remove the ${name} cgroups`, () => confined.release())
    data[`workers ${workers}`] = confined.description
    say(`${name}: ${confined.description}${confined.groups.length > 0 ? ` (${confined.groups.join(', ')})` : ''}`)
    // Redis and the load generator take the cores the server leaves, or share them all.
    const aside = confined.otherCores ?? confined.allCores
    if (aside) for (const pid of helpers) await pinProcess(pid, aside)
    const { started, url } = await startSideServer!(name, confined.wrap, { ...extraEnv, WORKERS: String(workers) })
    // With several workers a /metrics scrape reaches one of them: its loop delay would be one worker's.
    const target: LoadTarget = { ...app, baseUrl: url, pid: started.pid, tree: workers > 1, metrics: app.metrics && workers === 1 }
    return {
      target,
      // SIGTERM to the primary stops its workers; the cgroups can go once all have exited.
      stop: async () => {
        await stopProcess(started.child, 15_000)
        confined.release()
      },
    }
  }
  /**
   * One round of the --workers rows. First page-Nw for each N: a server alone, as fast as it
   * answers (req/s and peak memory). Then the paced rows, the CPU per view that the scaling
   * target compares: page-Nw-paced for each N, and for each N > 1 its control page-Nx1w-paced
   * (N servers of one worker side by side, scenarios.ts says why), all up at once, each paced at
   * --worker-rate views/s per worker, taking turns in windows of PAIRED_WINDOW_SECONDS as page
   * takes turns with its ceiling. Rows of fresh servers one after the other compared the
   * machine's drift as much as the workers: the rounds of one run read 0.98, 1.28 and 1.72
   * (2026-12-06, 08:25). The paced rows have no memory figure: side by side, the servers share
   * Node's code, and a sum of proportional set sizes would split it between them. Their
   * unpaced rows, alone and under more load, carry the memory.
   */
  const workersRound = async (helpers: number[], cores: number, round: string) => {
    for (const workers of options.workers!) {
      next()
      const name = workersScenario(workers) + round
      const server = await startWorkers(workers, helpers, cores, name)
      try {
        await measure(name, server.target, 'app', { connections: options.connections, requests: pageRequests(pageIds) })
      } finally {
        await server.stop()
      }
    }
    next()
    const running: { stop: () => Promise<void> }[] = []
    const start = async (workers: number, name: string, extraEnv?: Record<string, string>) => {
      const server = await startWorkers(workers, helpers, cores, name, extraEnv)
      running.push(server)
      return server.target
    }
    try {
      const runs: { server: 'app'; target: LoadTarget; spec: LoadSpec }[] = []
      const paced = (name: string, workers: number, target: LoadTarget) => runs.push({
        server: 'app', target,
        spec: { name, warmupSeconds: options.warmup, duration: options.duration, connections: options.connections, overallRate: workers * options.workerRate, requests: pageRequests(pageIds) },
      })
      for (const workers of options.workers!) {
        const name = workersScenario(workers, true) + round
        paced(name, workers, await start(workers, name))
      }
      for (const workers of options.workers!.filter((n) => n > 1)) {
        const name = controlScenario(workers) + round
        // Each with a worker's share of the page cache, as N workers share theirs: with pages that
        // fit one server's cache and not a worker's (`--pastes 1000`), page-2w-paced read 1.44-1.51
        // × two servers of the whole cache each, the cache and not the cluster.
        const share = { PAGE_CACHE_BYTES: String(Math.floor(pageCacheBytes / workers)) }
        const servers: LoadTarget[] = []
        for (let i = 1; i <= workers; i++) servers.push(await start(1, `${name}.${i}`, share))
        const [first, ...rest] = servers
        paced(name, workers, { ...first!, peers: rest.map(({ baseUrl, pid }) => ({ baseUrl, pid: pid! })) })
      }
      for (const row of await measureInTurns(runs, { seconds: PAIRED_WINDOW_SECONDS })) row.peakRssBytes = null
    } finally {
      for (const server of running) await server.stop()
    }
  }
  let budget: Record<string, string> = {}
  if (options.workers) {
    // The 1-CPU server is done: stopped, it neither competes with the workers nor counts.
    await stopApp()
    const helpers = [process.pid, ...(redisPid !== null ? [redisPid] : [])]
    const most = Math.max(...options.workers)
    const pinned = confinement?.allCores ? await Promise.all(helpers.map(affinityOf)) : null
    try {
      // Rounds of every N in turn: a burst on the shared VM lands in one round, not in one N.
      for (let round = 1; round <= options.workerRounds; round++) await workersRound(helpers, most, options.workerRounds > 1 ? `#${round}` : '')
    } finally {
      if (pinned) for (const [i, pid] of helpers.entries()) await pinProcess(pid, pinned[i]!)
    }
    if (options.workerRounds > 1) {
      const ratios = nameMedianWorkersRound(results, options.workerRounds, most, titleOf)
      data[`workers rounds (page-${most}w-paced ÷ page-${most}x1w-paced CPU per view, in order)`] = ratios.map((r) => (r === null ? '–' : `${r.toFixed(2)}×`)).join(', ')
    }
    const one = results.find((r) => r.name === WORKERS_BASE)
    if (one) budget = cpuBudget(one, most, cores)
    else say(`no ${WORKERS_BASE} (add 1 to --workers): no scaling ratios, no CPU budget`)
    Object.assign(data, budget)
  }

  // ——— Report ———
  // The probe runs at a fixed rate: a ratio to a ceiling would mean nothing. The page-Nw rows
  // compare to page-1w: their ratios are the scaling.
  compareToCeilings(results)
  // The table lists ceilings first, then the scenarios in the order they ran.
  results.sort((a, b) => (a.server === b.server ? 0 : a.server === 'ceiling' ? -1 : 1))
  const checks = checkTargets(results, loadTargets(join(BENCH_DIR, 'targets.json')))
  const report: RunReport = {
    startedAt: startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    options: { ...options, only: options.only ? [...options.only] : null },
    machine: await describeMachine(redis),
    confinement: confinement?.description ?? `external server at ${options.url}`,
    data,
    results,
    checks,
  }

  const resultsDir = join(BENCH_DIR, 'results')
  mkdirSync(resultsDir, { recursive: true })
  const stamp = timestamp(startedAt)
  writeFileSync(join(resultsDir, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(join(resultsDir, `${stamp}.svg`), svgChart(report))
  writeFileSync(join(resultsDir, `${stamp}.md`), markdownReport(report, `${stamp}.svg`))
  if (options.baseline) writeFileSync(join(BENCH_DIR, 'BASELINE.md'), baselineMarkdown(report))

  const failed = checks.filter((c) => c.kind === 'enforced' && c.pass === false)
  console.log(`\n${terminalTable(results)}\n`)
  const efficiency = efficiencyLines(results)
  if (efficiency.length > 0) console.log(`Server CPU per response:\n${efficiency.map((l) => `  ${l.slice(2).replace(/\*\*/g, '')}`).join('\n')}\n`)
  if (Object.keys(budget).length > 0) console.log(`CPU budget (--workers):\n${Object.entries(budget).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`)
  console.log(`Targets (bench/targets.json):\n${checksText(checks)}\n`)
  const noisy = results.filter((r) => r.otherCpu !== null && r.otherCpu > BUSY_MACHINE_CORES)
  if (noisy.length > 0) {
    console.log(banner([`Other processes used more than ${BUSY_MACHINE_CORES * 100}% of a core during ${noisy.length} scenarios`, `(${noisy.map((r) => r.name).join(', ')}).`.slice(0, 90), 'Those rows are noisy: rerun on a quiet machine before trusting or committing them.']))
  }
  console.log(`Results: bench/results/${stamp}.{json,md,svg}${options.baseline ? '; bench/BASELINE.md updated' : ''}`)
  if (failed.length > 0) {
    console.log(`\nbench: ${failed.length} target${failed.length > 1 ? 's' : ''} missed: ${failed.map((c) => c.label).join('; ')}`)
    return 1
  }
  console.log('\nbench: every enforced target met')
  return 0
}

cleanupOnSignals()
let status = 1
try {
  status = await bench(parseOptions(process.argv.slice(2)))
} catch (err) {
  progress.done()
  if (err instanceof UsageError) {
    process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`)
    status = 2
  } else {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`)
    for (const note of onFailure) {
      try {
        process.stderr.write(`bench: ${note()}\n`)
      } catch {
        // no log to keep
      }
    }
  }
} finally {
  progress.done()
  await cleanupAll()
}
process.exit(status)
