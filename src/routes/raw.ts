import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { sendError } from '../plugins/errors.js'
import { LANGUAGES } from '../pastes/code.js'
import { isPasteId } from '../pastes/ids.js'
import type { PasteData } from '../pastes/PasteService.js'
import { IdParams, type RouteDeps } from './shared.js'

/** Pastes never change, but they can be deleted: caches may keep one for an hour at most. */
const MAX_CACHE_SECONDS = 3600
const EXTENSIONS = new Map(LANGUAGES.map((l) => [l.id, l.ext]))

/** Headers for a paste's exact bytes: never rendered by the browser, cached no longer than it lives. */
function rawHeaders(reply: FastifyReply, paste: PasteData) {
  reply
    // An encrypted paste's bytes are its envelope (docs/encryption.md).
    .type(paste.kind === 'encrypted' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('etag', `"${paste.id}"`)
  if (paste.expiresAt) reply.header('x-expires', paste.expiresAt.toISOString())
  if (paste.burn) {
    reply.header('cache-control', 'no-store')
    return
  }
  const remaining = paste.expiresAt ? Math.floor((paste.expiresAt.getTime() - Date.now()) / 1000) : MAX_CACHE_SECONDS
  const maxAge = Math.max(0, Math.min(MAX_CACHE_SECONDS, remaining))
  reply.header('cache-control', `${paste.visibility === 'public' ? 'public' : 'private'}, max-age=${maxAge}`)
}

/** GET /:id/raw and /:id/download: explicit programmatic reads, so they consume a burn paste. */
export async function rawRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(request, reply, 404, 'This paste does not exist. It may have expired, been deleted, or been read once already.', deps.pages)

  const serve = (download: boolean) => async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    // HEAD only looks: it never burns.
    const paste = await deps.pastes.readPaste(id, request.method !== 'HEAD')
    if (!paste) return notFound(request, reply)
    rawHeaders(reply, paste)
    const extension = paste.kind === 'encrypted' ? 'json' : EXTENSIONS.get(paste.language) ?? 'txt'
    if (download) reply.header('content-disposition', `attachment; filename="${id}.${extension}"`)
    if (!paste.burn && request.headers['if-none-match']?.split(/\s*,\s*/).some((tag) => tag.replace(/^W\//, '') === `"${id}"`)) {
      return reply.code(304).send()
    }
    if (paste.burn && request.method !== 'HEAD') deps.metrics.count('pastes_burned')
    return reply.send(paste.content)
  }

  const response = { 200: Type.String({ description: 'The paste, byte for byte' }), 304: Type.Null(), 404: Type.String() }
  typed.get('/:id/raw', {
    schema: { summary: 'The paste as stored, byte for byte (consumes a burn paste)', params: IdParams, response },
  }, serve(false))
  typed.get('/:id/download', {
    schema: { summary: 'The paste as a file download (consumes a burn paste)', params: IdParams, response },
  }, serve(true))
}
