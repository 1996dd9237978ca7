// The JSON API's body parser: a big body is parsed in turns of the event loop of their own, and
// when it can be, as Latin-1 (jsonInTurns says why and when).
import { isUtf8 } from 'node:buffer'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { decodeUtf8 } from '../pastes/textPasses.js'

/** Above this, a JSON body is decoded and parsed on turns of the event loop of their own. */
const BIG_BODY_BYTES = 64 * 1024

/**
 * Requests whose big body was parsed as Latin-1 (jsonInTurns): their `content` is still its UTF-8
 * bytes, one character per byte, and becomes those bytes again (contentOf).
 */
const contentAsBytes = new WeakSet<FastifyRequest>()

/**
 * Fastify's JSON parsing, the same checks and errors, but for a big body in turns of the event
 * loop of their own: joining, decoding and parsing 1 MiB held the event loop for ~7 ms in one.
 *
 * A big body that is UTF-8 and has no \u escape of a character beyond ASCII is parsed as
 * Latin-1: one character per byte, so the body's text and the content JSON.parse makes of it are
 * one byte per character (UTF-8 decoded, a paste with one character beyond Latin-1 made both of
 * them two bytes per character, and the body's text once more when JSON.parse flattened its
 * pieces), and the content's bytes come back by writing that string as Latin-1, without
 * encoding. JSON's own syntax is ASCII, and an escape of an ASCII character is the same byte
 * either way, so the content's bytes are exactly what the UTF-8 text would have encoded to. The
 * other strings (title, envelope, keys) are decoded after the parse. Any other big body is
 * decoded in slices, as before.
 */
export function jsonInTurns(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    if (body.length <= BIG_BODY_BYTES) return parseJson(request, body.toString(), done)
    const parsed = async (): Promise<unknown> => {
      await nextTurn()
      if (!isUtf8(body) || hasNonAsciiEscape(body)) {
        // Not UTF-8: decoded as Fastify's own parser decodes it, with replacement characters.
        const text = (await decodeUtf8(body)) ?? body.toString()
        await nextTurn()
        return parseWith(parseJson, request, text)
      }
      const latin1 = body.toString('latin1')
      await nextTurn()
      // A syntax error is answered with the same fixed sentence either way (plugins/errors.ts).
      const value = await parseWith(parseJson, request, latin1)
      contentAsBytes.add(request)
      return fromLatin1(value, true)
    }
    parsed().then((value) => done(null, value), (err: Error) => done(err, undefined))
  })
}

/** Runs Fastify's parser on `text` as a promise. */
function parseWith(parseJson: ReturnType<FastifyInstance['getDefaultJsonParser']>, request: FastifyRequest, text: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    parseJson(request, text, (err: Error | null, value?: unknown) => (err ? reject(err) : resolve(value)))
  })
}

const BACKSLASH = 0x5c

/** Whether the JSON has a \u escape of a character beyond ASCII, or one that is not an escape JSON allows. */
export function hasNonAsciiEscape(body: Buffer): boolean {
  for (let at = body.indexOf('\\u'); at !== -1; at = body.indexOf('\\u', at + 2)) {
    // An escape begins after an even run of backslashes: in `\\u00e9` the first escapes the second.
    let run = 0
    while (at - run > 0 && body[at - run - 1] === BACKSLASH) run++
    if (run % 2 === 1) continue
    const hex = body.toString('latin1', at + 2, at + 6)
    if (!/^[0-9a-fA-F]{4}$/.test(hex) || Number.parseInt(hex, 16) >= 0x80) return true
  }
  return false
}

const BEYOND_ASCII = /[\x80-\xff]/

/** A value JSON.parse made of Latin-1 text, its strings and keys decoded as UTF-8; the top-level `content` string is left as it is (contentOf). */
export function fromLatin1(value: unknown, top = false): unknown {
  if (typeof value === 'string') return BEYOND_ASCII.test(value) ? Buffer.from(value, 'latin1').toString() : value
  if (Array.isArray(value)) return value.map((item) => fromLatin1(item))
  if (value === null || typeof value !== 'object') return value
  // fromEntries defines each key as the object's own, whatever its name.
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [
    fromLatin1(key), top && key === 'content' && typeof item === 'string' ? item : fromLatin1(item),
  ]))
}

/** The paste's content as the create reads it: a body parsed as Latin-1 gives its bytes. */
export function contentOf(request: FastifyRequest, content: string | undefined): string | Buffer | undefined {
  return content !== undefined && contentAsBytes.has(request) ? Buffer.from(content, 'latin1') : content
}
