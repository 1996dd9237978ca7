import type { FastifyReply, FastifyRequest } from 'fastify'
import { PasteInputError } from './errors.js'

/** What a refused client is told to wait: creates in flight finish within a second or two. */
const RETRY_AFTER_SECONDS = 2

/**
 * Bounds the body bytes of creates in flight in this process (CREATE_BYTES_IN_FLIGHT). A 1 MiB
 * create holds ~10-20 MB of buffers and strings while it is parsed, stored and rendered (the
 * body, its text, the bytes, ioredis' copies, the page): a burst of them, not the pastes kept,
 * is what drives a process's peak memory, and memory malloc keeps after it. Checked before the
 * body is read, on its Content-Length (or the route's body limit when the length is not given):
 * a create beyond the budget gets a 503 with Retry-After at once and never allocates its body.
 * One create is always admitted, whatever its size, so a budget below one body never blocks.
 */
export class CreateBytesBudget {
  private bytes = 0
  private creates = 0

  constructor(readonly maxBytes: number) {}

  /** An onRequest hook: takes the request's body bytes from the budget until its reply is done, or refuses it. */
  readonly admit = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (this.maxBytes === 0) return
    const declared = Number(request.headers['content-length'])
    const size = Number.isSafeInteger(declared) && declared >= 0 ? declared : request.routeOptions.bodyLimit ?? this.maxBytes
    if (this.creates > 0 && this.bytes + size > this.maxBytes) {
      throw new PasteInputError(503, null, `The server is busy with other large pastes. Try again in ${RETRY_AFTER_SECONDS} s.`, RETRY_AFTER_SECONDS)
    }
    this.creates++
    this.bytes += size
    // 'close' comes once the reply is sent, or the connection is gone: on every way out.
    reply.raw.once('close', () => {
      this.creates--
      this.bytes -= size
    })
  }

  /** Body bytes of the creates in flight. */
  get inFlight(): number {
    return this.bytes
  }
}
