import type {} from '@fastify/cookie'
import type {} from '@fastify/swagger'
import type {} from '@fastify/view'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { sendError } from '../plugins/errors.js'
import { isPasteId } from '../pastes/ids.js'
import { HTML, toListItem } from '../pastes/PageRenderer.js'
import { homeRenderer, LANGUAGE_CHOICES } from './home.js'
import type { PageView } from '../pastes/PasteService.js'
import { IdParams, ownerCookie, sendParts, takePreloaded, type RouteDeps } from './shared.js'

const LIST_PAGE_SIZE = 20
const MAX_LIST_PAGE = 10_000

/** The home page, the paste page, burn-after-reading, delete, and the list of public pastes. */
export async function pageRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const { pages, pastes } = deps
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(request, reply, 404, 'This paste does not exist. It may have expired, been deleted, or been read once already.', pages)

  const showHome = homeRenderer(deps)

  typed.get('/', {
    schema: {
      summary: 'The new-paste form and the newest public pastes',
      // deleted=1: where a browser lands after deleting a paste, told that it worked.
      querystring: Type.Object({
        fork: Type.Optional(Type.String()),
        revision: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
        deleted: Type.Optional(Type.String()),
      }),
      hide: true,
    },
  }, async (request, reply) => {
    const forkId = request.query.fork
    const fork = forkId && isPasteId(forkId) ? await pastes.forkSource(forkId, request.query.revision) : null
    return showHome(reply, {
      values: fork ? { content: fork.content, title: `Fork of ${fork.title || forkId}`.slice(0, 200), language: fork.language } : {},
      forkOf: fork && forkId ? { id: forkId, revision: fork.revision } : null,
      deleted: request.query.deleted === '1',
    })
  })

  typed.get('/pastes', {
    schema: {
      summary: 'Public pastes, newest first, 20 a page',
      querystring: Type.Object({
        language: Type.Optional(Type.String({ maxLength: 40 })),
        page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIST_PAGE, default: 1 })),
      }),
      hide: true,
    },
  }, async (request, reply) => {
    const language = request.query.language || ''
    const page = request.query.page ?? 1
    const { items, total } = await pastes.listPublic({ language: language || undefined, offset: (page - 1) * LIST_PAGE_SIZE, limit: LIST_PAGE_SIZE })
    const pageCount = Math.max(1, Math.ceil(total / LIST_PAGE_SIZE))
    const link = (p: number) => `/pastes?${new URLSearchParams({ ...(language ? { language } : {}), page: String(p) })}`
    return reply.header('cache-control', 'no-cache').viewAsync('list', {
      meta: pages.siteMeta(page > 1 ? `Recent pastes, page ${page} · redbin` : 'Recent pastes · redbin', 'The newest public pastes on redbin.', page > 1 ? link(page) : '/pastes'),
      items: items.map(toListItem),
      total,
      page,
      pages: pageCount,
      language,
      languages: [{ id: '', name: 'All languages' }, ...LANGUAGE_CHOICES],
      prevUrl: page > 1 ? link(Math.min(page - 1, pageCount)) : null,
      nextUrl: page < pageCount ? link(page + 1) : null,
    })
  })

  typed.get('/:id', {
    schema: { summary: 'The paste page (a burn paste shows a warning first)', params: IdParams, hide: true },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    // A view read before Fastify (fastViews.ts) and left to this route is not read again.
    const view = await (takePreloaded<PageView | null>(request.raw) ?? pastes.viewPage(id, request.cookies[ownerCookie(id)], request.method === 'GET'))
    if (!view) return notFound(request, reply)
    reply.type(HTML).header('cache-control', 'private, no-cache')
    if (view.kind === 'burn') {
      reply.header('x-robots-tag', 'noindex, nofollow')
      return reply.viewAsync('burn', { id, meta: pages.burnMeta(id) })
    }
    deps.metrics.count('paste_views')
    sendParts(request, reply, view.html)
  })

  typed.post('/:id/reveal', {
    schema: { summary: 'Show a burn-after-reading paste and delete it, atomically', params: IdParams, hide: true },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    const html = await pastes.revealBurned(id)
    if (html === null) return notFound(request, reply)
    if (html === 'not-burn') return reply.code(303).header('location', `/${id}`).send()
    deps.metrics.count('pastes_burned')
    return reply.type(HTML).header('cache-control', 'no-store').header('x-robots-tag', 'noindex, nofollow').send(html)
  })

  typed.post('/:id/delete', {
    schema: {
      summary: 'Delete a paste with its token (form field `token`, or the creator\'s cookie)',
      params: IdParams,
      body: Type.Optional(Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) })),
      hide: true,
    },
    // A POST with no body at all (the cookie alone) is valid: Fastify would validate `undefined`
    // against the object schema and answer 400 "body must be object".
    preValidation: async (request) => {
      request.body ??= {}
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    const token = request.body?.token || request.cookies[ownerCookie(id)]
    if (!token) return sendError(request, reply, 403, 'A delete token is needed to delete this paste.', pages)
    const outcome = await pastes.deletePaste(id, token)
    if (outcome === 'missing') return notFound(request, reply)
    if (outcome === 'forbidden') return sendError(request, reply, 403, 'That delete token does not match this paste.', pages)
    reply.clearCookie(ownerCookie(id), { path: `/${id}` })
    if (request.headers.accept?.includes('text/html')) return reply.code(303).header('location', '/?deleted=1').send()
    return reply.type('text/plain; charset=utf-8').send('deleted\n')
  })

  app.get('/robots.txt', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/plain; charset=utf-8').header('cache-control', 'public, max-age=86400')
      .send('User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /*/raw\nDisallow: /*/download\nDisallow: /*/edit\nDisallow: /*/diff\nDisallow: /diff/\n'))

  app.get('/favicon.ico', { schema: { hide: true } }, async (_request, reply) =>
    reply.code(301).header('location', '/static/favicon.svg').header('cache-control', 'public, max-age=86400').send())
}
