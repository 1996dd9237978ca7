import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Metrics } from '../plugins/metrics.js'
import { isPasteId } from '../pastes/ids.js'
import { HTML } from '../pastes/PageRenderer.js'
import type { PasteService, RawPaste } from '../pastes/PasteService.js'
import { LATEST_CACHE_SECONDS, rawContentHeaders, rawPasteHeaders } from './raw.js'
import { ownerCookie, preload, writeParts } from './shared.js'

export interface FastViewsDeps {
  pastes: PasteService
  /** The headers every response carries (securityHeaders' onRequest hook sets them on the others). */
  securityHeaders: Readonly<Record<string, string>>
  metrics: Metrics
}

/**
 * Answers `GET /:id` by someone who does not own the paste, and `GET /:id/raw` without
 * If-None-Match, before Fastify sees the request: from the page cache at once, else with what
 * it reads from Redis; what it does not answer then (a burn paste, a 404, an error) goes on to
 * Fastify's route with the read already made (`takePreloaded`, shared.ts), so it is read, counted and burned
 * once. Every other request goes to Fastify unchanged. The responses are the routes' (pages.ts,
 * raw.ts): same status, headers and bytes, views counted the same way, the same metrics.
 *
 * Why: a view through Fastify cost ~40 µs of server CPU more than bare Fastify sending the same
 * bytes: routing, the hooks (security headers set one by one, cookies, metrics), the reply
 * object, a child logger, the async handler. Here it is a string test, the read, and one write.
 * The seed's own test (10,000 views of one page over 5 connections) is bound by that CPU, as
 * each turn of the event loop serves about one view: measured on one core, 5 connections,
 * alternating runs, 76-79 µs per view against 96-97 through Fastify (bare Fastify: 82); in the
 * bench, seed went from 0.56 to 0.87 × its ceiling and page from 1.86 to 1.67 × its CPU.
 * Not logged per request, unlike Fastify's requests at LOG_LEVEL=info: counted in /metrics.
 */
export function fastViews({ pastes, securityHeaders, metrics }: FastViewsDeps): FirstHandler {
  const security = Object.entries(securityHeaders)
  const pageHeaders = [...security.flat(), 'content-type', HTML, 'cache-control', 'private, no-cache']
  const sendPage = (res: ServerResponse, parts: readonly Buffer[], started: number) => {
    writeParts(res, 200, pageHeaders, parts)
    metrics.observe('GET', '/:id', 200, (performance.now() - started) / 1000)
    metrics.count('paste_views')
  }
  // The raw headers replace the security headers of the same name (the content-security-policy);
  // what depends only on the paste's kind is joined once.
  const rawBase = (kind: RawPaste['kind']) => {
    const headers = new Map(security)
    for (const [name, value] of rawContentHeaders(kind)) headers.set(name, value)
    return [...headers].flat()
  }
  const rawPlain = rawBase(null)
  const rawEncrypted = rawBase('encrypted')
  const sendRaw = (res: ServerResponse, id: string, paste: RawPaste, started: number) => {
    const headers = paste.kind === 'encrypted' ? [...rawEncrypted] : [...rawPlain]
    for (const [name, value] of rawPasteHeaders(paste, `"${id}-r${paste.revision}"`, LATEST_CACHE_SECONDS)) headers.push(name, value)
    writeParts(res, 200, headers, [paste.content])
    metrics.observe('GET', '/:id/raw', 200, (performance.now() - started) / 1000)
  }
  const handOn = (req: IncomingMessage, read: Promise<unknown>, next: () => void) => {
    preload(req, read)
    next()
  }
  return (req, res, next) => {
    const url = req.url
    if (req.method !== 'GET' || url === undefined || url.charCodeAt(0) !== 47) return next()
    const raw = url.length === 15 && url.endsWith('/raw')
    if (url.length !== 11 && !raw) return next()
    const id = url.slice(1, 11)
    if (!isPasteId(id)) return next()
    const started = performance.now()
    if (raw) {
      if (req.headers['if-none-match'] !== undefined) return next()
      const reading = pastes.rawView(id)
      if (!(reading instanceof Promise)) return sendRaw(res, id, reading, started)
      reading.then((paste) => {
        if (paste && !paste.burn) sendRaw(res, id, paste, started)
        else handOn(req, reading, next)
      }, () => handOn(req, reading, next))
      return
    }
    if (req.headers.cookie?.includes(ownerCookie(id))) return next()
    const loading = pastes.pageView(id)
    if (Array.isArray(loading)) return sendPage(res, loading, started)
    loading.then((view) => {
      if (view?.kind === 'page') sendPage(res, view.html, started)
      else handOn(req, loading, next)
    }, () => handOn(req, loading, next))
  }
}

/** A handler of requests in front of Fastify's: it answers the request, or calls `next` (Fastify's). */
export type FirstHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void

/** Puts `first` before Fastify's handler of `server`'s requests: what it answers never reaches Fastify. */
export function answerFirst(server: Server, first: FirstHandler): void {
  const [fastify, ...others] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[]
  if (fastify === undefined) throw new Error('answerFirst: the server has no request handler yet')
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => first(req, res, () => fastify(req, res)))
  for (const other of others) server.on('request', other)
}
