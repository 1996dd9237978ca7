import type { FastifyReply, FastifyRequest } from 'fastify'
import { PasteInputError } from './errors.js'

/** What a refused client is told to wait: creates and edits in flight finish within a second or two. */
const RETRY_AFTER_SECONDS = 2

interface Waiter {
  size: number
  /** Takes its bytes and lets its request go on. */
  admit: () => void
}

/**
 * Bounds the body bytes of creates and edits in flight in this process (CREATE_BYTES_IN_FLIGHT;
 * the name is older than the edits under it). A 1 MiB create holds ~10-20 MB of buffers and
 * strings while it is parsed, stored and rendered (the body, its text, the bytes, ioredis'
 * copies, the page), and an edit the same and its diff: a burst of them, not the pastes kept, is
 * what drives a process's peak memory, and memory malloc keeps after it. Creates and edits share
 * one budget and one queue: memory does not care which a body is. Checked before the body is
 * read, on its Content-Length (or the route's body limit when the length is not given).
 *
 * A request beyond the budget waits, first come first served, with its body unread (TCP holds
 * the sender back), and goes on once the requests before it are done: a burst is slowed, not
 * refused. Only one that waited CREATE_WAIT_MS in vain gets a 503 with Retry-After. One request
 * is always admitted, whatever its size, so a budget below one body never blocks.
 */
export class CreateBytesBudget {
  private bytes = 0
  /** Requests holding bytes (creates and edits). */
  private holders = 0
  private arrivals = 0
  private readonly waiting: Waiter[] = []

  constructor(readonly maxBytes: number, readonly maxWaitMs: number) {}

  /** An onRequest hook: takes the request's body bytes from the budget until its reply is done, waiting its turn if need be. */
  readonly admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    this.arrivals++
    // Unbounded, a request is still counted in flight (for `busy`), with no bytes.
    if (this.maxBytes === 0) return this.take(0, reply)
    const declared = Number(request.headers['content-length'])
    const size = Number.isSafeInteger(declared) && declared >= 0 ? declared : request.routeOptions.bodyLimit ?? this.maxBytes
    if (this.waiting.length === 0 && this.fits(size)) this.take(size, reply)
    else await this.wait(size, reply)
  }

  /** Body bytes of the creates and edits in flight. */
  get inFlight(): number {
    return this.bytes
  }

  /** Creates and edits in flight: holding bytes or waiting for them. */
  get busy(): boolean {
    return this.holders > 0 || this.waiting.length > 0
  }

  /** Creates and edits that have come in so far. */
  get arrived(): number {
    return this.arrivals
  }

  /** Creates and edits waiting for their turn. */
  get queued(): number {
    return this.waiting.length
  }

  private fits(size: number): boolean {
    return this.holders === 0 || this.bytes + size <= this.maxBytes
  }

  private take(size: number, reply: FastifyReply) {
    this.holders++
    this.bytes += size
    // 'close' comes once the reply is sent, or the connection is gone: on every way out.
    reply.raw.once('close', () => {
      this.holders--
      this.bytes -= size
      this.admitWaiting()
    })
  }

  /** Resolves once the request has taken its bytes; rejects with a 503 after maxWaitMs. */
  private wait(size: number, reply: FastifyReply): Promise<void> {
    return new Promise((resolve, reject) => {
      const leave = () => {
        clearTimeout(timer)
        reply.raw.off('close', gone)
        const at = this.waiting.indexOf(waiter)
        if (at >= 0) this.waiting.splice(at, 1)
      }
      const waiter: Waiter = {
        size,
        admit: () => {
          leave()
          this.take(size, reply)
          resolve()
        },
      }
      const timer = setTimeout(() => {
        leave()
        // It may have been the first, the one that did not fit: those behind it may.
        this.admitWaiting()
        reject(new PasteInputError(503, null, `The server is busy with other large pastes. Try again in ${RETRY_AFTER_SECONDS} s.`, RETRY_AFTER_SECONDS))
      }, this.maxWaitMs)
      // A client gone while waiting takes nothing.
      const gone = () => {
        leave()
        this.admitWaiting()
      }
      reply.raw.once('close', gone)
      this.waiting.push(waiter)
    })
  }

  /** Admits waiters in order while the first fits: a big body is never passed for ever by small ones. */
  private admitWaiting() {
    while (this.waiting.length > 0 && this.fits(this.waiting[0]!.size)) this.waiting[0]!.admit()
  }
}
