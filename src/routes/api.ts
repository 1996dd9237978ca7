import type { FastifyInstance, FastifyReply } from 'fastify'
import { Type, TypeBoxValidatorCompiler, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { isPasteId } from '../pastes/ids.js'
import { PasteInputError } from '../pastes/errors.js'
import type { NewPaste } from '../pastes/PasteService.js'
import { contentOf, jsonInTurns } from './jsonBody.js'
import {
  bearerToken, MISSING_TOKEN, CreatedEncryptedJson, CreatedJson, CreateJson, createFor, EncryptedPasteJson, encryptedPasteJson, ErrorBody, IdParams, pasteJson,
  PasteWithContentJson, setOwnerCookie, type RouteDeps,
} from './shared.js'

const MAX_LIMIT = 100
const MAX_OFFSET = 1_000_000
/** The JSON API under /api/pastes. */
export async function apiRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const { pastes, config } = deps
  // Only these routes: this plugin is its own encapsulation context.
  jsonInTurns(app)
  const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'No such paste: it may have expired, been deleted, or been read once already.' })

  typed.post('/api/pastes', {
    onRequest: deps.createBudget.admit,
    // JSON escapes can double the bytes of the text; the paste's own size is checked decoded.
    bodyLimit: config.maxPasteBytes * 2 + 64 * 1024,
    // JSON has types: check them strictly. Fastify's default Ajv coerces (content: ["x"] or 123
    // would become the text "x" or "123", burn: "1" true), which a JSON API must answer with 400.
    validatorCompiler: TypeBoxValidatorCompiler,
    schema: {
      summary: 'Create a paste; with `envelope` instead of content, an encrypted one (answered with EncryptedPaste fields and deleteToken)',
      body: CreateJson,
      // A union here would make every plain create's reply pick its schema by validation: the
      // encrypted reply (CreatedEncryptedJson) is serialized on its own below.
      response: { 201: CreatedJson, 400: ErrorBody, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody },
    },
  }, async (request, reply) => {
    if (request.body.envelope !== undefined) {
      const { envelope, content, title, language, ...options } = request.body
      const extra = content !== undefined ? 'content' : title !== undefined ? 'title' : language !== undefined ? 'language' : null
      if (extra) throw new PasteInputError(400, extra, `${extra} must not be sent with an envelope: an encrypted paste keeps it inside its ciphertext`)
      await deps.rateLimiter.check(request.ip)
      const { paste, deleteToken } = await pastes.createEncryptedPaste({ envelope, ...options })
      deps.metrics.count('pastes_created')
      // The new-paste form sends encrypted pastes here from the site's own pages: that browser
      // gets the creator's Delete button, as after a form post.
      if (request.headers['sec-fetch-site'] === 'same-origin') setOwnerCookie(reply, deps, paste, deleteToken)
      reply.header('location', `${config.publicUrl}/${paste.id}`)
      const created: Static<typeof CreatedEncryptedJson> = { ...encryptedPasteJson(paste, config.publicUrl), envelope, deleteToken }
      // A string goes out as it is, past the plain create's schema.
      return (reply as FastifyReply).code(201).type('application/json; charset=utf-8').send(JSON.stringify(created))
    }
    // Without content, the paste service answers "content is required".
    const { paste, deleteToken } = await createFor(request, deps, { ...request.body, content: contentOf(request, request.body.content) } as NewPaste)
    reply.header('location', `${config.publicUrl}/${paste.id}`)
    return reply.code(201).send({ ...pasteJson(paste, config.publicUrl), deleteToken })
  })

  typed.get('/api/pastes/:id', {
    schema: {
      summary: 'A paste with its content (consumes a burn paste: this is an explicit read)',
      params: IdParams,
      response: { 200: Type.Union([PasteWithContentJson, EncryptedPasteJson]), 404: ErrorBody, 503: ErrorBody },
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(reply)
    const paste = await pastes.readPaste(id, request.method !== 'HEAD')
    if (!paste) return notFound(reply)
    reply.header('cache-control', paste.burn ? 'no-store' : 'private, no-cache')
    if (paste.kind === 'encrypted') return { ...encryptedPasteJson(paste, config.publicUrl), envelope: JSON.parse(paste.content.toString()) as unknown }
    return { ...pasteJson(paste, config.publicUrl), kind: 'plain' as const, content: paste.content.toString() }
  })

  typed.get('/api/pastes', {
    schema: {
      summary: 'Public pastes, newest first',
      querystring: Type.Object({
        language: Type.Optional(Type.String({ maxLength: 40 })),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT, default: 20 })),
        offset: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_OFFSET, default: 0 })),
      }),
      response: {
        200: Type.Object({
          items: Type.Array(Type.Object({
            id: Type.String(), url: Type.String(), title: Type.String(), language: Type.String(),
            size: Type.Integer(), lines: Type.Integer(), createdAt: Type.String({ format: 'date-time' }),
          })),
          total: Type.Integer(),
        }),
        400: ErrorBody,
        503: ErrorBody,
      },
    },
  }, async (request) => {
    const { language, limit = 20, offset = 0 } = request.query
    const page = await pastes.listPublic({ language: language || undefined, offset, limit })
    return {
      items: page.items.map((p) => ({ ...p, url: `${config.publicUrl}/${p.id}`, createdAt: p.createdAt.toISOString() })),
      total: page.total,
    }
  })

  typed.delete('/api/pastes/:id', {
    schema: {
      summary: 'Delete a paste and its revisions (Authorization: Bearer <deleteToken>; one secret serves delete and edit)',
      params: IdParams,
      headers: Type.Object({ authorization: Type.Optional(Type.String()) }),
      response: { 204: Type.Null(), 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 503: ErrorBody },
    },
  }, async (request, reply) => {
    const { id } = request.params
    const token = bearerToken(request)
    if (!token) {
      return reply.code(401).header('www-authenticate', 'Bearer').send({ error: MISSING_TOKEN })
    }
    if (!isPasteId(id)) return notFound(reply)
    const outcome = await pastes.deletePaste(id, token)
    if (outcome === 'missing') return notFound(reply)
    if (outcome === 'forbidden') return reply.code(403).send({ error: 'That delete token does not match this paste.' })
    return reply.code(204).send(null)
  })
}
