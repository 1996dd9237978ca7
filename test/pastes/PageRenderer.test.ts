// A stored page is built around its code block in place when the block comes framed with free
// room (as the render worker leaves it), and is byte for byte the page a join would build.
import { describe, expect, it } from 'vitest'
import { bytesOf, PAGE_ROOM, PageRenderer, type FramedBytes, type PageFields } from '../../src/pastes/PageRenderer.js'

const pages = new PageRenderer('http://localhost:3000', true)

function fields(overrides: Partial<PageFields> = {}): PageFields {
  return {
    id: 'AbCdEfGhIjKl', kind: null, title: 'notes.py', language: 'python', size: 1234, createdAt: new Date('2026-01-02T03:04:05Z'),
    expiresAt: null, burn: false, visibility: 'public', lines: 40, revision: 1, editedAt: null, forkOf: null, forkOfRevision: null,
    ...overrides,
  }
}

/** `code` framed as the worker frames it: `before` and `after` free bytes (filled with junk bytes, 0x01) around it. */
function framed(code: string, before: number = PAGE_ROOM.before, after: number = PAGE_ROOM.after): FramedBytes {
  const length = Buffer.byteLength(code)
  const frame = Buffer.alloc(before + length + after, 1)
  frame.write(code, before)
  return { frame, start: before, end: before + length }
}

describe('PageRenderer.pastePage', () => {
  const code = '<pre><code>print(&quot;héllo ☕&quot;)\n</code></pre>'.repeat(100)

  it('writes the page around framed bytes in place: the same bytes as a join, and no copy of the block', () => {
    const block = framed(code)
    const inPlace = pages.pastePage(fields(), block, 'a description')
    const joined = pages.pastePage(fields(), Buffer.from(code), 'a description')
    expect(inPlace.page.equals(joined.page)).toBe(true)
    expect(inPlace.slotAt).toBe(joined.slotAt)
    expect(inPlace.page.buffer).toBe(block.frame.buffer)
    expect(bytesOf(block).toString()).toBe(code)
  })

  it('joins when the head or the tail does not fit the room, with the same bytes', () => {
    const joined = pages.pastePage(fields(), Buffer.from(code), 'a description')
    for (const block of [framed(code, 100, PAGE_ROOM.after), framed(code, PAGE_ROOM.before, 10)]) {
      const page = pages.pastePage(fields(), block, 'a description')
      expect(page.page.equals(joined.page)).toBe(true)
      expect(page.page.buffer).not.toBe(block.frame.buffer)
    }
  })

  it('has room for the largest head and tail a paste page can have', () => {
    // The longest title (200 characters), each escaped to its longest, a long description, a fork.
    const worst = fields({ title: '"'.repeat(200), forkOf: 'ZyXwVuTsRqPo', forkOfRevision: 9_999_999, revision: 9_999_999, editedAt: new Date(), expiresAt: new Date() })
    const block = framed(code)
    const page = pages.pastePage(worst, block, `${'"'.repeat(157)}…`, { revision: 9_999_998, revisions: 9_999_999 })
    expect(page.page.buffer).toBe(block.frame.buffer)
  })

  it('gives a framed page a slot that a view writes its count into', () => {
    const stored = pages.pastePage(fields(), framed(code), 'a description')
    const html = pages.composePaste(stored, 'AbCdEfGhIjKl', 12, false).toString()
    expect(html).toContain('<span class="num">12</span> views')
    expect(html).not.toContain('\u0001')
  })
})
