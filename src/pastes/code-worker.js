// Piscina worker: renders pastes off the main thread. It lowers its own thread's CPU priority
// (Linux nice values are per thread), so that on a busy single core, requests come first and
// rendering catches up in the gaps.
import { setPriority } from 'node:os'
import { renderCode } from './code.js'

try {
  setPriority(19)
} catch {
  // Not permitted on this platform: rendering still works, at normal priority.
}

/** @param {{ text: string, language: string, options: { highlight: boolean, detectChars: number, maxLines: number } }} task */
export default function render(task) {
  return renderCode(task.text, task.language, task.options)
}
