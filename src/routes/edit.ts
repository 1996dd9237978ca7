import type {} from '@fastify/view'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PasteInputError } from '../pastes/errors.js'
import { isPasteId } from '../pastes/ids.js'
import type { EditSource, PasteEdit } from '../pastes/PasteService.js'
import { sendError } from '../plugins/errors.js'
import { LANGUAGE_CHOICES } from './home.js'
import {
  bearerToken, MISSING_TOKEN, EncryptedPasteJson, encryptedPasteJson, ErrorBody, IdParams, ownerCookie, pasteJson, PasteJson, type RouteDeps,
} from './shared.js'

const NOT_FOUND = 'This paste does not exist. It may have expired, been deleted, or been read once already.'
const WRONG_TOKEN = 'That token does not match this paste (one secret serves delete and edit).'

/** `If-Match: "3"` (also 3 or W/"3"); '*' or none: any revision. Anything else is a 400. */
function parseIfMatch(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '*') return undefined
  const n = /^\s*(?:W\/)?"?([1-9]\d{0,6})"?\s*$/.exec(raw)?.[1]
  if (n === undefined) throw new PasteInputError(400, 'if-match', 'If-Match must be a revision number in quotes, such as "3"')
  return Number(n)
}

/** JSON `{content, title?, language?}` (or an encrypted paste's `{envelope}`), checked field by field. */
function fromJson(body: Buffer): PasteEdit {
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString())
  } catch {
    throw new PasteInputError(400, null, 'The body is not valid JSON.')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new PasteInputError(400, null, 'The body must be a JSON object: {"content": "…", "title": "…", "language": "…"}')
  }
  const fields = parsed as Record<string, unknown>
  for (const key of Object.keys(fields)) {
    if (!['content', 'title', 'language', 'envelope'].includes(key)) throw new PasteInputError(400, key, `${key} is not a field an edit accepts (content, title, language; or envelope)`)
  }
  if (fields.envelope !== undefined) {
    const extra = ['content', 'title', 'language'].find((key) => fields[key] !== undefined)
    if (extra) throw new PasteInputError(400, extra, `${extra} must not be sent with an envelope: an encrypted paste keeps it inside its ciphertext`)
    return { envelope: fields.envelope }
  }
  if (typeof fields.content !== 'string') throw new PasteInputError(400, 'content', 'content is required and must be a string')
  for (const key of ['title', 'language'] as const) {
    if (fields[key] !== undefined && typeof fields[key] !== 'string') throw new PasteInputError(400, key, `${key} must be a string`)
  }
  return { content: fields.content, title: fields.title as string | undefined, language: fields.language as string | undefined }
}

/**
 * Editing a paste: PUT /api/pastes/<id> (JSON or a raw body), and the browser's edit form. An
 * edit's body costs what a create's does, so every route that takes one waits its turn under the
 * same CREATE_BYTES_IN_FLIGHT budget as the creates (deps.createBudget).
 */
export async function editRoutes(app: FastifyInstance, deps: RouteDeps) {
  const { config, pastes, pages } = deps
  const notFound = (request: FastifyRequest, reply: FastifyReply) => sendError(request, reply, 404, NOT_FOUND, pages)

  /** The form, pre-filled; an encrypted paste's is empty and carries its envelope, which the page's script decrypts with the link's key. */
  const showForm = (reply: FastifyReply, id: string, view: EditSource, error: PasteInputError | null = null) =>
    reply.code(error?.status ?? 200).header('cache-control', 'no-store').viewAsync('edit', {
      meta: pages.siteMeta(`Edit ${view.kind === 'plain' ? view.title || id : 'an encrypted paste'} · redbin`, 'Edit a paste: each save makes a new revision.', `/${id}/edit`, 'noindex, nofollow'),
      id,
      revision: view.revision,
      owner: view.owner,
      ...(view.kind === 'plain'
        ? { title: view.title, values: { content: view.content, title: view.title, language: view.language } }
        : { title: '', values: { content: '', title: '', language: 'auto' }, encrypted: true, envelope: view.envelope }),
      languages: [{ id: 'auto', name: 'Auto-detect' }, ...LANGUAGE_CHOICES],
      maxPasteBytes: config.maxPasteBytes,
      error: error?.message ?? null,
    })

  // Any body is the new content, except JSON, which carries the fields. Every body is read as
  // bytes (JSON escapes can double the text; the content's own size is checked decoded).
  await app.register(async (api) => {
    // Both routes of this context take a body: the hook is the context's, as are the parsers.
    api.addHook('onRequest', deps.createBudget.admit)
    api.removeAllContentTypeParsers()
    api.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: config.maxPasteBytes * 2 + 64 * 1024 }, (_request, body, done) => done(null, body))
    const typedApi = api.withTypeProvider<TypeBoxTypeProvider>()
    const putSchema = {
      params: IdParams,
      headers: Type.Object({ authorization: Type.Optional(Type.String()), 'if-match': Type.Optional(Type.String()) }),
      consumes: ['application/json', 'text/plain', 'application/octet-stream'],
      // An encrypted paste's answer (EncryptedPaste fields with revision and revisions) is serialized on its own below.
      response: { 200: PasteJson, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 429: ErrorBody, 503: ErrorBody },
    }
    /** One edit path for both addresses; `cookie`: the creator's browser may use its owner cookie. */
    const saveEdit = (cookie: boolean) => async (request: FastifyRequest<{ Params: { id: string }; Body: unknown }>, reply: FastifyReply) => {
      const { id } = request.params
      // The one error path: JSON under /api, one line of text for curl at /<id>/edit.
      const refuse = async (status: number, message: string) => {
        await sendError(request, reply, status, message, pages)
        return reply
      }
      const token = bearerToken(request) ?? (cookie ? request.cookies[ownerCookie(id)] : undefined)
      if (!token) {
        reply.header('www-authenticate', 'Bearer')
        return refuse(401, MISSING_TOKEN)
      }
      if (!isPasteId(id)) return refuse(404, NOT_FOUND)
      const ifMatch = parseIfMatch(request.headers['if-match'])
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      const input = /^application\/json\b/i.test(request.headers['content-type'] ?? '') ? fromJson(body) : { content: body }
      await deps.rateLimiter.check(request.ip)
      const outcome = await pastes.editPaste(id, token, input, ifMatch)
      if (outcome === 'missing') return refuse(404, NOT_FOUND)
      if (outcome === 'forbidden') return refuse(403, WRONG_TOKEN)
      deps.metrics.count('pastes_edited')
      reply.header('etag', `"${outcome.revision}"`)
      if (outcome.kind === 'encrypted') {
        const edited: Static<typeof EncryptedPasteJson> = { ...encryptedPasteJson(outcome, config.publicUrl), envelope: JSON.parse(outcome.content.toString()) as unknown }
        return reply.type('application/json; charset=utf-8').send(JSON.stringify(edited))
      }
      return reply.send(pasteJson(outcome, config.publicUrl))
    }
    typedApi.put('/api/pastes/:id', {
      schema: {
        ...putSchema,
        summary: 'Edit a paste: a new revision (Authorization: Bearer <deleteToken>; one secret serves delete and edit)',
        description: 'The body is JSON {content, title?, language?} (Content-Type: application/json) or the raw new content ' +
          '(curl -T file); for an encrypted paste, JSON {envelope} encrypted under the paste\'s link key (docs/encryption.md), ' +
          'answered with its EncryptedPaste fields. With If-Match: "<revision>", the edit applies only if that is still the latest revision.',
      },
    }, saveEdit(false))
    // The edit page's script saves an encrypted paste here: the creator's owner cookie is scoped
    // to /<id>, so it reaches this address and never /api/pastes/<id>.
    typedApi.put('/:id/edit', {
      schema: {
        ...putSchema,
        summary: 'The same edit as PUT /api/pastes/<id>, where the creator\'s browser may use its owner cookie instead of the token (the encrypted edit page sends {envelope} here)',
      },
    }, saveEdit(true))
  })

  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  typed.get('/:id/edit', {
    schema: { summary: 'The edit form, pre-filled with the latest revision', params: IdParams, produces: ['text/html'] },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    const source = await pastes.editSource(id, request.cookies[ownerCookie(id)])
    if (!source) return notFound(request, reply)
    return showForm(reply, id, source)
  })

  typed.post('/:id/edit', {
    onRequest: deps.createBudget.admit,
    schema: {
      summary: 'Save an edit from the form: a new revision (the creator\'s cookie, or form field `token`)',
      params: IdParams,
      body: Type.Object({
        content: Type.String(),
        title: Type.Optional(Type.String({ maxLength: 1000 })),
        language: Type.Optional(Type.String({ maxLength: 40 })),
        revision: Type.Optional(Type.String({ maxLength: 10 })),
        token: Type.Optional(Type.String({ maxLength: 200 })),
      }),
      consumes: ['application/x-www-form-urlencoded'],
    },
  }, async (request, reply) => {
    const { id } = request.params
    if (!isPasteId(id)) return notFound(request, reply)
    const cookie = request.cookies[ownerCookie(id)]
    const token = request.body.token || cookie
    if (!token) return sendError(request, reply, 403, 'The delete token is needed to edit this paste: one secret serves delete and edit.', pages)
    // Browsers send a textarea's line breaks as CRLF whatever the text had.
    const edit = { content: request.body.content.replace(/\r\n?/g, '\n'), title: request.body.title, language: request.body.language }
    const asked = request.body.revision ? Number(request.body.revision) : undefined
    try {
      await deps.rateLimiter.check(request.ip)
      const outcome = await pastes.editPaste(id, token, edit, Number.isSafeInteger(asked) ? asked : undefined)
      if (outcome === 'missing') return notFound(request, reply)
      if (outcome === 'forbidden') return sendError(request, reply, 403, WRONG_TOKEN, pages)
      deps.metrics.count('pastes_edited')
      return reply.code(303).header('location', `/${id}`).send()
    } catch (err) {
      // A person gets the form back with the reason and their text.
      if (!(err instanceof PasteInputError)) throw err
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds))
      const latest = await pastes.editSource(id, cookie)
      if (!latest) return notFound(request, reply)
      // An encrypted paste's text never comes back from the server: the reason alone.
      if (latest.kind === 'encrypted') return sendError(request, reply, err.status, err.message, pages)
      return showForm(reply, id, { ...latest, content: edit.content, title: edit.title ?? latest.title, language: edit.language ?? latest.language }, err)
    }
  })
}
