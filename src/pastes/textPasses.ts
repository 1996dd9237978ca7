// The passes a create makes over a paste's whole text (decoding, encoding, counting lines), cut
// into slices with a turn of the event loop between two slices: page views that wait meanwhile
// never wait for more than one slice. In one piece, each pass over 1 MiB held the loop for
// 1-3 ms on the bench machine, and for about twice that on a slower one; a slice takes ~0.05 ms.
// A text of one slice (every paste up to 32 K characters) runs in one go, with no yield.
import { isUtf8 } from 'node:buffer'
import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Characters (or bytes) per slice. Small enough that a decoded slice, even of two-byte
 * characters (64 KB), is an ordinary young object: at 128 K each slice went to V8's large-object
 * space, which counts towards the next mark-compact.
 */
export const SLICE_SIZE = 32 * 1024

/**
 * Calls `visit(start, end)` over [0, length) in slices of about `SLICE_SIZE`, yielding to the
 * event loop between two slices. `boundary(end)` moves a cut back to where a character starts.
 */
async function inSlices(length: number, boundary: (end: number) => number, visit: (start: number, end: number) => void): Promise<void> {
  for (let start = 0; start < length;) {
    if (start > 0) await nextTurn()
    const end = start + SLICE_SIZE >= length ? length : boundary(start + SLICE_SIZE)
    visit(start, end)
    start = end
  }
}

/** A cut in a string: never between the two halves of a surrogate pair. */
function betweenCharacters(text: string, end: number): number {
  const unit = text.charCodeAt(end - 1)
  return unit >= 0xd800 && unit <= 0xdbff ? end - 1 : end
}

/** A cut in UTF-8 bytes: never before a continuation byte (10xxxxxx). */
function beforeCharacter(bytes: Uint8Array, end: number): number {
  let cut = end
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--
  return cut
}

/** The UTF-8 bytes of `text`, which is well-formed and `byteLength` bytes long. */
export async function encodeUtf8(text: string, byteLength: number): Promise<Buffer> {
  // Every byte is written below: no need to zero them first. Never a slice of Node's shared 8 KB
  // pool (allocUnsafe's below 4 KB): a paste waiting in the render queue would keep the whole
  // slab alive. Measured in a heap snapshot of a flood of 2 KB creates: 2,000 queued renders
  // held 15.7 MB of ArrayBuffers, 7.7 KB each.
  const bytes = Buffer.allocUnsafeSlow(byteLength)
  let offset = 0
  await inSlices(text.length, (end) => betweenCharacters(text, end), (start, end) => {
    offset += bytes.write(text.slice(start, end), offset)
  })
  return bytes
}

/** The text of UTF-8 `bytes`; null when they are not valid UTF-8. A byte-order mark is kept. */
export async function decodeUtf8(bytes: Buffer): Promise<string | null> {
  // One fast check first (simdutf, ~0.05 ms per MiB), so that each slice decodes whole characters.
  if (!isUtf8(bytes)) return null
  let text = ''
  await inSlices(bytes.length, (end) => beforeCharacter(bytes, end), (start, end) => {
    text += bytes.toString('utf8', start, end)
  })
  return text
}

/**
 * The text of the first characters of UTF-8 `bytes` (valid UTF-8): at most `maxBytes` of them,
 * never a character cut in two.
 */
export function textHead(bytes: Buffer, maxBytes: number): string {
  return bytes.toString('utf8', 0, bytes.length <= maxBytes ? bytes.length : beforeCharacter(bytes, maxBytes))
}

const NEWLINE = 0x0a

/**
 * Lines as an editor shows them: a final newline does not start another line. Counted in the
 * text or in its UTF-8 bytes alike: a newline is the byte 0x0A, which is never part of another
 * character's bytes.
 */
export async function countLines(text: string | Buffer): Promise<number> {
  const newline = typeof text === 'string' ? '\n' : NEWLINE
  let newlines = 0
  // indexOf, not a loop over char codes: it runs native from the first call (a JavaScript loop
  // over 1 MiB took ~10 ms until optimized). Past `end` it only reads on to the next newline.
  await inSlices(text.length, (end) => end, (start, end) => {
    // One call site per type keeps each indexOf monomorphic.
    if (typeof text === 'string') {
      for (let at = text.indexOf('\n', start); at !== -1 && at < end; at = text.indexOf('\n', at + 1)) newlines++
    } else {
      for (let at = text.indexOf(NEWLINE, start); at !== -1 && at < end; at = text.indexOf(NEWLINE, at + 1)) newlines++
    }
  })
  const last = text.length === 0 ? undefined : text[text.length - 1]
  return last === newline ? newlines : newlines + 1
}
