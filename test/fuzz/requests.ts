// Hostile requests for the fuzz (hostile.test.ts), as fast-check arbitraries, so that a failing
// case shrinks to a minimal one: arbitrary methods; paths from the OpenAPI description, mutated;
// query strings; headers; bodies of every wrong shape; and framing that is not HTTP at all.
import fc from 'fast-check'

/** A request as the fuzz sends it: well framed (`raw` undefined) or the bytes of `raw` as they are. */
export interface FuzzRequest {
  method: string
  /** The request target, exactly as sent. */
  target: string
  headers: [string, string][]
  body: Buffer | undefined
  /** Send the body chunked instead of with a Content-Length. */
  chunked: boolean
  /** Broken framing: these bytes are sent instead of a request built from the fields above. */
  raw?: Buffer | undefined
  /** Sent a moment after `raw`, so that the server reads it on its own (while `raw` is in flight). */
  rawTail?: Buffer | undefined
}

export interface FuzzContext {
  /** Path templates (`/api/pastes/{id}`): the OpenAPI description's plus the routes it hides. */
  templates: string[]
  /** Ids of pastes that exist: fuzzed requests should reach real pastes, not only 404s. */
  ids: string[]
}

/** Routes the OpenAPI description hides (browser pages), which the fuzz must reach too. */
export const HIDDEN_ROUTES = ['/', '/pastes', '/{id}', '/{id}/reveal', '/{id}/delete', '/openapi.json', '/metrics', '/robots.txt', '/favicon.ico', '/static/app.css']

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']
const OPTION_KEYS = ['content', 'title', 'language', 'expires', 'visibility', 'burn', 'limit', 'offset', 'page', 'fork', 'deleted', 'token']

/** Bytes that break URL decoding, routing and id checks. */
const NASTY_SEGMENTS = ['%zz', '%', '%e9', '%c3%28', '%00', '%2f', '%2e%2e', '..', '.', '', ';', '%u0041', '\u00e9', '\u{1f600}', '%ff%fe', 'a%20b', '+', '*', '~', '%25']

const text = (maxLength: number) => fc.string({ unit: 'binary', maxLength })
const shortText = fc.oneof(fc.string({ maxLength: 12 }), text(12), fc.constantFrom(...PROTO_KEYS, ...NASTY_SEGMENTS))

function segment(ids: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...ids) },
    { weight: 2, arbitrary: fc.webSegment() },
    { weight: 2, arbitrary: fc.constantFrom(...NASTY_SEGMENTS, ...PROTO_KEYS, 'AAAAAAAAAA', 'x.py', 'x.constructor') },
    { weight: 1, arbitrary: fc.integer({ min: 70, max: 6000 }).map((n) => 'a'.repeat(n)) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent) },
  )
}

/** A path: a template with its parameters filled in, then perhaps mutated. */
function path(context: FuzzContext): fc.Arbitrary<string> {
  const filled = fc.tuple(fc.constantFrom(...context.templates), fc.array(segment(context.ids), { minLength: 3, maxLength: 3 }))
    .map(([template, values]) => {
      let i = 0
      return template.replace(/\{[^}]+\}/g, () => values[i++ % values.length] ?? '')
    })
  const mutation = fc.oneof(
    { weight: 6, arbitrary: fc.constant((p: string) => p) },
    { weight: 1, arbitrary: fc.constant((p: string) => `${p}/`) },
    { weight: 1, arbitrary: fc.constant((p: string) => `/${p}`) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.toUpperCase()) },
    { weight: 1, arbitrary: segment(context.ids).map((s) => (p: string) => `${p}/${s}`) },
    { weight: 1, arbitrary: fc.constantFrom(...NASTY_SEGMENTS).map((s) => (p: string) => `${p}${s}`) },
    { weight: 1, arbitrary: fc.constant((p: string) => p.replace(/\//g, '//')) },
  )
  return fc.tuple(filled, mutation).map(([p, mutate]) => mutate(p))
}

function queryString(): fc.Arbitrary<string> {
  const key = fc.oneof(fc.constantFrom(...OPTION_KEYS, ...PROTO_KEYS), shortText)
  const value = fc.oneof(
    fc.constantFrom('1', '0', '-1', '1h', 'never', '99999999999999999999', '1e308', 'NaN', 'public', 'python', 'auto', 'true', '', '%zz', '[]', '{}'),
    shortText,
    fc.integer({ min: 100, max: 5000 }).map((n) => 'q'.repeat(n)),
  )
  // Mostly percent-encoded: raw spaces and control bytes are the parser's to refuse, and a few suffice.
  const encoded = fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) })
  const pair = fc.tuple(key, value, encoded).map(([k, v, encode]) => (encode ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`))
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('') },
    { weight: 4, arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => `?${pairs.join('&')}`) },
    // Thousands of parameters, or one of the same name repeated.
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 500, max: 3000 }), fc.constantFrom('a', 'language', 'title')).map(([n, k]) => `?${Array.from({ length: n }, (_, i) => `${k}=${i}`).join('&')}`) },
  )
}

/** A multipart body; `boundary` may be anything, and the body may be cut, wrong or hostile. */
function multipartBody(): fc.Arbitrary<{ type: string; body: Buffer }> {
  const boundaryArb = fc.oneof(
    fc.constantFrom('b0undary', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW', ''),
    fc.integer({ min: 69, max: 400 }).map((n) => 'y'.repeat(n)),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 20 }).filter((s) => !/[\s";]/.test(s)),
  )
  const part = fc.record({
    name: fc.oneof(fc.constantFrom('content', 'title', 'language', 'expires', 'burn', 'visibility'), fc.constantFrom(...PROTO_KEYS), shortText),
    filename: fc.option(fc.oneof(fc.constantFrom('notes.py', 'constructor', '__proto__', 'a.constructor', '../../etc/passwd'), shortText), { nil: undefined }),
    value: fc.oneof(text(200), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1'))),
  })
  return fc.record({
    boundary: boundaryArb,
    quoted: fc.boolean(),
    parts: fc.array(part, { maxLength: 14 }),
    ending: fc.constantFrom('close', 'missing', 'cut', 'junk'),
  }).map(({ boundary, quoted, parts, ending }) => {
    const chunks = parts.map(({ name, filename, value }) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}\r\n\r\n${value}\r\n`)
    let body = chunks.join('')
    if (ending === 'close') body += `--${boundary}--\r\n`
    else if (ending === 'cut') body = body.slice(0, Math.floor(body.length / 2))
    else if (ending === 'junk') body += '--not-the-boundary--\r\n\u0000\u00ff'
    return { type: `multipart/form-data; boundary=${quoted ? `"${boundary}"` : boundary}`, body: Buffer.from(body, 'latin1') }
  })
}

/** JSON of every shape the API must refuse (or accept), prototype-pollution keys included. */
function jsonBody(): fc.Arbitrary<Buffer> {
  const createLike = fc.record({
    content: fc.oneof(text(300), fc.jsonValue({ maxDepth: 2 })),
    title: fc.oneof(text(20), fc.jsonValue({ maxDepth: 1 })),
    language: fc.oneof(fc.constantFrom('python', 'auto', 'constructor', '__proto__', 'toString', 'PYTHON', 'py'), fc.jsonValue({ maxDepth: 1 })),
    expires: fc.oneof(fc.constantFrom('1h', 'never', '0', -1, 1e308, 86400), fc.jsonValue({ maxDepth: 1 })),
    visibility: fc.oneof(fc.constantFrom('public', 'unlisted', 'private'), fc.jsonValue({ maxDepth: 1 })),
    burn: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })),
  }, { requiredKeys: [] })
  const polluted = fc.tuple(fc.constantFrom(...PROTO_KEYS), fc.jsonValue({ maxDepth: 2 }), text(50))
    .map(([key, value, content]) => `{"content":${JSON.stringify(content)},${JSON.stringify(key)}:${JSON.stringify(value) ?? 'null'}}`)
  return fc.oneof(
    createLike.map((o) => JSON.stringify(o)),
    fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
    polluted,
    fc.integer({ min: 100, max: 5000 }).map((depth) => '['.repeat(depth) + ']'.repeat(depth)),
    fc.string({ maxLength: 30 }).map((s) => `{"content": ${s}`),
  ).map((s) => Buffer.from(s))
}

function body(): fc.Arbitrary<{ type: string | undefined; body: Buffer | undefined }> {
  const typed = (type: string | undefined) => (b: Buffer) => ({ type, body: b })
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant({ type: undefined, body: undefined }) },
    { weight: 3, arbitrary: jsonBody().map(typed('application/json')) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ type: 'text/plain', body: Buffer.from(b) })) },
    { weight: 2, arbitrary: text(300).map((s) => ({ type: 'text/plain; charset=utf-8', body: Buffer.from(s) })) },
    { weight: 2, arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...OPTION_KEYS, ...PROTO_KEYS), shortText), shortText), { maxLength: 8 })
      .map((pairs) => ({ type: 'application/x-www-form-urlencoded', body: Buffer.from(pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')) })) },
    // urlencoded with thousands of fields
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 8000 }).map((n) => ({ type: 'application/x-www-form-urlencoded', body: Buffer.from(`content=x&${Array.from({ length: n }, (_, i) => `f${i % 50}=${i}`).join('&')}`) })) },
    { weight: 3, arbitrary: multipartBody() },
    // The body of one type under another's name, and sizes around the paste limit.
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('image/png', 'application/xml', 'text/html', 'application/octet-stream', 'text/plain; charset=latin1', '', 'multipart/form-data', 'application/json; charset=utf-16'), fc.uint8Array({ maxLength: 100 }))
      .map(([type, b]) => ({ type, body: Buffer.from(b) })) },
    { weight: 1, arbitrary: fc.integer({ min: 60_000, max: 70_000 }).map((n) => ({ type: 'application/octet-stream', body: Buffer.alloc(n, 'z') })) },
  )
}

function headers(ids: string[]): fc.Arbitrary<[string, string][]> {
  const header = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<[string, string]>(['accept', 'text/html,application/xhtml+xml'], ['accept', 'application/json'], ['accept', '*/*'], ['accept', ''], ['x-forwarded-for', '1.2.3.4, ::1, junk'], ['if-none-match', '*'], ['range', 'bytes=0-1,5-'], ['expect', '100-continue'], ['accept-encoding', 'gzip, br'], ['authorization', 'Bearer'], ['content-encoding', 'gzip']) },
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...ids), shortText).map(([id, token]): [string, string] => ['cookie', `owner_${id}=${encodeURIComponent(token)}`]) },
    { weight: 1, arbitrary: fc.integer({ min: 1000, max: 12_000 }).map((n): [string, string] => ['cookie', `c=${'k'.repeat(n)}`]) },
    { weight: 2, arbitrary: shortText.map((token): [string, string] => ['authorization', `Bearer ${token.replace(/[\r\n\0]/g, '')}`]) },
    { weight: 2, arbitrary: fc.tuple(fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/), fc.string({ maxLength: 40 })).map(([name, value]): [string, string] => [name, value]) },
  )
  return fc.array(header, { maxLength: 4 })
}

function wellFramed(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const method = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE') },
    { weight: 2, arbitrary: fc.constantFrom('PATCH', 'OPTIONS', 'PROPFIND', 'SEARCH', 'LOCK', 'TRACE', 'QUERY') },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z]{1,8}$/) },
  )
  return fc.record({ method, path: path(context), query: queryString(), headers: headers(context.ids), body: body(), chunked: fc.boolean() })
    .map(({ method, path: p, query, headers: h, body: b, chunked }) => ({
      method,
      target: `${p}${query}`,
      headers: b.type === undefined ? h : [['content-type', b.type], ...h],
      body: b.body,
      chunked: b.body !== undefined && chunked,
    }))
}

/** Creates that may well succeed: the delete tokens they hand out must never show up again. */
function creates(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const content = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 400 }).map((c) => `${c}x`)
  const variant = fc.oneof(
    fc.record({ content, visibility: fc.constantFrom('public', 'unlisted'), burn: fc.boolean(), title: fc.string({ maxLength: 30 }) })
      .map((o) => ({ method: 'POST', path: '/api/pastes', type: 'application/json', body: JSON.stringify(o) })),
    fc.tuple(content, fc.oneof(fc.webSegment(), fc.constantFrom(...PROTO_KEYS, 'a.py', 'x.constructor')))
      .map(([c, name]) => ({ method: 'PUT', path: `/${encodeURIComponent(name)}`, type: 'text/plain', body: c })),
    content.map((c) => ({ method: 'POST', path: '/', type: 'application/x-www-form-urlencoded', body: `content=${encodeURIComponent(c)}&visibility=public` })),
    multipartBody().map(({ type, body: b }) => ({ method: 'POST', path: '/', type, body: b })),
  )
  return fc.tuple(variant, queryString(), headers(context.ids)).map(([v, query, h]) => ({
    method: v.method,
    target: `${v.path}${query}`,
    headers: [['content-type', v.type], ...h],
    body: Buffer.isBuffer(v.body) ? v.body : Buffer.from(v.body),
    chunked: false,
  }))
}

/** Broken framing: what no HTTP client sends, written byte for byte. */
function brokenFraming(): fc.Arbitrary<FuzzRequest> {
  // HEAD most of all: its answer is the one whose framing a stray body breaks.
  const method = fc.constantFrom('HEAD', 'HEAD', 'GET', 'POST')
  const line = fc.tuple(method, fc.constantFrom('/', '/pastes', '/api/pastes', '/healthz', '/AAAAAAAAAA/raw'))
  const cases = fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ method: undefined, bytes: Buffer.from(b) })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/9.9\r\nHost: x\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost x\r\nno colon here\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\n folded: header\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nX-Nul: a\u0000b\r\n\r\n` })),
    line.map(([m, p]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\nx-big: ${'h'.repeat(20_000)}\r\n\r\n` })),
    line.map(([m]) => ({ method: m, bytes: `${m} /${'u'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n` })),
    // A request with a body it does not declare (as Node's client sends a HEAD's): the body is
    // read as the next request, perhaps in a read of its own while the first is in flight.
    fc.tuple(line, fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.boolean())
      .map(([[m, p], junk, apart]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`, tail: Buffer.from(junk), apart })),
    // Junk glued to the next request line: a method the parser refuses.
    fc.tuple(line, fc.oneof(fc.string({ maxLength: 20 }), fc.stringMatching(/^[A-Za-z]{1,6}$/)), fc.boolean())
      .map(([[m, p], junk, apart]) => ({ method: m, bytes: `${m} ${p} HTTP/1.1\r\nHost: x\r\n\r\n`, tail: `${junk}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`, apart })),
  )
  const bytesOf = (b: Buffer | string) => (Buffer.isBuffer(b) ? b : Buffer.from(b, 'latin1'))
  return cases.map((c: { method?: string; bytes: Buffer | string; tail?: Buffer | string; apart?: boolean }) => {
    const head = bytesOf(c.bytes)
    const tail = c.tail === undefined ? undefined : bytesOf(c.tail)
    return {
      method: c.method ?? '?',
      target: '',
      headers: [],
      body: undefined,
      chunked: false,
      raw: tail && !c.apart ? Buffer.concat([head, tail]) : head,
      rawTail: c.apart ? tail : undefined,
    }
  })
}

/** Every kind of hostile request, mostly well framed. */
export function fuzzRequests(context: FuzzContext): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: 8, arbitrary: wellFramed(context) }, { weight: 2, arbitrary: creates(context) }, { weight: 2, arbitrary: brokenFraming() })
}

/** The request's bytes on the wire, in the parts it is written in. */
export function serialize(request: FuzzRequest): Buffer[] {
  if (request.raw) return request.rawTail ? [request.raw, request.rawTail] : [request.raw]
  return [wellFramedBytes(request)]
}

function wellFramedBytes(request: FuzzRequest): Buffer {
  const head = [`${request.method} ${request.target} HTTP/1.1`, 'Host: 127.0.0.1']
  for (const [name, value] of request.headers) head.push(`${name}: ${value.replace(/[\r\n]/g, ' ')}`)
  if (request.body === undefined) return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1')
  if (!request.chunked) {
    head.push(`Content-Length: ${request.body.length}`)
    return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), request.body])
  }
  head.push('Transfer-Encoding: chunked')
  const chunk = request.body.length > 0 ? [Buffer.from(`${request.body.length.toString(16)}\r\n`), request.body, Buffer.from('\r\n')] : []
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), ...chunk, Buffer.from('0\r\n\r\n')])
}

/** Bytes as a shell-quoted printf %b argument. */
function printfArg(bytes: Buffer): string {
  let out = ''
  for (const byte of bytes) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x27 && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`
  }
  return `'${out}'`
}

/** Single-quoted for a shell; a long run of one character (a shrunk huge header) is printed as a command making it. */
function shellQuote(s: string): string {
  const quoted = `'${s.replace(/'/g, "'\\''")}'`
  return quoted.replace(/([A-Za-z0-9])\1{63,}/g, (run, char: string) => `'"$(printf '%${run.length}s' '' | tr ' ' ${char})"'`)
}

/** The request as a command to replay it by hand: curl, or printf into nc for broken framing. */
export function toCommand(request: FuzzRequest, base: string): string {
  if (request.raw) {
    const { hostname, port } = new URL(base)
    const bytes = request.rawTail ? `{ printf '%b' ${printfArg(request.raw)}; sleep 0.002; printf '%b' ${printfArg(request.rawTail)}; }` : `printf '%b' ${printfArg(request.raw)}`
    return `${bytes} | nc ${hostname} ${port}`
  }
  const parts = ['curl', '-sS', '-i', '--path-as-is', '-X', request.method]
  for (const [name, value] of request.headers) parts.push('-H', shellQuote(`${name}: ${value}`))
  if (request.body !== undefined) {
    if (request.chunked) parts.push('-H', shellQuote('Transfer-Encoding: chunked'))
    parts.push('--data-binary', '@-')
  }
  parts.push(shellQuote(`${base}${request.target}`))
  const command = parts.join(' ')
  return request.body === undefined ? command : `printf '%b' ${printfArg(request.body)} | ${command}`
}
