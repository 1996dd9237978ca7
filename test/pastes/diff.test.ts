// Diffs with jsdiff (src/pastes/diff.js, run on the worker): counts, patches, and the diff
// page's rows, highlighted per side, escaped, within a time bound; and CodeRenderer's queue.
import { afterAll, describe, expect, it } from 'vitest'
import { CodeRenderer } from '../../src/pastes/CodeRenderer.js'
import { computeDiff, type DiffTask } from '../../src/pastes/diff.js'

const task = (oldText: string, newText: string, over: Partial<DiffTask> = {}): DiffTask => ({
  format: 'html', oldText, newText, oldName: 'a/x.py', newName: 'b/x.py', oldLanguage: 'python', newLanguage: 'python',
  highlight: true, timeoutMs: 1000, ...over,
})

describe('computeDiff', () => {
  it('counts added and removed lines', () => {
    expect(computeDiff(task('a\nb\nc\n', 'a\nB\nc\nd\n', { format: 'stats' }))).toEqual({ added: 2, removed: 1, text: '' })
  })

  it('gives a unified patch with file headers only, and none for equal texts', () => {
    const patch = computeDiff(task('a\nb\n', 'a\nc\n', { format: 'patch' }))?.text
    expect(patch).toBe('--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n')
    expect(computeDiff(task('same\n', 'same\n', { format: 'patch' }))?.text).toBe('')
  })

  it('highlights each line on its own, reopening spans that cross lines, and escapes everything', () => {
    const before = 'x = 1\n"""doc\nstring"""\n'
    const after = 'x = 2\n"""doc\nstring <b>"""\n'
    const html = computeDiff(task(before, after))?.text ?? ''
    expect(html).toContain('<td class="d-n">3</td><td class="d-m">+</td><td class="d-c"><span class="hljs-string">string &lt;b&gt;&quot;&quot;&quot;</span>')
    expect(html).not.toContain('<b>')
    const plain = computeDiff(task(before, after, { highlight: false }))?.text ?? ''
    expect(plain).not.toContain('hljs-')
    expect(plain).toContain('string &lt;b&gt;')
  })

  it('gives up (null) when the diff takes longer than its time bound', () => {
    const lines = (seed: number) => Array.from({ length: 20_000 }, (_, i) => `${(i * seed) % 7919}`).join('\n')
    expect(computeDiff(task(lines(31), lines(37), { timeoutMs: 1, highlight: false }))).toBeNull()
  })
})

describe('CodeRenderer diffs', () => {
  const renderer = new CodeRenderer({ highlightMaxBytes: 1024 })
  afterAll(() => renderer.close())

  it('runs on the worker and hands the bytes back', async () => {
    const base = { oldText: 'a\n', newText: 'b\n', oldName: 'a/x', newName: 'b/x', oldLanguage: 'plaintext', newLanguage: 'plaintext', timeoutMs: 1000 }
    expect(await renderer.diffStats(base)).toEqual({ added: 1, removed: 1 })
    expect((await renderer.diffBytes({ ...base, format: 'patch' }))?.toString()).toBe('--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n-a\n+b\n')
    expect(renderer.pending).toBe(0)
  })
})
