// The render worker's queue: renders beyond it are refused at once, and the worker still
// renders what it accepted.
import { afterAll, describe, expect, it } from 'vitest'
import { CodeRenderer } from '../../src/pastes/CodeRenderer.js'

const renderer = new CodeRenderer({ highlightMaxBytes: 1024 * 1024, maxQueue: 1 })

afterAll(() => renderer.close())

describe('CodeRenderer', () => {
  it('refuses renders beyond its queue, and renders the ones it took', async () => {
    const text = 'const x = 1\n'.repeat(20_000)
    // One running, one queued: the third finds the queue full.
    const renders = [1, 2, 3].map(() => renderer.render(text, 'javascript', text.length).then((html) => html.length, (err: Error) => err.message))
    const [first, second, third] = await Promise.all(renders)
    expect(third).toMatch(/render queue is full/)
    expect(first).toBeGreaterThan(text.length)
    expect(second).toBe(first)
    expect(renderer.pending).toBe(0)
  })
})
