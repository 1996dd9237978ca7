import type {} from '@fastify/view'
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

const TITLES: Record<number, string> = {
  400: 'That did not work',
  403: 'Not allowed',
  404: 'Paste not found',
  405: 'Method not allowed',
  413: 'Too large',
  415: 'Unsupported content type',
  429: 'Slow down',
  500: 'Something went wrong',
  503: 'Temporarily unavailable',
}

export function wantsHtml(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/html')
}

function isApi(request: FastifyRequest): boolean {
  return request.url.startsWith('/api/') || request.url === '/api'
}

/**
 * Sends an error in the form the client reads: JSON `{error}` on the API, an HTML page to a
 * browser, and a plain line to curl and friends.
 */
export async function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  message: string,
  pages: PageRenderer,
): Promise<FastifyReply | string> {
  reply.code(status).header('cache-control', 'no-store')
  if (isApi(request)) return reply.send({ error: message })
  if (wantsHtml(request) && request.method !== 'HEAD') {
    const title = TITLES[status] ?? 'Error'
    return reply.type(HTML).send(await reply.viewAsync('error', { status, title, message, meta: pages.siteMeta(`${title} · redbin`, message, request.url, 'noindex') }))
  }
  return reply.type('text/plain; charset=utf-8').send(`${message}\n`)
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
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, message: 'The body is not valid JSON.' }
  }
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, message: e.message }
  return { status: 500, message: 'Something went wrong on our side. It has been logged.' }
}

export interface ErrorPluginOptions {
  pages: PageRenderer
  onRedisError?: () => void
}

export const errorsPlugin = fp<ErrorPluginOptions>(
  async (app: FastifyInstance, { pages, onRedisError }) => {
    app.setErrorHandler<FastifyError | Error>(async (err, request, reply) => {
      const { status, message } = classify(err)
      if (status === 503) {
        onRedisError?.()
        request.log.warn({ err: err.message }, 'redis unavailable')
      } else if (status >= 500) {
        request.log.error({ err, url: request.url, method: request.method }, 'request failed')
      }
      if (err instanceof PasteInputError && err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds))
      if (status === 503) reply.header('retry-after', '5')
      return sendError(request, reply, status, message, pages)
    })
    app.setNotFoundHandler(async (request, reply) => sendError(request, reply, 404, 'There is nothing at this address.', pages))
  },
  { name: 'redbin-errors' },
)
