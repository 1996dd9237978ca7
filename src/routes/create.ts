import multipart from '@fastify/multipart'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Type, type Static, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { PasteInputError } from '../pastes/errors.js'
import type { NewPaste } from '../pastes/PasteService.js'
import { wantsHtml } from '../plugins/errors.js'
import { homeRenderer, type FormValues } from './home.js'
import { CreateOptions, createFor, ErrorBody, sendCreated, type RouteDeps } from './shared.js'

type Options = Static<typeof CreateOptions>

/** A browser is redirected to its new paste at once: give its page this long to render. */
const BROWSER_WAIT_FOR_PAGE_MS = 1500

function missingContent(publicUrl: string): PasteInputError {
  return new PasteInputError(400, 'content',
    'The form has no "content" field. To paste a file as it is, send it raw:\n' +
    `  curl -T notes.txt ${publicUrl}/\n` +
    `  curl --data-binary @notes.txt -H 'Content-Type: text/plain' ${publicUrl}/\n` +
    `or as a form field: curl -F content=@notes.txt ${publicUrl}/`)
}

/**
 * A browser sends a textarea's line breaks as CRLF whatever the text had, so its form text gets
 * LF. Any other client (`curl -d`, `--data-urlencode`, `-F content=<file`) sent the bytes it
 * meant, and they are kept exactly, as raw uploads and uploaded files are.
 */
function formText(request: FastifyRequest, text: string): string {
  return wantsHtml(request) ? text.replace(/\r\n?/g, '\n') : text
}

/** What the form shows again after a refused create. */
function formValues(paste: NewPaste): Partial<FormValues> {
  return {
    content: typeof paste.content === 'string' ? paste.content : '',
    title: paste.title ?? '',
    language: paste.language ?? 'auto',
    expires: paste.expires === undefined ? undefined : String(paste.expires),
    visibility: paste.visibility,
    burn: paste.burn === true || paste.burn === '1' || paste.burn === 'on' || paste.burn === 'true',
  }
}

/** The create options among a form's fields; `field` reads a field the client sent, never an inherited property. */
function fromFields(field: (name: string) => unknown): Omit<NewPaste, 'content'> {
  const text = (name: string) => {
    const value = field(name)
    return typeof value === 'string' ? value : undefined
  }
  return {
    title: text('title'), language: text('language'), expires: text('expires'), visibility: text('visibility'), burn: text('burn'),
    forkOf: text('fork'), forkOfRevision: text('fork_revision'),
  }
}

/** RFC 2046 5.1.1: a boundary has 1 to 70 characters (busboy throws on ones over 256). */
const MAX_BOUNDARY_CHARS = 70
const BOUNDARY = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/i

function checkBoundary(contentType: string | undefined) {
  const match = BOUNDARY.exec(contentType ?? '')
  const boundary = match?.[1]?.replace(/\\(.)/g, '$1') ?? match?.[2]
  if (boundary !== undefined && boundary.length > MAX_BOUNDARY_CHARS) {
    throw new PasteInputError(400, 'content-type',
      `The multipart boundary is ${boundary.length} characters long; RFC 2046 allows at most ${MAX_BOUNDARY_CHARS}.`)
  }
}

/** Reads a multipart form; `content` may be a text field or a file (curl -F content=@file). */
async function fromMultipart(request: FastifyRequest, publicUrl: string): Promise<NewPaste> {
  checkBoundary(request.headers['content-type'])
  const fields = new Map<string, string>()
  let content: Buffer | string | undefined
  let fileName: string | undefined
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer()
      if (part.fieldname === 'content') {
        content = bytes
        fileName = part.filename || undefined
      }
    } else if (typeof part.value === 'string') {
      if (part.fieldname === 'content') content = formText(request, part.value)
      else fields.set(part.fieldname, part.value)
    }
  }
  if (content === undefined) throw missingContent(publicUrl)
  return { ...fromFields((name) => fields.get(name)), content, fileName }
}

const createResponses = {
  201: Type.String({ description: 'The paste URL, then a newline. Headers: Location, X-Delete-Token (shown once; one secret serves delete and edit), X-Expires' }),
  303: Type.Null({ description: 'Browsers are redirected to the new paste' }),
  400: ErrorBody, 413: ErrorBody, 415: ErrorBody, 429: ErrorBody, 503: ErrorBody,
}

/** POST / from forms and raw bodies; PUT / and PUT /<name> from `curl -T`. */
export async function createRoutes(app: FastifyInstance, deps: RouteDeps) {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>()
  const { publicUrl, maxPasteBytes } = deps.config
  const showHome = homeRenderer(deps)

  // Multipart forms only reach these routes: registered here, its hooks run on no other request.
  await app.register(multipart, {
    limits: { fileSize: maxPasteBytes, fieldSize: maxPasteBytes + 1, files: 1, fields: 10, parts: 11 },
    throwFileSizeLimit: true,
  })

  // Body limits are set per parser (app.ts): raw bodies stop at MAX_PASTE_BYTES while being read.
  typed.post('/', {
    onRequest: deps.createBudget.admit,
    schema: {
      summary: 'Create a paste from a form (urlencoded or multipart) or a raw text/plain or octet-stream body',
      description: 'The content is stored byte for byte, CRLF included. Only a form from a browser (text/html in Accept) has its CRLF line ends turned into LF, as a textarea sends CRLF whatever it held.',
      querystring: CreateOptions,
      consumes: ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain', 'application/octet-stream'],
      response: createResponses,
    },
  }, async (request, reply) => {
    // Options may come from the query string with any body (`curl -F content=@f 'URL/?expires=1h'`);
    // a form's own fields win.
    let input: NewPaste
    if (request.isMultipart()) {
      input = await fromMultipart(request, publicUrl)
    } else if (Buffer.isBuffer(request.body)) {
      input = { content: request.body }
    } else {
      const fields = (request.body ?? {}) as Record<string, unknown>
      const field = (name: string) => (Object.hasOwn(fields, name) ? fields[name] : undefined)
      const content = field('content')
      if (typeof content !== 'string') throw missingContent(publicUrl)
      input = { ...fromFields(field), content: formText(request, content) }
    }
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
    const paste = { ...request.query, ...defined } as NewPaste
    try {
      return sendCreated(request, reply, deps, await createFor(request, deps, paste, BROWSER_WAIT_FOR_PAGE_MS))
    } catch (err) {
      // A person gets the form back with the reason and their text, not a bare error page.
      if (!(err instanceof PasteInputError) || !wantsHtml(request)) throw err
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds))
      const forkOf = paste.forkOf ? { id: paste.forkOf, revision: Number(paste.forkOfRevision) || 1 } : null
      return showHome(reply, { status: err.status, error: err.message, values: formValues(paste), forkOf })
    }
  })

  // `curl -T file URL/` sends PUT /file: every body is the raw content, whatever its type.
  await app.register(async (raw) => {
    raw.removeAllContentTypeParsers()
    raw.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxPasteBytes }, (_request, body, done) => done(null, body))
    const typedRaw = raw.withTypeProvider<TypeBoxTypeProvider>()
    const upload = (request: FastifyRequest, query: Options, name: string | undefined) => {
      const content = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      return createFor(request, deps, { ...query, content, fileName: name })
    }
    typedRaw.put('/', {
      onRequest: deps.createBudget.admit,
      schema: { summary: 'Create a paste from the raw body (curl -T file URL)', querystring: CreateOptions, response: createResponses },
    }, async (request, reply) => sendCreated(request, reply, deps, await upload(request, request.query, undefined)))
    typedRaw.put('/:name', {
      onRequest: deps.createBudget.admit,
      schema: {
        summary: 'Create a paste from the raw body; the name is its title and a language hint (curl -T notes.py URL/)',
        querystring: CreateOptions,
        params: Type.Object({ name: Type.String() }),
        response: createResponses,
      },
    }, async (request, reply) => sendCreated(request, reply, deps, await upload(request, request.query, request.params.name)))
  })
}
