import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Metrics } from '../plugins/metrics.js'
import { isPasteId } from '../pastes/ids.js'
import { HTML } from '../pastes/PageRenderer.js'
import type { PageView, PasteService } from '../pastes/PasteService.js'
import { ownerCookie } from './shared.js'

export interface FastViewsDeps {
  pastes: PasteService
  /** The headers every response carries (securityHeaders' onRequest hook sets them on the others). */
  securityHeaders: Readonly<Record<string, string>>
  metrics: Metrics
}

/** A view this path read from Redis and left to Fastify to answer (a burn paste, none, an error). */
const PRELOADED = Symbol('redbin.preloadedView')
type Preloaded = IncomingMessage & { [PRELOADED]?: Promise<PageView | null> }

/** The view `fastPageViews` already loaded for this request, if it did: GET /:id must not load (and count) it again. */
export function takePreloadedView(req: IncomingMessage): Promise<PageView | null> | undefined {
  const view = (req as Preloaded)[PRELOADED]
  delete (req as Preloaded)[PRELOADED]
  return view
}

/**
 * Answers `GET /:id` by someone who does not own the paste before Fastify sees the request:
 * from the page cache at once, else with the page read from Redis; the rest (a burn paste's
 * warning, a 404, an error) goes to Fastify's route with the view already loaded
 * (`takePreloadedView`), so it is read and counted once. Every other request goes to Fastify
 * unchanged. The response is the one the route sends (pages.ts): same status, headers and
 * bytes, the view counted the same way, and the same metrics (route `/:id`).
 *
 * Why: a view through Fastify cost ~40 µs of server CPU more than bare Fastify sending the same
 * bytes: routing, the hooks (security headers set one by one, cookies, metrics), the reply
 * object, a child logger, the async handler. Here it is a regular expression, the load, and one
 * write. The seed's own test (10,000 views of one page over 5 connections) is bound by that CPU,
 * as each turn of the event loop serves about one view: measured on one core, 5 connections,
 * alternating runs, 76-79 µs per view against 96-97 through Fastify (bare Fastify: 82).
 * Not logged per request, unlike Fastify's requests at LOG_LEVEL=info: counted in /metrics.
 */
export function fastPageViews({ pastes, securityHeaders, metrics }: FastViewsDeps): FirstHandler {
  const headers = [...Object.entries(securityHeaders).flat(), 'content-type', HTML, 'cache-control', 'private, no-cache']
  const send = (res: ServerResponse, parts: readonly Buffer[], started: number) => {
    let length = 0
    for (const part of parts) length += part.length
    res.writeHead(200, [...headers, 'content-length', String(length)])
    // Corked, the head and the parts leave in one write; end() uncorks.
    res.cork()
    const last = parts.length - 1
    for (let i = 0; i < last; i++) res.write(parts[i])
    res.end(parts[last])
    metrics.count('paste_views')
    metrics.observe('GET', '/:id', 200, (performance.now() - started) / 1000)
  }
  return (req, res, next) => {
    const url = req.url
    if (req.method !== 'GET' || url === undefined || url.length !== 11) return next()
    const id = url.slice(1)
    if (!isPasteId(id) || req.headers.cookie?.includes(ownerCookie(id))) return next()
    const started = performance.now()
    const parts = pastes.cachedPageView(id)
    if (parts !== null) return send(res, parts, started)
    const loading = pastes.viewPage(id, undefined)
    loading.then((view) => {
      if (view?.kind === 'page') return send(res, view.html, started)
      ;(req as Preloaded)[PRELOADED] = loading
      next()
    }, () => {
      ;(req as Preloaded)[PRELOADED] = loading
      next()
    })
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
