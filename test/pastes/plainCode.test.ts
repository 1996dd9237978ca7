// The plain code block made from a paste's bytes on the main thread is, byte for byte, what
// splitLines(escapeHtml(text)) makes (the worker's and the browser's), and it lets the event
// loop run between its slices once it has held it for TURN_MS.
import { describe, expect, it } from 'vitest'
import { escapeHtml, splitLines } from '../../src/shared/codeBlock.js'
import { plainCodeBlock, plainCodeBlockNow, SLICE_BYTES } from '../../src/pastes/plainCode.js'
import { bytesOf, type FramedBytes } from '../../src/pastes/PageRenderer.js'
import { seededRandom } from '../helpers/random.js'

const expected = (text: string, maxLines: number) => Buffer.from(splitLines(escapeHtml(text), maxLines))

const EDGES = [
  '', 'x', '\n', '\n\n', 'a\n', 'a\n\n', 'a\n\nb', '\r', '\r\n', 'a\r', 'a\r\n', 'a\r\r\n', 'a\rb\n', '\r\r',
  '<script>alert("x" & \'y\')</script>', '&amp;\n&lt;', 'café ☕ 𝄞\n', 'é\r\n€\n', '"\'<>&'.repeat(100),
]

/** Text of `n` random pieces: ASCII, escapes, line ends and multi-byte characters. */
function randomText(random: () => number, n: number): string {
  const pieces = ['a', 'word ', '  ', '\t', '\n', '\r\n', '\r', '&', '<', '>', '"', "'", 'é', '€', '☕', '𝄞', 'const x = 1;']
  let text = ''
  for (let i = 0; i < n; i++) text += pieces[Math.floor(random() * pieces.length)]
  return text
}

describe('plainCodeBlock', () => {
  it('makes the bytes of splitLines(escapeHtml(text)) for edge cases, anchored and not', async () => {
    for (const text of EDGES) {
      for (const maxLines of [1, 2, 3, 50_000]) {
        const want = expected(text, maxLines)
        expect(plainCodeBlockNow(Buffer.from(text), maxLines).equals(want), JSON.stringify({ text, maxLines })).toBe(true)
        expect(bytesOf(await plainCodeBlock(Buffer.from(text), maxLines, { before: 0, after: 0 })).equals(want)).toBe(true)
      }
    }
  })

  it('makes the same bytes for 300 random texts, in slices of every size', async () => {
    const random = seededRandom(14)
    for (let i = 0; i < 300; i++) {
      const text = randomText(random, Math.floor(random() * 400))
      const maxLines = 1 + Math.floor(random() * 40)
      const slice = 1 + Math.floor(random() * 64)
      const block = await plainCodeBlock(Buffer.from(text), maxLines, { before: 3, after: 5 }, slice)
      expect(bytesOf(block).equals(expected(text, maxLines)), JSON.stringify({ text, maxLines, slice })).toBe(true)
    }
  })

  it('frames the block with the room asked for', async () => {
    const block = await plainCodeBlock(Buffer.from('a < b\n'), 10, { before: 16, after: 4 })
    expect([block.start, block.frame.length - block.end]).toEqual([16, 4])
    expect(bytesOf(block).toString()).toBe('<span id="L1"><a href="#L1" aria-hidden="true" tabindex="-1"></a>a &lt; b</span>\n')
  })

  it('numbers lines past 9, 99 and 999 as the browser does, and wraps a paste of more lines than maxLines', async () => {
    const text = Array.from({ length: 1234 }, (_, i) => `line ${i} <${i}>`).join('\n')
    expect(bytesOf(await plainCodeBlock(Buffer.from(text), 50_000, { before: 0, after: 0 }, 100)).equals(expected(text, 50_000))).toBe(true)
    expect(bytesOf(await plainCodeBlock(Buffer.from(text), 1233, { before: 0, after: 0 }, 100)).equals(expected(text, 1233))).toBe(true)
    expect(plainCodeBlockNow(Buffer.from(text), 1234).equals(expected(text, 1234))).toBe(true)
  })

  /** Turns of the event loop while `make` runs. */
  const turnsDuring = async (make: () => Promise<unknown>) => {
    let turns = 0
    let done = false
    const tick = () => {
      turns++
      if (!done) setImmediate(tick)
    }
    setImmediate(tick)
    await make()
    done = true
    return turns
  }
  const big = 'if (a < b && c > "d") return \'e\'\n'.repeat(32_000)

  it('lets the event loop run between slices of a 1 MiB paste', async () => {
    let block: FramedBytes | undefined
    // A turn after every slice: two passes over ~1 MiB in 16 KiB slices, ~130 turns.
    const turns = await turnsDuring(async () => { block = await plainCodeBlock(Buffer.from(big), 50_000, { before: 0, after: 0 }, SLICE_BYTES, 0) })
    expect(bytesOf(block!).equals(expected(big, 50_000))).toBe(true)
    expect(turns).toBeGreaterThan(100)
  })

  it('gives up the event loop only once a turn has lasted turnMs', async () => {
    let block: FramedBytes | undefined
    const turns = await turnsDuring(async () => { block = await plainCodeBlock(Buffer.from(big), 50_000, { before: 0, after: 0 }, SLICE_BYTES, 60_000) })
    expect(bytesOf(block!).equals(expected(big, 50_000))).toBe(true)
    // The first tick runs once the block's promise is awaited: none in between.
    expect(turns).toBeLessThanOrEqual(1)
  })
})
