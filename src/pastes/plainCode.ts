// A code block without highlighting, made from the paste's UTF-8 bytes: exactly the bytes of
// splitLines(escapeHtml(text), maxLines) (shared/codeBlock.js), without decoding the paste and
// without the whole block as one string. UTF-8 never uses the bytes of & < > " ' \r \n inside a
// multi-byte character, so the bytes can be escaped and split as Latin-1 text (below).
//
// Plain text and pastes too large to highlight (HIGHLIGHT_MAX_BYTES) render here, on the main
// thread, in slices between which the event loop runs, instead of on the render worker: the
// worker is a second V8 heap, which grew to ~45 MB rendering 1 MiB pastes, and a 1 MiB paste
// cost ~28 ms there (decoded, escaped, split, joined, encoded) against ~12 ms here. In the
// bench's probe (1 MiB creates with page views): peak RSS 182 and 213 MB against 247 and 263,
// server CPU per response 469 and 434 µs against 627 and 611, event-loop p99 unchanged.
import { escapeHtml, lineHtml, PLAIN_WRAP } from '../shared/codeBlock.js'
import type { FramedBytes } from './PageRenderer.js'

export interface Room {
  before: number
  after: number
}

/**
 * The block is made in slices of about this many input bytes, and gives up the event loop
 * between two slices once it has held it for TURN_MS: turns as long on any machine, not as many
 * bytes. In fixed 64 KiB slices, a turn took 0.6-2.0 ms (the 95th percentile of the turns, 1 MiB
 * of TypeScript, one core of a fast machine), and the slices were 14% of the time in the probe's
 * long turns on a machine three times slower. Yielding after every 16 KiB cost the probe CPU
 * (285-313 µs per response against 260-268: page views served in smaller batches).
 */
export const SLICE_BYTES = 16 * 1024
/** How long the block may hold the event loop before the next turn (ms). */
export const TURN_MS = 1

/** The characters escapeHtml escapes, as bytes, with what escaping one adds. */
const ESCAPE_EXTRA = [...'&<>"\''].map((ch) => [ch.charCodeAt(0), escapeHtml(ch).length - 1] as const)
const LF = 0x0a
const CR = 0x0d
/** A line's markup (lineHtml) without its two numbers. */
const LINE_MARKUP_BYTES = lineHtml('', '').length

/**
 * The code block, rendered in slices of about `sliceBytes` of the paste, with a turn of the event
 * loop (setImmediate: I/O goes first) after the slice that ends `turnMs` or more after the turn
 * began, written `room.before` bytes into a buffer of its own with `room.after` free bytes
 * behind it.
 */
export async function plainCodeBlock(content: Buffer | string, maxLines: number, room: Room, sliceBytes = SLICE_BYTES, turnMs = TURN_MS): Promise<FramedBytes> {
  const steps = plainBlock(utf8(content), maxLines, room, sliceBytes)
  let turnBegan = performance.now()
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done) return step.value
    if (performance.now() - turnBegan < turnMs) continue
    await new Promise((resolve) => setImmediate(resolve))
    turnBegan = performance.now()
  }
}

/** The same block at once, for a page needed now (the fallback when the renderer is late). */
export function plainCodeBlockNow(content: Buffer | string, maxLines: number): Buffer {
  const steps = plainBlock(utf8(content), maxLines, { before: 0, after: 0 }, Infinity)
  for (;;) {
    const step = steps.next()
    if (step.done) return step.value.frame
  }
}

/**
 * Yields after each slice; returns the framed block. The paste is read as Latin-1 strings: one
 * character per byte, so the engine's own string functions escape and split it, and writing
 * the result as Latin-1 gives back the UTF-8 bytes unchanged (a loop over the bytes in
 * JavaScript was slower than the string path it replaces).
 */
function* plainBlock(content: Buffer, maxLines: number, room: Room, sliceBytes: number): Generator<void, FramedBytes> {
  // First pass, counting: the lines, the \r that end them, and what the escapes add. indexOf
  // on the bytes is memchr.
  const endsWithNewline = content.length > 0 && content[content.length - 1] === LF
  let lines = 0
  let carriageReturns = 0
  let extra = 0
  let counted = 0
  let sliceEnd = sliceBytes
  for (let start = 0; ; ) {
    const newline = content.indexOf(LF, start)
    const end = newline === -1 ? content.length : newline
    lines++
    // htmlLines drops one \r at the end of each line (and the \n goes into the markup).
    if (end > start && content[end - 1] === CR) carriageReturns++
    // A last \n ends the last line: no empty line after it (an empty paste is one empty line).
    if (newline === -1 || newline === content.length - 1) break
    start = newline + 1
    if (start >= sliceEnd) {
      extra += escapesAdd(content.subarray(counted, start))
      counted = start
      sliceEnd = start + sliceBytes
      yield
    }
  }
  extra += escapesAdd(content.subarray(counted))
  const newlines = endsWithNewline ? lines : lines - 1
  const wrapped = lines > maxLines
  const length = wrapped
    ? PLAIN_WRAP[0].length + content.length + extra + PLAIN_WRAP[1].length
    : content.length - newlines - carriageReturns + extra + lines * LINE_MARKUP_BYTES + 2 * digitsUpTo(lines)
  const frame = Buffer.allocUnsafeSlow(room.before + length + room.after)
  let at = room.before

  // Second pass: a slice of whole lines at a time, escaped and marked up as a string, written.
  if (wrapped) at += frame.write(PLAIN_WRAP[0], at, 'latin1')
  let n = 0
  for (let from = 0; from < content.length || (n === 0 && !wrapped); ) {
    if (from > 0) yield
    // Anchored lines are written whole: a slice ends after a \n (a line longer than a slice is
    // one slice). Escaping alone works on any byte, so a wrapped block is cut anywhere.
    const cut = from + sliceBytes >= content.length ? -1 : wrapped ? from + sliceBytes - 1 : content.indexOf(LF, from + sliceBytes)
    const to = cut === -1 ? content.length : cut + 1
    const escaped = escapeHtml(content.toString('latin1', from, to))
    if (wrapped) at += frame.write(escaped, at, 'latin1')
    else {
      const parts = escaped.split('\n')
      // A slice ends at a \n, or at the end of the paste: its last part is what follows the
      // slice's last \n, empty unless the paste ends without one.
      const last = to === content.length && !endsWithNewline ? parts.length : parts.length - 1
      let chunk = ''
      for (let i = 0; i < last; i++) {
        n++
        let line = parts[i]!
        if (line.endsWith('\r')) line = line.slice(0, -1)
        chunk += lineHtml(n, line)
      }
      at += frame.write(chunk, at, 'latin1')
    }
    from = to
  }
  if (wrapped) at += frame.write(PLAIN_WRAP[1], at, 'latin1')
  if (at !== room.before + length) throw new Error(`plain code block: wrote ${at - room.before} bytes, expected ${length}`)
  return { frame, start: room.before, end: at }
}

/** A string's UTF-8 bytes; Buffers as they are (Buffer.from would copy them). */
function utf8(content: Buffer | string): Buffer {
  return typeof content === 'string' ? Buffer.from(content) : content
}

/** The digits of the numbers 1 to n, written out one after another. */
function digitsUpTo(n: number): number {
  let digits = 0
  for (let width = 1, from = 1; from <= n; width++, from *= 10) digits += width * (Math.min(n, from * 10 - 1) - from + 1)
  return digits
}

/** The bytes escaping `bytes` adds. */
function escapesAdd(bytes: Buffer): number {
  let extra = 0
  for (const [byte, adds] of ESCAPE_EXTRA) {
    for (let at = bytes.indexOf(byte); at !== -1; at = bytes.indexOf(byte, at + 1)) extra += adds
  }
  return extra
}
