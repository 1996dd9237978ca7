// The render thread, loaded through render-thread.cjs (which says why): renders pastes off the
// main thread. It lowers its own thread's CPU priority (Linux nice values are per thread), so
// that on a busy single core, requests come first and rendering catches up in the gaps.
import { setPriority } from 'node:os'
import { move } from 'piscina'
import { renderBlock } from './code.js'
import { computeDiff } from './diff.js'

try {
  setPriority(19)
} catch {
  // Not permitted on this platform: rendering still works, at normal priority.
}

/**
 * The code block's bytes (code.js, renderBlock), moved (not copied) to the main thread: for a
 * 1 MiB paste that is ~3-7 MB the main thread neither clones nor encodes; the paste arrives as
 * its stored bytes and is decoded here, off the main thread.
 * @param {import('./code.js').BlockTask} task
 */
export default function render(task) {
  return move(renderBlock(task))
}

/**
 * Lines added and removed (see diff.js); piscina runs it with `{ name: 'diffStats' }`.
 * @param {import('./diff.js').DiffTask} task
 */
export function diffStats(task) {
  const result = computeDiff(task)
  return result && { added: result.added, removed: result.removed }
}

/**
 * A patch, or the diff page's part, as UTF-8 bytes moved to the main thread (a diff of two
 * 1 MiB texts can be megabytes of HTML: the main thread neither clones nor encodes it).
 * Null when jsdiff gave up within the time bound.
 * @param {import('./diff.js').DiffTask} task
 */
export function diffBytes(task) {
  const result = computeDiff(task)
  return result && move(new TextEncoder().encode(result.text))
}
