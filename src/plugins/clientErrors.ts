// What the HTTP parser rejects (broken framing, headers over Node's limit, a request that took
// longer than requestTimeout) never becomes a request: Node hands it to the server's
// 'clientError' event with the bare socket, and the answer is written straight to it.
// Fastify's default writes its own JSON with none of our headers, and a body even when the
// client waits for the answer to a HEAD: on a keep-alive connection those bytes are then read
// as the start of the next response (the raw material of request smuggling). Here the answer
// has the app's form and headers (errors.ts), and a body only when the client is known to be
// waiting for something other than a HEAD.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { PageRenderer } from '../pastes/PageRenderer.js'
import { errorPayload, type ErrorTarget } from './errors.js'

/** Node's parser errors: `rawPacket` holds the bytes it failed on (a Buffer, whatever Fastify's type says). */
interface ParserError extends Error {
  code?: string
  rawPacket?: unknown
}

function statusOf(err: ParserError): { status: number; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, message: 'The request headers are larger than this server accepts.' }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, message: 'The request took too long to arrive.' }
    default:
      return { status: 400, message: 'The request is not valid HTTP.' }
  }
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/\d\.\d\r?\n/
const ACCEPT = /\r?\naccept:[ \t]*([^\r\n]*)/gi

/**
 * The request the rejected bytes begin with, when they begin with a whole request line;
 * undefined when they do not (a fragment, or the junk after a request's real end).
 */
function requestIn(raw: unknown): ErrorTarget | undefined {
  if (!Buffer.isBuffer(raw)) return undefined
  // All of it: a rejected head is at most one read of the socket, and Accept may come last.
  const head = raw.toString('latin1')
  const line = REQUEST_LINE.exec(head)
  if (!line) return undefined
  // Several Accept headers count as one list, as Node joins them for a request it parsed.
  const accept = [...head.matchAll(ACCEPT)].map((match) => match[1]).join(', ')
  return { method: line[1] as string, url: line[2] as string, headers: { accept } }
}

export interface ClientErrorOptions {
  pages: PageRenderer
  securityHeaders: Readonly<Record<string, string>>
  /** Called for each request answered here (the metrics count them: they never reach a route). */
  onAnswer?: (status: number) => void
}

/**
 * `track` follows, per connection, the responses its client still waits for (the server's
 * 'request' event); `answer` is the server's clientErrorHandler (Fastify's option of that name).
 *
 * The oldest is the one Node has given the socket (`_httpMessage`: Node's own record, set
 * before 'request' is emitted and cleared once the response has finished). Only responses to
 * pipelined requests, which wait behind it, are kept here: in a queue on the socket itself,
 * oldest first. Keeping every response, as before, kept each connection's last response (and its
 * request) alive until the connection's next request: under page views over 50 connections that
 * was about half of what survived each scavenge, and scavenges took 1.58 ms instead of 1.30.
 * (A WeakMap of sockets, earlier still, made every scavenge ~10 times slower with a connection per
 * request, the seed's ab test: its ephemeron table.)
 */
const WAITING = Symbol('redbin.waiting')
type TrackedSocket = Socket & { [WAITING]?: ServerResponse[]; _httpMessage?: ServerResponse | null }

export function clientErrorReplies({ pages, securityHeaders, onAnswer }: ClientErrorOptions) {
  const fixedHeaders = Object.entries({ ...securityHeaders, 'cache-control': 'no-store', connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`).join('')

  function track(request: IncomingMessage, response: ServerResponse) {
    const socket: TrackedSocket = request.socket
    let queue = socket[WAITING]
    if (queue !== undefined) while (queue.length > 0 && queue[0]?.writableEnded) queue.shift()
    if (socket._httpMessage === response) return
    if (queue === undefined) socket[WAITING] = queue = []
    queue.push(response)
  }

  function answer(this: FastifyInstance | undefined, err: ParserError, socket: Socket): void {
    // As Node's own default: a reset connection or one already answered has nobody to tell.
    if (err.code === 'ECONNRESET' || socket.destroyed || socket.writableEnded) return
    this?.log.debug({ code: err.code }, 'client error')
    // The client reads whatever comes next as the answer to its oldest unanswered request.
    const tracked = socket as TrackedSocket
    const current = tracked._httpMessage
    const inFlight = current && !current.writableEnded ? current : tracked[WAITING]?.find((response) => !response.writableEnded)
    if (!socket.writable || inFlight?.headersSent) {
      // Part of that answer is out already: anything written now would corrupt it.
      socket.destroy()
      return
    }
    const target: ErrorTarget | undefined = inFlight
      ? { method: inFlight.req.method ?? '', url: inFlight.req.url ?? '/', headers: inFlight.req.headers }
      : requestIn(err.rawPacket)
    const { status, message } = statusOf(err)
    onAnswer?.(status)
    const { type, body } = errorPayload(target, status, message, pages)
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${fixedHeaders}content-type: ${type}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      () => socket.destroy(),
    )
  }

  return { track, answer }
}
