// A shared machine: how busy the other processes keep it, waiting for a quiet second before
// each scenario, and the banner that says when the numbers are noisy.
import { progress } from './progress.js'
import { cpuSeconds, kernelThreadSeconds, machineBusySeconds } from './processes.js'

/** Other processes using more than this (in cores) make the numbers noisy: say so. */
export const BUSY_MACHINE_CORES = 0.15
const QUIET_WAIT_SECONDS = 30

export function banner(lines: string[]): string {
  const width = Math.max(...lines.map((l) => l.length))
  return [`╔${'═'.repeat(width + 4)}╗`, ...lines.map((l) => `║  ${l.padEnd(width)}  ║`), `╚${'═'.repeat(width + 4)}╝`].join('\n')
}

/** Cores used over one second by processes other than ours (`ours`, this one, kernel threads). */
export async function otherLoad(ours: number[] = []): Promise<number | null> {
  const sum = async () => {
    let total = await kernelThreadSeconds()
    for (const pid of ours) total += (await cpuSeconds(pid)) ?? 0
    return total
  }
  const before = await machineBusySeconds()
  const oursBefore = await sum()
  const own = process.cpuUsage()
  await new Promise((r) => setTimeout(r, 1000))
  const after = await machineBusySeconds()
  const oursAfter = await sum()
  const used = process.cpuUsage(own)
  if (before === null || after === null) return null
  return Math.max(0, after - before - (oursAfter - oursBefore) - (used.user + used.system) / 1e6)
}

/**
 * On a shared machine other work comes in bursts: before each scenario, wait (up to
 * QUIET_WAIT_SECONDS) for a second in which other processes leave the cores alone.
 */
export async function waitForQuiet(ours: number[]): Promise<void> {
  const deadline = Date.now() + QUIET_WAIT_SECONDS * 1000
  let busy = await otherLoad(ours)
  if (busy === null || busy <= BUSY_MACHINE_CORES) return
  progress.phase('waiting for other processes to quiet down', QUIET_WAIT_SECONDS, '')
  while (busy !== null && busy > BUSY_MACHINE_CORES && Date.now() < deadline) {
    progress.update(0, undefined, `${busy.toFixed(2)} cores busy`)
    busy = await otherLoad(ours)
  }
  progress.done()
}

