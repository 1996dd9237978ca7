import { describe, expect, it } from 'vitest'
import { countLines, decodeUtf8, encodeUtf8, SLICE_SIZE, textHead } from '../../src/pastes/textPasses.js'

/** Text `slices` slices long, one four-byte character (a surrogate pair) per slice, the first across the first cut. */
function textAcrossCuts(slices: number): string {
  const emoji = '😀'
  let text = ''
  for (let i = 1; i <= slices; i++) text += `${'a'.repeat(SLICE_SIZE - text.length % SLICE_SIZE - 1)}${emoji}é\n`
  return text
}

describe('passes over a big text, in slices', () => {
  it('encodes the same bytes as Buffer.from, with no character cut at a slice boundary', async () => {
    const text = textAcrossCuts(4)
    const expected = Buffer.from(text)
    expect((await encodeUtf8(text, expected.length)).equals(expected)).toBe(true)
  })

  it('decodes the same text as a whole, with multi-byte characters across every cut', async () => {
    // Three-byte characters: a cut at any multiple of SLICE_SIZE lands inside one of them.
    const text = `\uFEFF${'€'.repeat(SLICE_SIZE)}x`
    expect(await decodeUtf8(Buffer.from(text))).toBe(text)
  })

  it('refuses bytes that are not UTF-8, anywhere in them', async () => {
    const bytes = Buffer.from('a'.repeat(3 * SLICE_SIZE))
    bytes[2 * SLICE_SIZE + 5] = 0xff
    expect(await decodeUtf8(bytes)).toBeNull()
    // An encoded surrogate (CESU-8) is not UTF-8 either.
    expect(await decodeUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80]))).toBeNull()
  })

  it('counts the same lines in the UTF-8 bytes as in the text', async () => {
    for (const text of ['', 'one', 'one\n', '\n\n', 'a\r\nb\rc', textAcrossCuts(5), `${textAcrossCuts(3)}tail`]) {
      expect(await countLines(Buffer.from(text)), JSON.stringify(text.slice(0, 20))).toBe(await countLines(text))
    }
  })

  it('decodes the head of UTF-8 bytes without cutting a character', () => {
    const text = '€'.repeat(100)
    // 3 bytes each: 10 bytes hold 3 whole characters.
    expect(textHead(Buffer.from(text), 10)).toBe('€€€')
    expect(textHead(Buffer.from(text), 300)).toBe(text)
    expect(textHead(Buffer.from('😀x'), 3)).toBe('')
  })

  it('counts lines as an editor shows them, across slices', async () => {
    expect(await countLines('one')).toBe(1)
    expect(await countLines('one\n')).toBe(1)
    expect(await countLines('one\ntwo')).toBe(2)
    expect(await countLines('\n\n')).toBe(2)
    const text = textAcrossCuts(5)
    expect(await countLines(text)).toBe(text.split('\n').length - 1)
  })

  it('lets other callbacks run between the slices of a 1 MiB text', async () => {
    const text = 'x'.repeat(1024 * 1024 - 1) + '\n'
    let turns = 0
    let running = true
    const other = () => {
      turns++
      if (running) setImmediate(other)
    }
    setImmediate(other)
    const bytes = await encodeUtf8(text, text.length)
    const lines = await countLines(text)
    const decoded = await decodeUtf8(bytes)
    running = false
    expect(lines).toBe(1)
    expect(decoded).toBe(text)
    // Three passes over 1 MiB: another callback ran between every two slices (in one piece: none).
    const slices = Math.ceil(text.length / SLICE_SIZE)
    expect(turns).toBeGreaterThanOrEqual(3 * (slices - 1))
  })
})
