import { Piscina } from 'piscina'
import type { DiffStats, DiffTask } from './diff.js'
import { PAGE_ROOM, type FramedBytes } from './PageRenderer.js'
import { plainCodeBlock, plainCodeBlockNow } from './plainCode.js'

export interface CodeRendererOptions {
  /** Larger pastes are shown as plain text: highlighting them costs too much for what it gives. */
  highlightMaxBytes: number
  /**
   * Pastes up to this size are highlighted on this thread, at once, and never start the worker
   * (0: every highlight on the worker). See the class comment.
   */
  inlineMaxBytes?: number
  /** Beyond this many lines, the code block has no per-line anchors (the HTML would balloon). */
  maxAnchoredLines?: number
  /** Render jobs waiting beyond this are refused; such pastes render on their first view. */
  maxQueue?: number
  /**
   * Text held by renders and diffs submitted and not settled, in bytes (characters for diffs):
   * beyond it a job is refused like one beyond `maxQueue`, unless none is in flight. A flood of
   * 1 MiB creates would otherwise hold up to `maxQueue` MiB waiting for the worker.
   */
  maxQueueBytes?: number
  /** The worker's heap: old and young generation, in MB (see config.ts). */
  oldGenerationMb?: number
  youngGenerationMb?: number
  /** The worker exits after this long without work (0: never), and starts again on demand. */
  idleTimeoutMs?: number
}

const DETECT_CHARS = 64 * 1024
/**
 * Pastes from this size on get their code block framed with PAGE_ROOM: its page is then at
 * least as large as the room, so the room never costs more than the join it saves. A smaller
 * paste's page is joined, a copy of a few KB.
 */
const FRAME_FROM_BYTES = PAGE_ROOM.before + PAGE_ROOM.after
const NO_ROOM = { before: 0, after: 0 } as const
/**
 * What render() rejects with when its queue is full. One shared error: under a flood of creates
 * piscina's own, built with a stack trace for each refused render, cost 2.7% of the CPU.
 */
const QUEUE_FULL = new Error('the render queue is full: the page will be rendered on its first view')

/** The render thread's entry point: CommonJS, for the reason the file gives. */
export const RENDER_THREAD = new URL('./render-thread.cjs', import.meta.url)

/**
 * Highlights and line-splits paste text on a worker thread at the lowest CPU priority, so a
 * create never waits for it and page views keep flowing while large pastes render. Text with
 * nothing to highlight (plain text, or larger than highlightMaxBytes) is made on this thread
 * from its bytes instead, in slices (plainCode.ts), within the same queue limits.
 *
 * Small pastes (up to `inlineMaxBytes`, most of them) are highlighted on this thread, at once:
 * ~1-3 ms for 2 KB, at most ~8 ms for 4 KB on the slowest machine measured. For them the worker
 * cost more than it saved: a second V8 heap, ~55 MB of RSS while creates last (3,000 renders of
 * 2 KB measured: RSS +55 MB with the worker, +36 MB on this thread, of which 15 are the young
 * generation this thread has anyway), and a copy of the paste each way. highlight.js is loaded
 * on the first such render, so a process that only serves pages never holds it.
 *
 * But once loaded it stays: its grammars' code and expressions (~9 MB more live heap after the
 * bench's ingest) made every later page view's scavenges dearer (0.94 ms against 0.69), and a
 * page view cost up to ~10% more CPU. So HIGHLIGHT_INLINE_BYTES is 0 by default (docs/performance.md,
 * a fifteenth machine): every highlight on the worker, which exits when creates stop.
 */
export class CodeRenderer {
  private readonly pool: Piscina
  private readonly maxLines: number
  private readonly maxQueue: number
  private readonly maxQueueBytes: number
  private readonly inlineMaxBytes: number
  /** highlight.js and its grammars on this thread, loaded by the first inline render. */
  private inline: Promise<typeof import('./code.js')> | null = null
  private inFlight = 0
  private bytesInFlight = 0
  private submitted = 0
  private refusals = 0

  constructor(private readonly options: CodeRendererOptions) {
    this.maxLines = options.maxAnchoredLines ?? 50_000
    this.maxQueue = options.maxQueue ?? 500
    this.maxQueueBytes = options.maxQueueBytes ?? 8 * 1024 * 1024
    this.inlineMaxBytes = options.inlineMaxBytes ?? 0
    const idleTimeoutMs = options.idleTimeoutMs ?? 5000
    this.pool = new Piscina({
      filename: RENDER_THREAD.href,
      // One thread, started on demand (~0.1 s) and gone when idle: a worker is a second V8 heap
      // and malloc arena, worth paying only while pastes are being created. Its heap is capped;
      // a render that runs out of it fails, and that paste renders on its first view instead.
      minThreads: 0,
      maxThreads: 1,
      maxQueue: this.maxQueue,
      idleTimeout: idleTimeoutMs === 0 ? Infinity : idleTimeoutMs,
      resourceLimits: { maxOldGenerationSizeMb: options.oldGenerationMb ?? 48, maxYoungGenerationSizeMb: options.youngGenerationMb ?? 8 },
    })
  }

  /**
   * The code block's HTML as UTF-8 bytes, rendered on the worker (in `language`, already
   * decided at create), framed with PAGE_ROOM free bytes around them, from FRAME_FROM_BYTES on,
   * so that the page is built in place. Rejects when the queue is full or the worker fails.
   * Give `content` as the paste's stored bytes (well-formed UTF-8) where the caller has them: a
   * queued render then holds one copy of the paste, the bytes the record holds anyway, instead
   * of a second one as a string, and the worker, not the main thread, decodes them (posting
   * bytes is a copy; posting a 1 MiB string cost ~1.2 ms of serializing on this thread).
   */
  async render(content: Buffer | string, language: string, byteSize: number): Promise<FramedBytes> {
    const release = this.admit(content.length)
    try {
      const room = byteSize >= FRAME_FROM_BYTES ? PAGE_ROOM : NO_ROOM
      // Nothing to highlight: made here, from the bytes, in slices (plainCode.ts says why).
      if (language === 'plaintext' || byteSize > this.options.highlightMaxBytes) {
        return await plainCodeBlock(content, this.maxLines, room)
      }
      if (byteSize <= this.inlineMaxBytes) {
        this.inline ??= import('./code.js')
        const frame = (await this.inline).renderBlock({ content, language, options: this.taskOptions(byteSize), room })
        return { frame, start: room.before, end: frame.length - room.after }
      }
      const bytes: Uint8Array = await this.pool.run({ content, language, options: this.taskOptions(byteSize), room })
      const frame = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      return { frame, start: room.before, end: frame.length - room.after }
    } finally {
      release()
    }
  }

  /** Whether a paste of this size renders on this thread at once (highlighted or plain): its create can store the page with it. */
  rendersAtOnce(byteSize: number): boolean {
    return byteSize <= this.inlineMaxBytes
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
    // Characters, not bytes: close enough for a cost limit, and no pass over megabytes here.
    const size = task.oldText.length + task.newText.length
    const release = this.admit(size)
    try {
      return await this.pool.run({ ...task, highlight: size <= this.options.highlightMaxBytes }, { name })
    } finally {
      release()
    }
  }

  /**
   * Renders on this thread without highlighting, at once: the fallback when a page is needed
   * now and the worker has not delivered (~12 ms per MiB).
   */
  renderPlainNow(content: Buffer | string): Buffer {
    return plainCodeBlockNow(content, this.maxLines)
  }

  /** What the browser needs to render a decrypted paste's code block as this would. */
  get browserOptions(): { highlightMaxBytes: number; detectChars: number; maxLines: number } {
    return { highlightMaxBytes: this.options.highlightMaxBytes, detectChars: DETECT_CHARS, maxLines: this.maxLines }
  }

  /** Worker threads running: 0 once the worker has been idle for `idleTimeoutMs` (a gauge in /metrics). */
  get workers(): number {
    return this.pool.threads.length
  }

  /** Takes a job of `size` into the queue, or throws QUEUE_FULL; returns what to call when it settles. */
  private admit(size: number): () => void {
    const full = this.pool.queueSize >= this.maxQueue || (this.inFlight > 0 && this.bytesInFlight + size > this.maxQueueBytes)
    if (full) {
      this.refusals++
      throw QUEUE_FULL
    }
    this.inFlight++
    this.submitted++
    this.bytesInFlight += size
    return () => {
      this.inFlight--
      this.bytesInFlight -= size
    }
  }

  /** Renders and diffs taken into the queue so far. */
  get jobs(): number {
    return this.submitted
  }

  /** Renders and diffs refused because the queue was full (a page refused is rendered on its first view). */
  get refused(): number {
    return this.refusals
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
