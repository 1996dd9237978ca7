// `npm run fuzz -- --runs 100000 [--seed N] [--path P]`: the suite's fuzz (test/fuzz), longer.
// The options become FUZZ_RUNS, FUZZ_SEED and FUZZ_PATH; the seed is printed either way, and
// a failure prints its shrunk request as a curl command.
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '100000' }, seed: { type: 'string' }, path: { type: 'string' } },
})
for (const [name, value] of Object.entries(values)) {
  if (name !== 'path' && value !== undefined && !/^\d+$/.test(value)) {
    console.error(`fuzz: --${name} must be a whole number, got "${value}"`)
    process.exit(2)
  }
}
const env = { ...process.env, FUZZ_RUNS: values.runs }
if (values.seed !== undefined) env.FUZZ_SEED = values.seed
if (values.path !== undefined) env.FUZZ_PATH = values.path
const vitest = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'test/fuzz'], { env, stdio: 'inherit' })
process.exit(vitest.status ?? 1)
