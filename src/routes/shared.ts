import { Type, type Static } from '@fastify/type-provider-typebox'
import type {} from '@fastify/cookie'
import type {} from '@fastify/swagger'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'
import type { Metrics } from '../plugins/metrics.js'
import { wantsHtml } from '../plugins/errors.js'
import type { CreateBytesBudget } from '../pastes/CreateBytesBudget.js'
import type { CreateRateLimiter } from '../pastes/CreateRateLimiter.js'
import { ID_PATTERN_SOURCE } from '../pastes/ids.js'
import type { PageRenderer } from '../pastes/PageRenderer.js'
import type { NewPaste, PasteData, PasteService } from '../pastes/PasteService.js'
import type { RevisionService } from '../pastes/RevisionService.js'

/**
 * Sends `parts` as the body, one after another, with the headers set on `reply` so far. Fastify's
 * send takes one buffer; joining the parts would copy a paste page per view (see
 * PageRenderer.composePaste). The reply is hijacked: onSend hooks do not run (redbin has none;
 * its headers are set in onRequest), onResponse hooks do. A HEAD gets the headers alone.
 */
export function sendParts(request: FastifyRequest, reply: FastifyReply, parts: readonly Buffer[]): void {
  reply.hijack()
  writeParts(reply.raw, reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders, parts, request.method === 'HEAD')
}

/**
 * Answers with `headers`, the content-length of `parts`, then (unless `headOnly`) the parts, in
 * one write. `headers` as a flat list of names and values is the cheaper form: measured, page
 * views before Fastify cost 9-18 µs more each with an object of the same headers.
 */
export function writeParts(res: ServerResponse, status: number, headers: OutgoingHttpHeaders | readonly string[], parts: readonly Buffer[], headOnly = false): void {
  let length = 0
  for (const part of parts) length += part.length
  res.writeHead(status, isList(headers) ? [...headers, 'content-length', String(length)] : { ...headers, 'content-length': length })
  if (headOnly) {
    res.end()
    return
  }
  // Corked, the head and the parts leave in one write; end() uncorks.
  res.cork()
  const last = parts.length - 1
  for (let i = 0; i < last; i++) res.write(parts[i])
  res.end(parts[last])
}

function isList(headers: OutgoingHttpHeaders | readonly string[]): headers is readonly string[] {
  return Array.isArray(headers)
}

/** What fastViews.ts read for a request and left to its route to answer (a burn paste, none, an error). */
const PRELOADED = Symbol('redbin.preloaded')
type Preloaded = IncomingMessage & { [PRELOADED]?: Promise<unknown> }

/** Hands what was read for `req` before Fastify on to its route (`takePreloaded`). */
export function preload(req: IncomingMessage, read: Promise<unknown>): void {
  ;(req as Preloaded)[PRELOADED] = read
}

/** What fastViews.ts already read for this request, if it did: the route must not read (and count or burn) it again. */
export function takePreloaded<T>(req: IncomingMessage): Promise<T> | undefined {
  const read = (req as Preloaded)[PRELOADED]
  delete (req as Preloaded)[PRELOADED]
  return read as Promise<T> | undefined
}

/** What every route plugin is given. */
export interface RouteDeps {
  config: Config
  pastes: PasteService
  revisions: RevisionService
  pages: PageRenderer
  rateLimiter: CreateRateLimiter
  /** Every create and edit route takes its body's bytes from it before the body is read (onRequest). */
  createBudget: CreateBytesBudget
  metrics: Metrics
}

export const IdParams = Type.Object({
  id: Type.String({ description: `A paste id: ${ID_PATTERN_SOURCE}` }),
})

export const ErrorBody = Type.Object({ error: Type.String() }, { description: 'What went wrong, in a sentence' })

const Expires = Type.String({
  description: 'One of 10m, 1h, 1d, 1w, 30d, 1y, never, or a whole number of seconds ≥ 1',
  examples: ['1h', '86400', 'never'],
})

/** The create options, as query string, form fields or JSON (content aside). */
export const CreateOptions = Type.Object({
  title: Type.Optional(Type.String({ maxLength: 1000 })),
  language: Type.Optional(Type.String({ description: "'auto' (default) or a language id such as python", maxLength: 40 })),
  expires: Type.Optional(Expires),
  visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('unlisted')], { default: 'unlisted' })),
  burn: Type.Optional(Type.String({ description: '1, on or true: delete the paste once it is read' })),
})

/** Checked by src/shared/pasteCrypto.js, whose messages name the field; described here for the OpenAPI document. */
export const EnvelopeJson = Type.Unknown({
  description: 'An encrypted paste (docs/encryption.md): {version: 1, algorithm: "AES-256-GCM", kdf: null or ' +
    '{name: "PBKDF2-SHA-256", iterations, salt}, keyCheck, iv, ciphertext}, binary fields in base64url. ' +
    'Content, title and language are inside the ciphertext; MAX_PASTE_BYTES applies to the ciphertext.',
})

export const CreateJson = Type.Object({
  content: Type.Optional(Type.String({ description: 'The text to paste (or send envelope instead)' })),
  envelope: Type.Optional(EnvelopeJson),
  title: Type.Optional(Type.String({ maxLength: 1000 })),
  language: Type.Optional(Type.String({ maxLength: 40 })),
  expires: Type.Optional(Type.Union([Expires, Type.Integer({ minimum: 1 })])),
  visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('unlisted')])),
  burn: Type.Optional(Type.Boolean()),
}, { additionalProperties: false })

export const PasteJson = Type.Object({
  id: Type.String(),
  url: Type.String(),
  rawUrl: Type.String(),
  title: Type.String(),
  language: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  burn: Type.Boolean(),
  visibility: Type.Union([Type.Literal('public'), Type.Literal('unlisted')]),
  size: Type.Integer({ description: 'Bytes of UTF-8' }),
  lines: Type.Integer(),
  revision: Type.Integer({ description: 'The number of the latest revision, starting at 1' }),
  revisions: Type.Integer({ description: 'How many revisions the paste has' }),
  forkOf: Type.Union([
    Type.Object({ id: Type.String(), revision: Type.Integer() }),
    Type.Null(),
  ], { description: 'The paste and revision this one was forked from' }),
})

export const CreatedJson = Type.Object({
  ...PasteJson.properties,
  deleteToken: Type.String({ description: 'Shown once: keep it to delete or edit the paste (one secret serves delete and edit)' }),
})
export const PasteWithContentJson = Type.Object({ ...PasteJson.properties, kind: Type.Literal('plain'), content: Type.String() })

/** What the server knows of an encrypted paste, and its envelope. */
export const EncryptedPasteJson = Type.Object({
  id: Type.String(),
  url: Type.String({ description: 'Without the key: the reader needs the full link' }),
  rawUrl: Type.String(),
  kind: Type.Literal('encrypted'),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  burn: Type.Boolean(),
  visibility: Type.Literal('unlisted'),
  size: Type.Integer({ description: 'Bytes of ciphertext (of the latest revision)' }),
  revision: Type.Integer({ description: 'The number of the latest revision, starting at 1; each edit sends a new envelope' }),
  revisions: Type.Integer({ description: 'How many revisions the paste has' }),
  envelope: EnvelopeJson,
})

export const CreatedEncryptedJson = Type.Object({
  ...EncryptedPasteJson.properties,
  deleteToken: Type.String({ description: 'Shown once: keep it to delete the paste (one secret serves delete and edit)' }),
}, { additionalProperties: false })

export function encryptedPasteJson(paste: PasteData, publicUrl: string): Omit<Static<typeof EncryptedPasteJson>, 'envelope'> {
  return {
    id: paste.id,
    url: `${publicUrl}/${paste.id}`,
    rawUrl: `${publicUrl}/${paste.id}/raw`,
    kind: 'encrypted',
    createdAt: paste.createdAt.toISOString(),
    expiresAt: paste.expiresAt?.toISOString() ?? null,
    burn: paste.burn,
    visibility: 'unlisted',
    size: paste.size,
    revision: paste.revision,
    revisions: paste.revision,
  }
}

export function pasteJson(paste: PasteData, publicUrl: string): Static<typeof PasteJson> {
  return {
    id: paste.id,
    url: `${publicUrl}/${paste.id}`,
    rawUrl: `${publicUrl}/${paste.id}/raw`,
    title: paste.title,
    language: paste.language,
    createdAt: paste.createdAt.toISOString(),
    expiresAt: paste.expiresAt?.toISOString() ?? null,
    burn: paste.burn,
    visibility: paste.visibility,
    size: paste.size,
    lines: paste.lines,
    revision: paste.revision,
    revisions: paste.revision,
    forkOf: paste.forkOf ? { id: paste.forkOf, revision: paste.forkOfRevision ?? 1 } : null,
  }
}

/** The 401 of the routes that need the paste's token. */
export const MISSING_TOKEN = 'Send the delete token as "Authorization: Bearer <token>": one secret serves delete and edit.'

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
}

/** A revision number from the URL: a whole number ≥ 1 (anything else names no revision). */
export function revisionNumber(raw: string | undefined): number | null {
  if (raw === undefined || !/^[1-9]\d{0,6}$/.test(raw)) return null
  return Number(raw)
}

/** The name of the cookie that lets the creator's browser delete and edit a paste. */
export function ownerCookie(id: string): string {
  return `owner_${id}`
}

/** Rate-limits, creates, counts. Every create route goes through here. */
export async function createFor(request: FastifyRequest, deps: RouteDeps, input: NewPaste, waitForPageMs = 0) {
  await deps.rateLimiter.check(request.ip)
  const created = await deps.pastes.createPaste(input, waitForPageMs)
  deps.metrics.count('pastes_created')
  return created
}

/** Lets the creator's browser delete the paste: the token in an HttpOnly cookie scoped to it. */
export function setOwnerCookie(reply: FastifyReply, deps: RouteDeps, paste: PasteData, deleteToken: string) {
  const maxAge = paste.expiresAt ? Math.ceil((paste.expiresAt.getTime() - Date.now()) / 1000) : 365 * 86_400
  reply.setCookie(ownerCookie(paste.id), deleteToken, {
    path: `/${paste.id}`,
    httpOnly: true,
    sameSite: 'lax',
    secure: deps.config.publicUrl.startsWith('https:'),
    maxAge,
  })
}

/**
 * The answer to a form or raw create: a browser is sent to the paste (and keeps the delete
 * token in an HttpOnly cookie scoped to it); any other client gets the URL as plain text.
 */
export function sendCreated(request: FastifyRequest, reply: FastifyReply, deps: RouteDeps, created: { paste: PasteData; deleteToken: string }) {
  const { paste, deleteToken } = created
  const url = `${deps.config.publicUrl}/${paste.id}`
  if (wantsHtml(request)) {
    setOwnerCookie(reply, deps, paste, deleteToken)
    return reply.code(303).header('location', `/${paste.id}`).send()
  }
  reply.code(201).header('location', url).header('x-delete-token', deleteToken)
  if (paste.expiresAt) reply.header('x-expires', paste.expiresAt.toISOString())
  return reply.type('text/plain; charset=utf-8').send(`${url}\n`)
}
