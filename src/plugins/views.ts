import view from '@fastify/view'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { VIEWS_DIR, type PageRenderer } from '../pastes/PageRenderer.js'

declare module 'fastify' {
  interface FastifyReply {
    /** @fastify/view's request-wide template data: never set here (see below). */
    locals: Record<string, unknown> | null
  }
}

/**
 * `reply.viewAsync()` for the pages made per request: home, list and the burn warning. The design
 * card names @fastify/view; measured against calling eta directly, it costs a paste view
 * nothing we could see, and a rendered page ~1-5 µs of CPU (docs/performance.md). It uses the
 * eta instance that renders a paste's page once, when the paste is created, so a paste view
 * never renders a template. Registered for the whole app: its decorators cost a request nothing.
 *
 * Error pages do not use it: the one error path (errors.ts) also answers what the HTTP parser
 * rejects, straight on the socket, where there is no reply and nothing may be awaited, and
 * @fastify/view only renders asynchronously. They call PageRenderer.render, on the same eta
 * instance, compiled once in production too; that also keeps the ~11% it added to a 404 page.
 *
 * In production eta compiles each template once and keeps it (its `cache`). @fastify/view sets
 * eta's `cache` and `views` from `production` and `templates` on every render, so both come
 * from the PageRenderer's own settings; eta's other settings (escaping) live on that instance,
 * as @fastify/view passes `options` to each render, not to eta's configuration.
 */
export const viewsPlugin = fp<{ pages: PageRenderer }>(
  async (app: FastifyInstance, { pages }) => {
    // @fastify/view adds an onRequest hook to every request (paste views, raw reads, the API),
    // which sets `reply.locals = {}`, unless a `locals` reply decorator exists. No template reads
    // request-wide locals, so declaring it keeps every route that renders nothing hook-free.
    app.decorateReply('locals', null)
    await app.register(view, {
      engine: { eta: pages.eta },
      templates: VIEWS_DIR,
      production: pages.eta.config.cache,
      defaultContext: { assets: pages.assets },
    })
  },
  { name: 'redbin-views' },
)
