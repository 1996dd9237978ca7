// The render worker's queue: renders beyond it are refused at once, and the worker still
// renders what it accepted. Its heap is bounded, and it leaves when idle.
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { CodeRenderer, RENDER_THREAD } from '../../src/pastes/CodeRenderer.js'
import { bytesOf, PAGE_ROOM } from '../../src/pastes/PageRenderer.js'
import { escapeHtml, splitLines } from '../../src/shared/codeBlock.js'

const renderer = new CodeRenderer({ highlightMaxBytes: 1024 * 1024, maxQueue: 1 })
// Every highlight on the worker (inlineMaxBytes 0): the tests of its heap and its idle exit.
const small = new CodeRenderer({ highlightMaxBytes: 1024 * 1024, inlineMaxBytes: 0, oldGenerationMb: 16, youngGenerationMb: 1, idleTimeoutMs: 100 })

afterAll(() => Promise.all([renderer.close(), small.close()]))

describe('CodeRenderer', () => {
  it('refuses renders beyond its queue, and renders the ones it took', async () => {
    const text = 'const x = 1\n'.repeat(20_000)
    // One running, one queued: the third finds the queue full.
    const renders = [1, 2, 3].map(() => renderer.render(text, 'javascript', text.length).then((html) => bytesOf(html).length, (err: Error) => err.message))
    const [first, second, third] = await Promise.all(renders)
    expect(third).toMatch(/render queue is full/)
    expect(renderer.refused).toBe(1)
    expect(first).toBeGreaterThan(text.length)
    expect(second).toBe(first)
    expect(renderer.pending).toBe(0)
  })

  it('refuses a render beyond the bytes its queue may hold, but never the only one', async () => {
    const bounded = new CodeRenderer({ highlightMaxBytes: 0, maxQueueBytes: 100_000 })
    try {
      const big = 'x'.repeat(150_000)
      const smallText = 'y'.repeat(1000)
      // Alone, a paste above the bound still renders; behind it, even a small one is refused.
      const renders = [big, smallText].map((text) => bounded.render(Buffer.from(text), 'plaintext', text.length).then(() => 'rendered', (err: Error) => err.message))
      expect(await Promise.all(renders)).toEqual(['rendered', expect.stringMatching(/render queue is full/)])
      expect(await bounded.render(smallText, 'plaintext', smallText.length).then(() => 'rendered')).toBe('rendered')
    } finally {
      await bounded.close()
    }
  })

  it('renders a paste given as its UTF-8 bytes as it renders its text', async () => {
    const text = 'const café = "☕"\n'.repeat(500)
    const [fromText, fromBytes] = await Promise.all([renderer.render(text, 'javascript', Buffer.byteLength(text)), renderer.render(Buffer.from(text), 'javascript', Buffer.byteLength(text))])
    expect(bytesOf(fromBytes).equals(bytesOf(fromText))).toBe(true)
  })

  it('frames a big paste\'s code block with room for its page, and not a small one\'s', async () => {
    const big = 'let a = 1\n'.repeat(3000)
    const [framed, bare] = await Promise.all([renderer.render(big, 'javascript', big.length), renderer.render('let b = 2\n', 'javascript', 10)])
    expect([framed.start, framed.frame.length - framed.end]).toEqual([PAGE_ROOM.before, PAGE_ROOM.after])
    expect(bytesOf(framed).toString()).toContain('let')
    expect([bare.start, bare.end]).toEqual([0, bare.frame.length])
  })

  it('makes a block with nothing to highlight on this thread, framed, and starts no worker for it', async () => {
    const plain = new CodeRenderer({ highlightMaxBytes: 1000 })
    try {
      const big = 'let a = "<b>" && \'c\'\r\n'.repeat(2000) // 46 KB, above highlightMaxBytes
      const [large, text] = await Promise.all([plain.render(Buffer.from(big), 'javascript', big.length), plain.render('x < y\n', 'plaintext', 6)])
      expect(bytesOf(large).equals(Buffer.from(splitLines(escapeHtml(big), 50_000)))).toBe(true)
      expect([large.start, large.frame.length - large.end]).toEqual([PAGE_ROOM.before, PAGE_ROOM.after])
      expect(bytesOf(text).toString()).toBe('<span id="L1"><a href="#L1" aria-hidden="true" tabindex="-1"></a>x &lt; y</span>\n')
      expect([plain.workers, plain.pending, plain.jobs]).toEqual([0, 0, 2])
    } finally {
      await plain.close()
    }
  })

  it('highlights a paste up to inlineMaxBytes on this thread, as the worker would, and starts no worker for it', async () => {
    const inline = new CodeRenderer({ highlightMaxBytes: 1024 * 1024, inlineMaxBytes: 100 })
    try {
      const text = 'const café = "<☕>"\n'.repeat(4) // 88 bytes
      const above = text + 'let x = 1\n'.repeat(2)
      const [here, fromBytes] = await Promise.all([inline.render(text, 'javascript', Buffer.byteLength(text)), inline.render(Buffer.from(text), 'javascript', Buffer.byteLength(text))])
      expect(inline.workers).toBe(0)
      const onWorker = await small.render(text, 'javascript', Buffer.byteLength(text))
      expect(bytesOf(here).toString()).toContain('<span class="hljs-keyword">const</span>')
      expect(bytesOf(here).equals(bytesOf(onWorker))).toBe(true)
      expect(bytesOf(fromBytes).equals(bytesOf(onWorker))).toBe(true)
      // One byte-size above the bound: the worker's.
      await inline.render(above, 'javascript', Buffer.byteLength(above))
      expect([inline.workers, inline.pending, inline.jobs]).toEqual([1, 0, 3])
    } finally {
      await inline.close()
    }
  })

  it('fails a render that outgrows the worker heap, and renders the next one', async () => {
    // Highlighting 1 MiB of dense tokens builds far more than a 16 MB old generation holds (it
    // fails at 48 MB too; 28,000 lines of 'function f(a, b) { return a + b * 2 }' fit in 24 MB
    // once a line's markup was cut to its anchor, and only just failed at 16).
    const huge = 'f(a,b);g(c,d);h(e);\n'.repeat(52_000)
    await expect(small.render(huge, 'javascript', huge.length)).rejects.toMatchObject({ code: 'ERR_WORKER_OUT_OF_MEMORY' })
    const html = await small.render('let x = 1\n', 'javascript', 10)
    expect(bytesOf(html).toString()).toContain('let')
  })

  it('enters its thread through CommonJS, never through require() of an ES module', async () => {
    // piscina require()s the thread's file first. Node 20 linked an ES module given to require()
    // synchronously, and aborted the process when the thread was terminated at that moment
    // (CodeRenderer.close() while the thread starts): it crashed a CI run, and two in three runs
    // of 300 closes timed around a start. render-thread.cjs is CommonJS and import()s the code.
    const { Worker } = await import('node:worker_threads')
    const probe = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads')
      const entry = require(workerData)
      parentPort.postMessage([Object.prototype.toString.call(entry), typeof entry.default, typeof entry.diffStats, typeof entry.diffBytes])`,
      { eval: true, workerData: fileURLToPath(RENDER_THREAD) },
    )
    try {
      const [message] = (await once(probe, 'message')) as [string[]]
      // A required ES module comes back as its namespace, '[object Module]'.
      expect(message).toEqual(['[object Object]', 'function', 'function', 'function'])
    } finally {
      await probe.terminate()
    }
  })

  it('lets its worker exit when idle, and starts one again for the next render', async () => {
    await small.render('let y = 2\n', 'javascript', 10)
    expect(small.workers).toBe(1)
    for (let i = 0; i < 50 && small.workers > 0; i++) await sleep(50)
    expect(small.workers).toBe(0)
    expect(bytesOf(await small.render('let z = 3\n', 'javascript', 10)).toString()).toContain('z')
  })
})
