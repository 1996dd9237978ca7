/**
 * The node flags a WORKERS=N worker runs with: the primary's, but with the young generation's
 * semi-space (`--max-semi-space-size=MB`, `--min-semi-space-size=MB`) divided by N, at least 1
 * MB. Like the page cache (PAGE_CACHE_BYTES), the young generation is the server's and is shared
 * out among its workers: it costs 2 × the semi-space of memory in every process, resident under
 * any load, so N workers each with npm start's 8 MB held 16 MB each, and the 2-worker bench rows
 * (the PSS of the primary and its workers) were over 200 MB by 3-13 MB.
 */
export function workerExecArgv(execArgv: readonly string[], workers: number): string[] {
  return execArgv.map((flag) => {
    const semiSpace = /^(--(?:max|min)-semi-space-size)=(\d+)$/.exec(flag)
    return semiSpace ? `${semiSpace[1]}=${Math.max(1, Math.floor(Number(semiSpace[2]) / workers))}` : flag
  })
}
