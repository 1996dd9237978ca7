import { Piscina } from 'piscina'
import { renderCode } from './code.js'
import type { DiffStats, DiffTask } from './diff.js'

export interface CodeRendererOptions {
  /** Larger pastes are shown as plain text: highlighting them costs too much for what it gives. */
  highlightMaxBytes: number
  /** Beyond this many lines, the code block has no per-line anchors (the HTML would balloon). */
  maxAnchoredLines?: number
  /** Render jobs waiting beyond this are refused; such pastes render on their first view. */
  maxQueue?: number
}

const DETECT_CHARS = 64 * 1024
/**
 * What render() rejects with when its queue is full. One shared error: under a flood of creates
 * piscina's own, built with a stack trace for each refused render, cost 2.7% of the CPU.
 */
const QUEUE_FULL = new Error('the render queue is full: the page will be rendered on its first view')

/**
 * Highlights and line-splits paste text on a worker thread at the lowest CPU priority, so a
 * create never waits for it and page views keep flowing while large pastes render.
 */
export class CodeRenderer {
  private readonly pool: Piscina
  private readonly maxLines: number
  private readonly maxQueue: number
  private inFlight = 0

  constructor(private readonly options: CodeRendererOptions) {
    this.maxLines = options.maxAnchoredLines ?? 50_000
    this.maxQueue = options.maxQueue ?? 2000
    this.pool = new Piscina({
      filename: new URL('./code-worker.js', import.meta.url).href,
      // One thread, started on demand and gone after 30 s idle: a worker is a second V8 heap
      // (~45 MB of RSS), worth paying only while pastes are being created. Its heap is capped;
      // a render that runs out of it fails, and that paste renders on its first view instead.
      minThreads: 0,
      maxThreads: 1,
      maxQueue: this.maxQueue,
      idleTimeout: 30_000,
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 16 },
    })
  }

  /**
   * The code block's HTML as UTF-8 bytes, rendered on the worker (in `language`, already
   * decided at create). Rejects when the queue is full or the worker fails.
   */
  async render(text: string, language: string, byteSize: number): Promise<Buffer> {
    if (this.pool.queueSize >= this.maxQueue) throw QUEUE_FULL
    this.inFlight++
    try {
      const bytes: Uint8Array = await this.pool.run({ text, language, options: this.taskOptions(byteSize) })
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    } finally {
      this.inFlight--
    }
  }

  /** Lines added and removed, counted on the worker; null when jsdiff gave up within `task.timeoutMs`. */
  diffStats(task: Omit<DiffTask, 'highlight' | 'format'>): Promise<DiffStats | null> {
    return this.runDiff('diffStats', { ...task, format: 'stats' })
  }

  /**
   * A patch, or the diff page's part (highlighted within the same size limit as pages), as
   * UTF-8 bytes computed on the worker; null when jsdiff gave up within `task.timeoutMs`.
   * Rejects when the queue is full or the worker fails.
   */
  async diffBytes(task: Omit<DiffTask, 'highlight'>): Promise<Buffer | null> {
    const bytes = await this.runDiff<Uint8Array>('diffBytes', task)
    return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  private async runDiff<T>(name: string, task: Omit<DiffTask, 'highlight'>): Promise<T | null> {
    if (this.pool.queueSize >= this.maxQueue) throw QUEUE_FULL
    // Characters, not bytes: close enough for a cost limit, and no pass over megabytes here.
    const highlight = task.oldText.length + task.newText.length <= this.options.highlightMaxBytes
    this.inFlight++
    try {
      return await this.pool.run({ ...task, highlight }, { name })
    } finally {
      this.inFlight--
    }
  }

  /**
   * Renders on this thread without highlighting: the fallback when a page is needed now and
   * the worker has not delivered (escaping and splitting cost ~12 ms per MiB).
   */
  renderPlainNow(text: string, language: string): Buffer {
    return Buffer.from(renderCode(text, language, { highlight: false, detectChars: DETECT_CHARS, maxLines: this.maxLines }).html)
  }

  /** What the browser needs to render a decrypted paste's code block as this would. */
  get browserOptions(): { highlightMaxBytes: number; detectChars: number; maxLines: number } {
    return { highlightMaxBytes: this.options.highlightMaxBytes, detectChars: DETECT_CHARS, maxLines: this.maxLines }
  }

  /** Renders submitted and not yet settled: queued plus running (a gauge in /metrics). */
  get pending(): number {
    return this.inFlight
  }

  close(): Promise<void> {
    return this.pool.destroy()
  }

  private taskOptions(byteSize: number) {
    return { highlight: byteSize <= this.options.highlightMaxBytes, detectChars: DETECT_CHARS, maxLines: this.maxLines }
  }
}
