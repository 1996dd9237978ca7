// Diffs of two texts with jsdiff: counts, a unified patch, or the HTML of a diff page. Plain
// JavaScript, like code.js, because it runs on the worker thread (code-worker.js).
import { FILE_HEADERS_ONLY, formatPatch, structuredPatch } from 'diff'
import { escapeHtml, highlightText, htmlLines } from './code.js'

/**
 * @typedef {{
 *   format: 'stats' | 'patch' | 'html',
 *   oldText: string, newText: string,
 *   oldName: string, newName: string,
 *   oldLanguage: string, newLanguage: string,
 *   highlight: boolean,
 *   timeoutMs: number,
 * }} DiffTask
 * @typedef {{ added: number, removed: number }} DiffStats
 */

const CONTEXT_LINES = 3

/**
 * The lines added and removed; with format 'patch' or 'html', also the patch or the diff page's
 * part (its counts, then the table), as text.
 * @param {DiffTask} task
 * @returns {(DiffStats & { text: string }) | null} null when jsdiff gave up within the time bound
 */
export function computeDiff(task) {
  const context = task.format === 'stats' ? 0 : CONTEXT_LINES
  const patch = structuredPatch(task.oldName, task.newName, task.oldText, task.newText, undefined, undefined, {
    context,
    timeout: task.timeoutMs,
  })
  if (!patch) return null
  let added = 0
  let removed = 0
  for (const hunk of patch.hunks) {
    for (const line of hunk.lines) {
      if (line[0] === '+') added++
      else if (line[0] === '-') removed++
    }
  }
  if (task.format === 'stats') return { added, removed, text: '' }
  if (task.format === 'patch') return { added, removed, text: patch.hunks.length ? formatPatch(patch, FILE_HEADERS_ONLY) : '' }
  if (!patch.hunks.length) return { added, removed, text: '<p class="notice">No changes: the two texts are the same.</p>' }
  const table = diffTable(patch.hunks, task)
  return {
    added,
    removed,
    text: `<p class="diff-stats"><span class="stat-add">+${added}</span> <span class="stat-del">−${removed}</span> lines</p>\n` +
      '<div class="code-box diff-box" tabindex="0" role="region" aria-label="Diff">\n<table class="diff hljs">\n' +
      '<caption class="visually-hidden">Unified diff: old line number, new line number, change, line</caption>\n' +
      `<tbody>\n${table}\n</tbody>\n</table>\n</div>`,
  }
}

/**
 * A unified diff as table rows: both sides' line numbers, a +/- mark, the line (highlighted
 * with its side's language when allowed).
 * @param {import('diff').StructuredPatchHunk[]} hunks
 * @param {DiffTask} task
 */
function diffTable(hunks, task) {
  const oldLines = htmlLines(highlightText(task.oldText, task.oldLanguage, task.highlight))
  const newLines = htmlLines(highlightText(task.newText, task.newLanguage, task.highlight))
  const rows = []
  for (const hunk of hunks) {
    const header = `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`
    rows.push(`<tr class="d-hunk"><td class="d-n"></td><td class="d-n"></td><td class="d-m"></td><td class="d-c">${escapeHtml(header)}</td></tr>`)
    let o = hunk.oldStart
    let n = hunk.newStart
    for (const line of hunk.lines) {
      const mark = line[0]
      if (mark === '\\') {
        rows.push(`<tr class="d-note"><td class="d-n"></td><td class="d-n"></td><td class="d-m"></td><td class="d-c">${escapeHtml(line)}</td></tr>`)
      } else if (mark === '-') {
        rows.push(`<tr class="d-del"><td class="d-n">${o}</td><td class="d-n"></td><td class="d-m">-</td><td class="d-c">${oldLines[o - 1] ?? ''}</td></tr>`)
        o++
      } else if (mark === '+') {
        rows.push(`<tr class="d-add"><td class="d-n"></td><td class="d-n">${n}</td><td class="d-m">+</td><td class="d-c">${newLines[n - 1] ?? ''}</td></tr>`)
        n++
      } else {
        rows.push(`<tr class="d-ctx"><td class="d-n">${o}</td><td class="d-n">${n}</td><td class="d-m"></td><td class="d-c">${newLines[n - 1] ?? ''}</td></tr>`)
        o++
        n++
      }
    }
  }
  return rows.join('\n')
}
