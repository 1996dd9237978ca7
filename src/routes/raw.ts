import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { sendError } from '../plugins/errors.js'
import { LANGUAGE_INFO } from '../shared/languages.js'
import { isPasteId } from '../pastes/ids.js'
import type { RawPaste } from '../pastes/PasteService.js'
import { IdParams, takePreloaded, type RouteDeps } from './shared.js'

/** A past revision never changes, but it can be deleted: caches may keep one for an hour at most. */
export const REVISION_CACHE_SECONDS = 3600
/** A paste's latest bytes change when it is edited: caches revalidate them (ETag) after a minute. */
export const LATEST_CACHE_SECONDS = 60
const EXTENSIONS = new Map(LANGUAGE_INFO.map((l) => [l.id, l.ext]))

/** The headers of a paste's exact bytes that depend only on its kind: never rendered by the browser. */
export function rawContentHeaders(kind: RawPaste['kind']): [name: string, value: string][] {
  return [
    // An encrypted paste's bytes are its envelope (docs/encryption.md).
    ['content-type', kind === 'encrypted' ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8'],
    ['x-content-type-options', 'nosniff'],
    ['content-security-policy', "default-src 'none'; sandbox"],
  ]
}

/**
 * The headers of a paste's exact bytes that depend on the paste: cached no longer than it lives.
 * The ETag names the bytes: the paste's latest revision, or one revision of it.
 */
export function rawPasteHeaders(paste: Pick<RawPaste, 'expiresAt' | 'burn' | 'visibility'>, etag: string, maxCacheSeconds: number): [name: string, value: string][] {
  const headers: [string, string][] = [['etag', etag]]
  if (paste.expiresAt) headers.push(['x-expires', paste.expiresAt.toISOString()])
  if (paste.burn) {
    headers.push(['cache-control', 'no-store'])
    return headers
  }
  const remaining = paste.expiresAt ? Math.floor((paste.expiresAt.getTime() - Date.now()) / 1000) : maxCacheSeconds
  const maxAge = Math.max(0, Math.min(maxCacheSeconds, remaining))
  headers.push(['cache-control', `${paste.visibility === 'public' ? 'public' : 'private'}, max-age=${maxAge}`])
  return headers
}

/** Both, set on top of the security headers (this content-security-policy replaces theirs). */
export function rawHeaderList(paste: Pick<RawPaste, 'expiresAt' | 'burn' | 'visibility' | 'kind'>, etag: string, maxCacheSeconds: number): [name: string, value: string][] {
  return [...rawContentHeaders(paste.kind), ...rawPasteHeaders(paste, etag, maxCacheSeconds)]
}

export function rawHeaders(reply: FastifyReply, paste: Pick<RawPaste, 'expiresAt' | 'burn' | 'visibility' | 'kind'>, etag: string, maxCacheSeconds: number) {
  for (const [name, value] of rawHeaderList(paste, etag, maxCacheSeconds)) reply.header(name, value)
}

/** Whether the client's If-None-Match names `etag`. */
export function notModified(request: FastifyRequest, etag: string): boolean {
  return request.headers['if-none-match']?.split(/\s*,\s*/).some((tag) => tag.replace(/^W\//, '') === etag) ?? false
}

/** GET /:id/raw and /:id/download: explicit programmatic reads, so they consume a burn paste. */
export async function rawRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const notFound = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(request, reply, 404, 'This paste does not exist. It may have expired, been deleted, or been read once already.', deps.pages)

  const serve = (download: boolean) => async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    // HEAD only looks: it never burns. A read before Fastify (fastViews.ts) left to this route is not read again.
    const paste = await (takePreloaded<RawPaste | null>(request.raw) ?? deps.pastes.readRaw(id, request.method !== 'HEAD'))
    if (!paste) return notFound(request, reply)
    const etag = `"${id}-r${paste.revision}"`
    rawHeaders(reply, paste, etag, LATEST_CACHE_SECONDS)
    const extension = paste.kind === 'encrypted' ? 'json' : EXTENSIONS.get(paste.language) ?? 'txt'
    if (download) reply.header('content-disposition', `attachment; filename="${id}.${extension}"`)
    if (!paste.burn && notModified(request, etag)) return reply.code(304).send()
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
