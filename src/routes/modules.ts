import type { FastifyInstance } from 'fastify'
import type { BrowserModules } from '../pastes/BrowserModules.js'

/**
 * The browser's ES modules (encrypted pages, the form's encrypt step, highlight.js), from
 * memory, under the hash of them all: a URL's content never changes, so browsers keep it.
 */
export async function moduleRoutes(app: FastifyInstance, { modules }: { modules: BrowserModules }) {
  app.get<{ Params: { hash: string; '*': string } }>('/static/m/:hash/*', { schema: { hide: true } }, async (request, reply) => {
    const { hash, '*': path } = request.params
    const file = hash === modules.hash ? modules.files.get(path) : undefined
    if (!file) return reply.callNotFound()
    return reply
      .type('text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=31536000, immutable')
      .send(file)
  })
}
