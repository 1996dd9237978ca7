import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { QueryError, ValidationError } from '../model/index.js'
import { PasteInputError } from '../pastes/errors.js'
import { HTML, type PageRenderer } from '../pastes/PageRenderer.js'

/**
 * Errors that mean "Redis cannot answer now": the request gets a 503, never a 500 or a hang.
 * The rest are ioredis' Cluster: no node reachable, not ready yet, or a slot whose master is
 * down. A command for such a slot is retried while the slot map is refreshed, then fails with
 * "Too many Cluster redirections", or with the MOVED (or ASK) reply itself when ioredis gives up
 * on it (a transaction, or a batch whose replies disagree).
 */
const REDIS_DOWN = /Connection is closed|Stream isn't writeable|Command timed out|Reached the max retries|connect ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTFOUND|^(OOM|LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|MOVED|ASK)\b|None of (the )?startup nodes|Cluster isn't ready|Too many Cluster redirections|Failed to refresh slots cache|Cluster is (disconnect|ended)/

export function isRedisUnavailable(err: unknown): boolean {
  return err instanceof Error && (err.name === 'MaxRetriesPerRequestError' || REDIS_DOWN.test(err.message))
}

const TITLES = new Map<number, string>([
  [400, 'That did not work'],
  [403, 'Not allowed'],
  [404, 'Paste not found'],
  [405, 'Method not allowed'],
  [409, 'Conflict'],
  [408, 'Too slow'],
  [413, 'Too large'],
  [414, 'Address too long'],
  [415, 'Unsupported content type'],
  [429, 'Slow down'],
  [431, 'Headers too large'],
  [500, 'Something went wrong'],
  [503, 'Temporarily unavailable'],
])

export function wantsHtml(request: Pick<FastifyRequest, 'headers'>): boolean {
  return (request.headers.accept ?? '').includes('text/html')
}

/** What an error's form depends on: where it was sent, what the client reads, and its method. */
export interface ErrorTarget {
  method: string
  url: string
  headers: { accept?: string | undefined }
}

function isApi(url: string): boolean {
  return url.startsWith('/api/') || url === '/api' || url.startsWith('/api?')
}

/** An error never echoes a whole URL back (a bad one can be ~10 KB): its page names at most this much. */
const MAX_ECHOED_PATH = 200

/** The canonical address an error page names: its path, without the query, and only when short. */
function errorPagePath(url: string): string {
  const path = url.split('?', 1)[0] ?? '/'
  return path.length <= MAX_ECHOED_PATH && path.startsWith('/') ? path : '/'
}

/**
 * The one rule for every reply, whatever produced it: a HEAD never gets a body, nor does a
 * client whose request could not be read (it may be waiting for the answer to a HEAD). Node's
 * http module keeps it for replies sent through Fastify; clientErrors.ts writes to the socket
 * itself and keeps it through errorPayload.
 */
export function mayHaveBody(method: string | undefined): boolean {
  return method !== undefined && method !== 'HEAD'
}

/**
 * An error in the form the client reads: JSON `{error}` on the API, an HTML page to a browser,
 * and a plain line to curl and friends; nothing at all when it may have no body. Every error
 * goes through here, whether Fastify's reply sends it or the HTTP parser's rejection is written
 * straight to the socket (`target` is then undefined when the request could not be read).
 */
export function errorPayload(target: ErrorTarget | undefined, status: number, message: string, pages: PageRenderer): { type: string; body: string } {
  if (target === undefined || !mayHaveBody(target.method)) return { type: 'text/plain; charset=utf-8', body: '' }
  if (isApi(target.url)) return { type: 'application/json; charset=utf-8', body: JSON.stringify({ error: message }) }
  if (wantsHtml(target)) {
    const title = TITLES.get(status) ?? 'Error'
    const meta = pages.siteMeta(`${title} · redbin`, message, errorPagePath(target.url), 'noindex')
    return { type: HTML, body: pages.render('error', { status, title, message, meta }) }
  }
  return { type: 'text/plain; charset=utf-8', body: `${message}\n` }
}

/** Sends an error through Fastify's reply (see errorPayload for its form). */
export async function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
  pages: PageRenderer,
): Promise<FastifyReply | string> {
  const { type, body } = errorPayload(request, status, message, pages)
  return reply.code(status).header('cache-control', 'no-store').type(type).send(body)
}

/** Maps any error to a status and a message a person understands; internals never leak. */
function classify(err: FastifyError | Error): { status: number; message: string } {
  if (err instanceof PasteInputError) return { status: err.status, message: err.message }
  if (err instanceof ValidationError || err instanceof QueryError) return { status: 400, message: err.message }
  if (isRedisUnavailable(err)) return { status: 503, message: 'The paste store is unavailable right now. Please try again in a moment.' }
  const e = err as FastifyError & { part?: unknown }
  if (e.validation) {
    const first = e.validation[0]
    const unknown = first?.params?.additionalProperty
    if (unknown !== undefined) return { status: 400, message: `${String(unknown)} is not a field this accepts` }
    const field = first?.instancePath?.replace(/^\//, '').replace(/\//g, '.') || String(first?.params?.missingProperty ?? '')
    const where = field || e.validationContext || 'request'
    return { status: 400, message: `${where} ${first?.message ?? 'is invalid'}` }
  }
  // busboy throws plain Errors for a broken multipart body (no boundary, cut short): the
  // client's fault, so a 400, never a 500.
  if (/^Multipart: Boundary not found|unexpected end of multipart data/i.test(e.message)) {
    return { status: 400, message: 'The multipart form is malformed or incomplete.' }
  }
  switch (e.code) {
    // Fastify's router answers these itself unless given frameworkErrors (app.ts): their own
    // messages quote the whole URL.
    case 'FST_ERR_BAD_URL':
      return { status: 400, message: 'The address has a broken percent-encoding (a % must be followed by two hex digits).' }
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { status: 414, message: 'The address is too long.' }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return { status: 413, message: 'The upload is larger than this server accepts.' }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return { status: 415, message: 'Send a form, JSON, or the raw text (Content-Type: text/plain).' }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, message: 'The body is not valid JSON.' }
    // Also what Fastify's parser throws on a __proto__ or constructor key (prototype poisoning).
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'The body is not valid JSON, or has a __proto__ or constructor key.' }
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, message: e.message }
  return { status: 500, message: 'Something went wrong on our side. It has been logged.' }
}

export interface ErrorRepliesOptions {
  pages: PageRenderer
  /** helmet's headers (securityHeaders.ts): an error answered before any hook ran gets them too. */
  securityHeaders: Readonly<Record<string, string>>
  onRedisError?: () => void
}

/**
 * The one error path. `handle` answers every error a request meets, including Fastify's own
 * routing errors (the `frameworkErrors` option, which no hook or handler of the app would
 * otherwise see), and `notFound` every address no route serves. clientErrors.ts answers what
 * the HTTP parser rejects, in the same form.
 */
export function errorReplies({ pages, securityHeaders, onRedisError }: ErrorRepliesOptions) {
  const handle = async (err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) => {
    const { status, message } = classify(err)
    const retryAfter = err instanceof PasteInputError ? err.retryAfterSeconds : undefined
    if (status === 503 && !(err instanceof PasteInputError)) {
      onRedisError?.()
      request.log.warn({ err: err.message }, 'redis unavailable')
    } else if (status >= 500) {
      request.log.error({ err, url: request.url, method: request.method }, 'request failed')
    }
    reply.headers(securityHeaders)
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter))
    else if (status === 503) reply.header('retry-after', '5')
    return sendError(request, reply, status, message, pages)
  }
  const notFound = async (request: FastifyRequest, reply: FastifyReply) => sendError(request, reply, 404, 'There is nothing at this address.', pages)
  return { handle, notFound }
}

export type ErrorReplies = ReturnType<typeof errorReplies>

export const errorsPlugin = fp<{ replies: ErrorReplies }>(
  async (app: FastifyInstance, { replies }) => {
    app.setErrorHandler<FastifyError | Error>(replies.handle)
    app.setNotFoundHandler(replies.notFound)
  },
  { name: 'redbin-errors' },
)
