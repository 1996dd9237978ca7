// WORKERS=N: each worker's young generation is the primary's divided by N (workerExecArgv), as
// the page cache is, so that N workers take no more memory for it than one process.
import { describe, expect, it } from 'vitest'
import { workerExecArgv } from '../src/workerExecArgv.js'

describe('workerExecArgv', () => {
  const start = ['--single-threaded-gc', '--max-semi-space-size=8', '--min-semi-space-size=8', '--expose-gc']

  it('divides the semi-space by the number of workers and keeps every other flag as it is', () => {
    expect(workerExecArgv(start, 2)).toEqual(['--single-threaded-gc', '--max-semi-space-size=4', '--min-semi-space-size=4', '--expose-gc'])
    expect(workerExecArgv(start, 3)).toEqual(['--single-threaded-gc', '--max-semi-space-size=2', '--min-semi-space-size=2', '--expose-gc'])
  })

  it('leaves one worker\'s flags alone, and never goes below 1 MB', () => {
    expect(workerExecArgv(start, 1)).toEqual(start)
    expect(workerExecArgv(start, 16)).toEqual(['--single-threaded-gc', '--max-semi-space-size=1', '--min-semi-space-size=1', '--expose-gc'])
  })

  it('passes through flags that set no semi-space, and none at all', () => {
    expect(workerExecArgv(['--import', 'tsx', '--max-old-space-size=512'], 2)).toEqual(['--import', 'tsx', '--max-old-space-size=512'])
    expect(workerExecArgv([], 4)).toEqual([])
  })
})
