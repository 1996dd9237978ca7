import type {} from '@fastify/view'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { isPasteId } from '../pastes/ids.js'
import { HTML, humanSize, languageName, SPLICE_MARKER } from '../pastes/PageRenderer.js'
import type { DiffSide, Revision } from '../pastes/RevisionService.js'
import { sendError } from '../plugins/errors.js'
import { notModified, rawHeaders, REVISION_CACHE_SECONDS } from './raw.js'
import { ErrorBody, IdParams, revisionNumber, type RouteDeps } from './shared.js'

const NOT_FOUND = 'This paste does not exist. It may have expired, been deleted, or been read once already.'
const NO_REVISION = 'This paste has no such revision. It may have expired, been deleted, or been read once already.'
const RevisionParams = Type.Object({ id: IdParams.properties.id, n: Type.String({ description: 'A revision number, from 1' }) })
const DiffQuery = Type.Object({
  from: Type.Optional(Type.String({ description: 'The old side\'s revision (default: the one before `to`, or the latest of the other paste)', maxLength: 10 })),
  to: Type.Optional(Type.String({ description: 'The new side\'s revision (default: the latest)', maxLength: 10 })),
})
const PatchText = Type.String({ description: 'A unified diff (text/x-diff) that `git apply` and `patch -p1` accept' })

/** A revision number from the query string; a malformed one is a 400 naming the field. */
function queryRevision(raw: string | undefined, field: string): number | undefined {
  if (raw === undefined || raw === '') return undefined
  const n = revisionNumber(raw)
  if (n === null) throw Object.assign(new Error(`${field} must be a revision number (1 or more), got "${raw.slice(0, 20)}"`), { statusCode: 400 })
  return n
}

/** Any revision of a paste, the list of them, and diffs between revisions or pastes. */
export async function revisionRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const { revisions, pages, config } = deps
  const notFound = (request: FastifyRequest, reply: FastifyReply, message = NOT_FOUND) => sendError(request, reply, 404, message, pages)

  typed.get('/:id/r/:n', {
    schema: { summary: 'The page of one revision of a paste (a burn paste has none)', params: RevisionParams, produces: ['text/html'] },
  }, async (request, reply) => {
    const { id } = request.params
    const n = revisionNumber(request.params.n)
    if (!isPasteId(id) || n === null) return notFound(request, reply, NO_REVISION)
    const html = await revisions.revisionPage(id, n)
    if (!html) return notFound(request, reply, NO_REVISION)
    return reply.type(HTML).header('cache-control', 'private, no-cache').send(html)
  })

  typed.get('/:id/r/:n/raw', {
    schema: { summary: 'One revision of a paste, byte for byte (text/plain; ETag)', params: RevisionParams, produces: ['text/plain'] },
  }, async (request, reply) => {
    const { id } = request.params
    const n = revisionNumber(request.params.n)
    if (!isPasteId(id) || n === null) return notFound(request, reply, NO_REVISION)
    const revision = await revisions.revision(id, n)
    if (!revision) return notFound(request, reply, NO_REVISION)
    const etag = `"${id}-r${n}"`
    rawHeaders(reply, { ...revision, burn: false, kind: null }, etag, REVISION_CACHE_SECONDS)
    if (notModified(request, etag)) return reply.code(304).send()
    return reply.send(revision.content)
  })

  typed.get('/:id/revisions', {
    schema: { summary: 'The revisions of a paste, newest first (HTML)', params: IdParams, produces: ['text/html'], response: { 200: Type.String(), 404: Type.String() } },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    const list = await revisions.listRevisions(id)
    if (!list) return notFound(request, reply)
    const latest = list.items[0]?.revision ?? 1
    return reply.header('cache-control', 'private, no-cache').viewAsync('revisions', {
      meta: pages.siteMeta(`History of ${list.title || id} · redbin`, `The ${latest} revisions of a paste.`, `/${id}/revisions`, 'noindex, nofollow'),
      id,
      title: list.title,
      items: list.items.map((item) => ({
        ...item,
        url: item.revision === latest ? `/${id}` : `/${id}/r/${item.revision}`,
        rawUrl: `/${id}/r/${item.revision}/raw`,
        diffUrl: item.revision > 1 ? `/${id}/diff?from=${item.revision - 1}&to=${item.revision}` : null,
        languageName: languageName(item.language),
        sizeHuman: humanSize(item.size),
      })),
    })
  })

  typed.get('/api/pastes/:id/revisions', {
    schema: {
      summary: 'The revisions of a paste, newest first',
      params: IdParams,
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({
            revision: Type.Integer(),
            createdAt: Type.String({ format: 'date-time' }),
            title: Type.String(),
            language: Type.String(),
            size: Type.Integer({ description: 'Bytes of UTF-8' }),
            lines: Type.Integer(),
            added: Type.Union([Type.Integer(), Type.Null()], { description: 'Lines added against the revision before (null: the first, or too large to count)' }),
            removed: Type.Union([Type.Integer(), Type.Null()]),
          })),
        }),
        404: ErrorBody,
        503: ErrorBody,
      },
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return reply.code(404).send({ error: NOT_FOUND })
    const list = await revisions.listRevisions(id)
    if (!list) return reply.code(404).send({ error: NOT_FOUND })
    reply.header('cache-control', 'private, no-cache')
    return { items: list.items.map((item) => ({ ...item, createdAt: item.createdAt.toISOString() })) }
  })

  /** The diff page, or the patch, of two sides; both routes of each kind go through here. */
  const serveDiff = async (request: FastifyRequest, reply: FastifyReply, from: DiffSide, to: DiffSide, format: 'html' | 'patch') => {
    if (!isPasteId(from.id) || !isPasteId(to.id)) return notFound(request, reply)
    const outcome = await revisions.diff(from, to, format)
    if (outcome.kind === 'missing') return notFound(request, reply, outcome.message)
    if (outcome.kind === 'busy') {
      reply.header('retry-after', '5')
      return sendError(request, reply, 503, 'The server is busy computing other diffs and pages. Please try again in a moment.', pages)
    }
    if (format === 'patch') {
      if (outcome.kind === 'too-large') {
        return sendError(request, reply, 413, `These texts are too large to diff here (over ${humanSize(config.diffMaxBytes)}, or over ${config.diffTimeoutMs} ms). ` +
          `Fetch them raw: ${config.publicUrl}/${outcome.from.id}/r/${outcome.from.revision}/raw and ${config.publicUrl}/${outcome.to.id}/r/${outcome.to.revision}/raw`, pages)
      }
      return reply.type('text/x-diff; charset=utf-8').header('cache-control', 'private, no-cache').header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .send(outcome.bytes)
    }
    const side = (r: Revision) => ({
      id: r.id, revision: r.revision, revisions: r.revisions, title: r.title,
      url: r.revision === r.revisions ? `/${r.id}` : `/${r.id}/r/${r.revision}`,
      rawUrl: `/${r.id}/r/${r.revision}/raw`,
    })
    const samePaste = outcome.from.id === outcome.to.id
    const query = `?from=${outcome.from.revision}&to=${outcome.to.revision}`
    const path = samePaste ? `/${outcome.to.id}/diff` : `/diff/${outcome.from.id}/${outcome.to.id}`
    const data = {
      meta: pages.siteMeta(`Diff of ${outcome.from.id} r${outcome.from.revision} and ${samePaste ? '' : `${outcome.to.id} `}r${outcome.to.revision} · redbin`,
        'The changes between two texts.', `${path}${query}`, 'noindex, nofollow'),
      from: side(outcome.from),
      to: side(outcome.to),
      samePaste,
      patchUrl: `${samePaste ? `/${outcome.to.id}/diff.patch` : `/diff/${outcome.from.id}/${outcome.to.id}.patch`}${query}`,
      historyUrl: samePaste ? `/${outcome.to.id}/revisions` : null,
      tooLarge: outcome.kind === 'too-large',
    }
    reply.header('cache-control', 'private, no-cache')
    if (outcome.kind !== 'diff') return reply.viewAsync('diff', data)
    const html = await reply.viewAsync('diff', { ...data, spliced: SPLICE_MARKER })
    return reply.type(HTML).send(pages.splice(html, outcome.bytes))
  }

  const diffResponses = { 200: Type.String(), 400: Type.String(), 404: Type.String(), 413: Type.String(), 503: Type.String() }
  typed.get('/:id/diff', {
    schema: { summary: 'The changes between two revisions of a paste (default: the previous against the latest)', params: IdParams, querystring: DiffQuery, produces: ['text/html'], response: diffResponses },
  }, async (request, reply) => {
    const { id } = request.params
    return serveDiff(request, reply, { id, revision: queryRevision(request.query.from, 'from') }, { id, revision: queryRevision(request.query.to, 'to') }, 'html')
  })

  typed.get('/:id/diff.patch', {
    schema: { summary: 'The same diff as a patch (text/x-diff)', params: IdParams, querystring: DiffQuery, produces: ['text/x-diff'], response: { ...diffResponses, 200: PatchText } },
  }, async (request, reply) => {
    const { id } = request.params
    return serveDiff(request, reply, { id, revision: queryRevision(request.query.from, 'from') }, { id, revision: queryRevision(request.query.to, 'to') }, 'patch')
  })

  // GET /diff/<a>/<b> and /diff/<a>/<b>.patch: the router has no static suffix after a parameter.
  typed.get('/diff/:a/:b', {
    schema: {
      summary: 'The changes from one paste to another (append .patch for text/x-diff); from/to pick revisions of each',
      params: Type.Object({ a: Type.String(), b: Type.String({ description: 'A paste id, optionally followed by .patch' }) }),
      querystring: DiffQuery,
      produces: ['text/html', 'text/x-diff'],
      response: diffResponses,
    },
  }, async (request, reply) => {
    const { a } = request.params
    const patch = request.params.b.endsWith('.patch')
    const b = patch ? request.params.b.slice(0, -'.patch'.length) : request.params.b
    return serveDiff(request, reply, { id: a, revision: queryRevision(request.query.from, 'from') }, { id: b, revision: queryRevision(request.query.to, 'to') }, patch ? 'patch' : 'html')
  })
}
