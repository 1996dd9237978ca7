import view from '@fastify/view'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { VIEWS_DIR, type PageRenderer } from '../pastes/PageRenderer.js'

/**
 * `reply.viewAsync()` for the pages made per request: home, list, errors and the burn warning.
 * It uses the eta instance that renders a paste's page once, when the paste is created, so a
 * paste view never renders a template. Registered for the whole app, because an error page can
 * come from any route.
 *
 * In production eta compiles each template once and keeps it (its `cache`). @fastify/view sets
 * eta's `cache` and `views` from `production` and `templates` on every render, so both come
 * from the PageRenderer's own settings; eta's other settings (escaping) live on that instance,
 * as @fastify/view passes `options` to each render, not to eta's configuration.
 * What it costs per request, measured: docs/performance.md, "@fastify/view".
 */
export const viewsPlugin = fp<{ pages: PageRenderer }>(
  async (app: FastifyInstance, { pages }) => {
    await app.register(view, {
      engine: { eta: pages.eta },
      templates: VIEWS_DIR,
      production: pages.eta.config.cache,
      defaultContext: { assets: pages.assets },
    })
  },
  { name: 'redbin-views' },
)
