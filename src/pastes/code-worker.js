// The render thread, loaded through render-thread.cjs (which says why): renders pastes off the
// main thread. It lowers its own thread's CPU priority (Linux nice values are per thread), so
// that on a busy single core, requests come first and rendering catches up in the gaps.
import { setPriority } from 'node:os'
import { move } from 'piscina'
import { renderCode } from './code.js'
import { computeDiff } from './diff.js'

try {
  setPriority(19)
} catch {
  // Not permitted on this platform: rendering still works, at normal priority.
}

/**
 * Returns the code block's HTML as UTF-8 bytes, moved (not copied) to the main thread: for a
 * 1 MiB paste that is ~3-7 MB the main thread neither clones nor encodes. They are written
 * `room.before` bytes into a buffer of their own, with `room.after` free bytes behind them, so
 * that the main thread writes the page's head and tail around them instead of joining a copy.
 * The paste arrives as its stored UTF-8 bytes (already checked well-formed) and is decoded here,
 * off the main thread.
 * @param {{ content: Uint8Array | string, language: string, options: { highlight: boolean, detectChars: number, maxLines: number }, room: { before: number, after: number } }} task
 */
export default function render(task) {
  const text = typeof task.content === 'string' ? task.content : new TextDecoder().decode(task.content)
  const { html } = renderCode(text, task.language, task.options)
  const { before, after } = task.room
  const length = Buffer.byteLength(html)
  // allocUnsafeSlow: an ArrayBuffer of its own (never a slice of Node's pool), so it can be moved.
  const bytes = Buffer.allocUnsafeSlow(before + length + after)
  bytes.write(html, before)
  return move(bytes)
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
