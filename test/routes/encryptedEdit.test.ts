// Editing an encrypted paste: the client sends a new envelope (encrypted under the same link
// key), through the same edit path as plain text; each revision is served as its envelope and
// its shell, never rendered, diffed or read by the server.
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { decryptPaste, encryptPaste, toBase64Url, type Envelope } from '../../src/shared/pasteCrypto.js'
import { everythingStored, useTestRedis } from '../helpers/redis.js'
import { createPaste, FORM, HTML_ACCEPT, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build({ MAX_PASTE_BYTES: '4096' }))
})

const FIRST = { content: 'the vault code is 7351\n', title: 'Vault notes', language: 'python' }
const SECOND = { content: 'the vault code is now 9904\nand the door is blue\n', title: 'Vault notes, moved', language: 'bash' }

interface Encrypted { id: string; deleteToken: string; key: string; envelope: Envelope; password?: string | undefined }

async function createEncrypted(target = app, password?: string): Promise<Encrypted> {
  const { envelope, key } = await encryptPaste(FIRST, password ? { password } : {})
  const res = await target.inject({ method: 'POST', url: '/api/pastes', payload: { envelope } })
  expect(res.statusCode, res.body).toBe(201)
  return { ...res.json<{ id: string; deleteToken: string }>(), key, envelope, password }
}

/** The next revision, encrypted as the edit page does: the same key and password. */
async function sealed(paste: Encrypted, text = SECOND) {
  return (await encryptPaste(text, { key: paste.key, ...(paste.password ? { password: paste.password } : {}) })).envelope
}

function put(id: string, token: string | null, payload: unknown, headers: Record<string, string> = {}, target = app, url = `/api/pastes/${id}`) {
  return target.inject({
    method: 'PUT',
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(typeof payload === 'string' ? { payload } : { payload: JSON.stringify(payload), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } }),
  })
}

const envelopeOf = (html: string) => JSON.parse(/<script type="application\/json" id="envelope">([^<]*)<\/script>/.exec(html)![1]!) as Envelope

describe('PUT /api/pastes/<id> on an encrypted paste', () => {
  it('takes {envelope} as a new revision, answers with what the server knows, and the same link opens it', async () => {
    const paste = await createEncrypted()
    const next = await sealed(paste)
    const res = await put(paste.id, paste.deleteToken, { envelope: next })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.headers.etag).toBe('"2"')
    expect(res.json()).toEqual({
      id: paste.id, url: `http://redbin.test/${paste.id}`, rawUrl: `http://redbin.test/${paste.id}/raw`, kind: 'encrypted',
      createdAt: expect.any(String), expiresAt: null, burn: false, visibility: 'unlisted',
      size: Buffer.from(next.ciphertext, 'base64url').length, revision: 2, revisions: 2, envelope: next,
    })
    const api = await app.inject({ url: `/api/pastes/${paste.id}` })
    expect(api.json()).toMatchObject({ revision: 2, revisions: 2, envelope: next })
    expect(await decryptPaste(api.json<{ envelope: Envelope }>().envelope, paste.key)).toEqual(SECOND)
    // GET /<id>: the new envelope's shell, stored with the edit (no worker), and "revision 2 of 2".
    const page = await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
    expect(envelopeOf(page.body)).toEqual(next)
    expect(page.body).toContain('Revision 2 of 2')
    expect(page.body).toContain(`<a href="/${paste.id}/revisions" data-keep-key>History</a>`)
    expect(page.body).not.toContain('class="hljs"')
    expect(page.body).not.toContain('/diff')
    expect(await db.redis.hget(`${db.prefix}paste:{${paste.id}}`, 'page')).toContain(next.ciphertext)
  })

  it('keeps the password: the new revision needs the same link and the same password', async () => {
    const paste = await createEncrypted(app, 'hunter2')
    const next = await sealed(paste)
    expect(next.kdf!.salt).not.toBe(paste.envelope.kdf!.salt)
    expect((await put(paste.id, paste.deleteToken, { envelope: next })).statusCode).toBe(200)
    const raw = await app.inject({ url: `/${paste.id}/raw` })
    expect(await decryptPaste(raw.json(), paste.key, 'hunter2')).toEqual(SECOND)
  })

  it('checks the envelope exactly as a create does: 400 naming the field, 413 over MAX_PASTE_BYTES of ciphertext', async () => {
    const paste = await createEncrypted()
    const next = await sealed(paste)
    const cases: [unknown, RegExp][] = [
      ['nope', /^envelope must be an object/],
      [{ ...next, version: 2 }, /^envelope\.version must be 1/],
      [{ ...next, iv: 'short' }, /^envelope\.iv must be 12 bytes/],
      [{ ...next, title: 'leak' }, /^envelope\.title is not a field/],
    ]
    for (const [envelope, message] of cases) {
      const res = await put(paste.id, paste.deleteToken, { envelope })
      expect(res.statusCode, JSON.stringify(envelope).slice(0, 60)).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(message)
    }
    const fits = await put(paste.id, paste.deleteToken, { envelope: { ...next, ciphertext: toBase64Url(new Uint8Array(4096)) } })
    expect(fits.statusCode).toBe(200)
    const over = await put(paste.id, paste.deleteToken, { envelope: { ...next, ciphertext: toBase64Url(new Uint8Array(4097)) } })
    expect(over.statusCode).toBe(413)
    expect(over.json<{ error: string }>().error).toBe('envelope.ciphertext is 4097 bytes; the limit is 4096 bytes')
    for (const field of ['content', 'title', 'language']) {
      const res = await put(paste.id, paste.deleteToken, { envelope: next, [field]: 'x' })
      expect(res.statusCode).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(new RegExp(`^${field} must not be sent with an envelope`))
    }
    expect((await app.inject({ url: `/api/pastes/${paste.id}/revisions` })).json<{ items: unknown[] }>().items).toHaveLength(2)
  })

  it('refuses text for an encrypted paste, and an envelope for a plain one, saying why', async () => {
    const paste = await createEncrypted()
    for (const [payload, headers] of [
      [{ content: 'plain text' }, {}],
      ['plain text from curl -T', { 'content-type': 'text/plain' }],
    ] as const) {
      const res = await put(paste.id, paste.deleteToken, payload, headers)
      expect(res.statusCode).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(/^This paste is encrypted: send the new revision as JSON \{"envelope": …\}/)
    }
    const plain = await createPaste(app, { content: 'plain' })
    const res = await put(plain.id, plain.deleteToken, { envelope: await sealed(paste) })
    expect(res.statusCode).toBe(400)
    expect(res.json<{ error: string }>().error).toMatch(/^envelope is only for encrypted pastes: this paste is not encrypted/)
    expect((await app.inject({ url: `/api/pastes/${paste.id}` })).json()).toMatchObject({ revision: 1 })
    expect((await app.inject({ url: `/api/pastes/${plain.id}` })).json()).toMatchObject({ revision: 1, content: 'plain' })
  })

  it('needs the token (401 without, 403 wrong), and refuses a burn paste', async () => {
    const paste = await createEncrypted()
    const next = await sealed(paste)
    expect((await put(paste.id, null, { envelope: next })).statusCode).toBe(401)
    expect((await put(paste.id, 'x'.repeat(30), { envelope: next })).statusCode).toBe(403)
    const { envelope } = await encryptPaste(FIRST)
    const burn = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope, burn: true } })
    const { id, deleteToken } = burn.json<{ id: string; deleteToken: string }>()
    const res = await put(id, deleteToken, { envelope: next })
    expect(res.statusCode).toBe(409)
    expect(res.json<{ error: string }>().error).toMatch(/burn-after-reading/)
  })

  it('applies If-Match: a stale revision is a 409 naming the latest, and nothing changes', async () => {
    const paste = await createEncrypted()
    const second = await sealed(paste)
    expect((await put(paste.id, paste.deleteToken, { envelope: second }, { 'if-match': '"1"' })).statusCode).toBe(200)
    const stale = await put(paste.id, paste.deleteToken, { envelope: await sealed(paste, FIRST) }, { 'if-match': '"1"' })
    expect(stale.statusCode).toBe(409)
    expect(stale.json<{ error: string }>().error).toMatch(/latest is revision 2/)
    expect((await app.inject({ url: `/${paste.id}/raw` })).json()).toEqual(second)
    expect((await put(paste.id, paste.deleteToken, { envelope: await sealed(paste, FIRST) }, { 'if-match': '"2"' })).json()).toMatchObject({ revision: 3 })
  })

  it('lets exactly one of 20 concurrent edits with the same If-Match win', async () => {
    const paste = await createEncrypted()
    const envelopes = await Promise.all(Array.from({ length: 20 }, (_, i) => sealed(paste, { ...SECOND, content: `edit ${i}\n` })))
    const answers = await Promise.all(envelopes.map((envelope) => put(paste.id, paste.deleteToken, { envelope }, { 'if-match': '"1"' })))
    expect(answers.map((a) => a.statusCode).sort()).toEqual([200, ...Array(19).fill(409)])
    const list = await app.inject({ url: `/api/pastes/${paste.id}/revisions` })
    expect(list.json<{ items: unknown[] }>().items).toHaveLength(2)
  })

  it('stops at MAX_REVISIONS and counts against the create rate limit', async () => {
    const { app: limited } = await build({ MAX_REVISIONS: '2' })
    const paste = await createEncrypted(limited)
    expect((await put(paste.id, paste.deleteToken, { envelope: await sealed(paste) }, {}, limited)).statusCode).toBe(200)
    const over = await put(paste.id, paste.deleteToken, { envelope: await sealed(paste) }, {}, limited)
    expect(over.statusCode).toBe(409)
    expect(over.json<{ error: string }>().error).toMatch(/limit of 2 revisions/)

    const { app: slow } = await build({ RATE_LIMIT_CREATES_PER_MINUTE: '2' })
    const other = await createEncrypted(slow)
    expect((await put(other.id, other.deleteToken, { envelope: await sealed(other) }, {}, slow)).statusCode).toBe(200)
    const third = await put(other.id, other.deleteToken, { envelope: await sealed(other) }, {}, slow)
    expect(third.statusCode).toBe(429)
    expect(third.headers['retry-after']).toBeDefined()
  })
})

describe('PUT /<id>/edit: the edit page\'s address', () => {
  it('takes the creator\'s owner cookie, or the token, and nothing else', async () => {
    const { envelope, key } = await encryptPaste(FIRST)
    const created = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope }, headers: { 'sec-fetch-site': 'same-origin' } })
    const { id, deleteToken } = created.json<{ id: string; deleteToken: string }>()
    const cookie = created.cookies.find((c) => c.name === `owner_${id}`)!
    const paste = { id, deleteToken, key, envelope }
    const next = await sealed(paste)
    const url = `/${id}/edit`
    const withCookie = await put(id, null, { envelope: next }, { cookie: `owner_${id}=${cookie.value}`, 'if-match': '"1"' }, app, url)
    expect(withCookie.statusCode, withCookie.body).toBe(200)
    expect(withCookie.json()).toMatchObject({ revision: 2, envelope: next })
    expect((await put(id, deleteToken, { envelope: await sealed(paste, FIRST) }, {}, app, url)).statusCode).toBe(200)
    // Its errors take the one error path: a line of text for curl and fetch, a page for a browser.
    const missing = await put(id, null, { envelope: next }, {}, app, url)
    expect(missing.statusCode).toBe(401)
    expect(missing.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(missing.headers['www-authenticate']).toBe('Bearer')
    expect(missing.body).toMatch(/^Send the delete token as "Authorization: Bearer <token>"/)
    const wrong = await put(id, null, { envelope: next }, { cookie: `owner_${id}=${'x'.repeat(30)}` }, app, url)
    expect(wrong.statusCode).toBe(403)
    expect(wrong.body).toMatch(/^That token does not match this paste/)
    const refused = await put(id, deleteToken, { content: 'clear text' }, {}, app, url)
    expect(refused.statusCode).toBe(400)
    expect(refused.body).toMatch(/^This paste is encrypted/)
    // The API's address never takes the cookie (the browser does not send it there anyway).
    expect((await put(id, null, { envelope: next }, { cookie: `owner_${id}=${cookie.value}` })).statusCode).toBe(401)
  })
})

describe('revisions of an encrypted paste', () => {
  async function editedTwice() {
    const paste = await createEncrypted(app, 'pw')
    const second = await sealed(paste)
    const third = await sealed(paste, { ...SECOND, content: 'third\n' })
    expect((await put(paste.id, paste.deleteToken, { envelope: second })).statusCode).toBe(200)
    expect((await put(paste.id, paste.deleteToken, { envelope: third })).statusCode).toBe(200)
    return { paste, envelopes: [paste.envelope, second, third] }
  }

  it('serves each revision as its shell (GET /<id>/r/<n>) and its envelope (/raw), decrypting with the same link', async () => {
    const { paste, envelopes } = await editedTwice()
    const texts = [FIRST, SECOND, { ...SECOND, content: 'third\n' }]
    for (const n of [1, 2, 3]) {
      const page = await app.inject({ url: `/${paste.id}/r/${n}`, headers: { accept: HTML_ACCEPT } })
      expect(page.statusCode).toBe(200)
      expect(envelopeOf(page.body)).toEqual(envelopes[n - 1])
      expect(page.body).toContain(`Revision ${n} of 3`)
      expect(page.body).toContain('id="encrypted-paste"')
      expect(page.body).not.toContain('class="hljs"')
      expect(page.body).toContain(`data-url="http://redbin.test/${paste.id}${n === 3 ? '' : `/r/${n}`}"`)
      if (n < 3) expect(page.body).toContain(`<a href="/${paste.id}" data-keep-key>Latest revision</a>`)
      const raw = await app.inject({ url: `/${paste.id}/r/${n}/raw` })
      expect(raw.headers['content-type']).toBe('application/json; charset=utf-8')
      expect(raw.headers.etag).toBe(`"${paste.id}-r${n}"`)
      expect(raw.json()).toEqual(envelopes[n - 1])
      expect(await decryptPaste(raw.json(), paste.key, 'pw')).toEqual(texts[n - 1])
    }
    expect((await app.inject({ url: `/${paste.id}/r/4` })).statusCode).toBe(404)
  })

  it('lists them as HTML and JSON with what the server knows: ciphertext sizes and times, no title, language, lines or changes', async () => {
    const { paste, envelopes } = await editedTwice()
    const list = await app.inject({ url: `/api/pastes/${paste.id}/revisions` })
    const items = list.json<{ items: { revision: number; title: string; language: string; size: number; lines: number; added: null; removed: null; createdAt: string }[] }>().items
    expect(items.map((i) => i.revision)).toEqual([3, 2, 1])
    items.forEach((item, i) => {
      expect(item).toMatchObject({ title: '', language: '', lines: 0, added: null, removed: null, size: Buffer.from(envelopes[2 - i]!.ciphertext, 'base64url').length })
    })
    const html = await app.inject({ url: `/${paste.id}/revisions`, headers: { accept: HTML_ACCEPT } })
    expect(html.statusCode).toBe(200)
    expect(html.body).toContain(`<a class="revision-link" href="/${paste.id}/r/1" data-keep-key>Revision 1</a>`)
    expect(html.body).toContain(`<a class="revision-link" href="/${paste.id}" data-keep-key>Revision 3</a>`)
    expect(html.body).toMatch(/<script type="module" src="\/static\/m\/[\w-]{12}\/encrypted-page\.js"><\/script>/)
    expect(html.body).toContain('bytes of ciphertext')
    expect(html.body).not.toContain('/diff')
  })

  it('offers no diff: 404 saying diffs of encrypted pastes are computed nowhere on the server', async () => {
    const { paste } = await editedTwice()
    const plain = await createPaste(app, { content: 'plain' })
    for (const url of [`/${paste.id}/diff`, `/${paste.id}/diff?from=1&to=3`, `/${paste.id}/diff.patch`, `/diff/${plain.id}/${paste.id}`, `/diff/${paste.id}/${plain.id}.patch`]) {
      const res = await app.inject({ url })
      expect(res.statusCode, url).toBe(404)
      expect(res.body, url).toContain('Diffs of encrypted pastes are computed nowhere on the server')
    }
  })

  it('leaves neither text nor title of any revision anywhere in Redis', async () => {
    const { app: own } = await build({ REDIS_PREFIX: `${db.prefix}scan:` })
    const paste = await createEncrypted(own, 'hunter2')
    expect((await put(paste.id, paste.deleteToken, { envelope: await sealed(paste) }, {}, own)).statusCode).toBe(200)
    const plain = await createPaste(own, { content: 'a plain control paste', title: 'Control title' })
    const stored = await everythingStored(db.redis, db.prefix)
    // The control shows the scan sees what a plain paste stores, and the edit's revision is there.
    expect(stored).toContain('a plain control paste')
    expect(stored).toContain(plain.id)
    expect(stored).toContain(paste.envelope.ciphertext)
    // Whole phrases, not the bare numbers: four digits turn up by chance in timestamps and hashes.
    for (const secret of ['vault code', 'is 7351', 'now 9904', 'door is blue', 'Vault notes', 'hunter2', paste.key]) expect(stored).not.toContain(secret)
    expect(stored).not.toMatch(/"language"\s*:\s*"(python|bash)"/)
  })
})

describe('the edit page of an encrypted paste', () => {
  it('sends the envelope and an empty, disabled form for the browser to decrypt into; never a fork', async () => {
    const paste = await createEncrypted()
    const res = await app.inject({ url: `/${paste.id}/edit`, headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    expect(envelopeOf(res.body)).toEqual(paste.envelope)
    expect(res.body).toMatch(/<script type="module" src="\/static\/m\/[\w-]{12}\/encrypted-edit\.js"><\/script>/)
    expect(res.body).toContain('<fieldset class="edit-fields" id="edit-fields" disabled>')
    expect(res.body).toContain(`data-id="${paste.id}" data-revision="1"`)
    expect(res.body).toMatch(/<textarea[^>]*>\n<\/textarea>/)
    expect(res.headers['content-security-policy']).not.toMatch(/unsafe/)
    const module = /src="(\/static\/m\/[\w-]{12}\/encrypted-edit\.js)"/.exec(res.body)![1]!
    expect((await app.inject({ url: module })).statusCode).toBe(200)
  })

  it('refuses a form post of text for an encrypted paste, echoing nothing back', async () => {
    const paste = await createEncrypted()
    const res = await app.inject({
      method: 'POST', url: `/${paste.id}/edit`, headers: { ...FORM, accept: HTML_ACCEPT },
      payload: new URLSearchParams({ content: 'posted in the clear', token: paste.deleteToken }).toString(),
    })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('This paste is encrypted')
    expect(res.body).not.toContain('posted in the clear')
  })

  it('shows the owner an Edit link on the encrypted page, which its script gives the key', async () => {
    const { envelope } = await encryptPaste(FIRST)
    const created = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope }, headers: { 'sec-fetch-site': 'same-origin' } })
    const { id } = created.json<{ id: string }>()
    const cookie = created.cookies.find((c) => c.name === `owner_${id}`)!
    const page = await app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT, cookie: `owner_${id}=${cookie.value}` } })
    expect(page.body).toContain(`<a class=btn href=/${id}/edit>Edit</a>`)
    const css = await app.inject({ url: /href="(\/static\/style\.css\?v=[^"]+)"/.exec(page.body)![1]! })
    expect(css.body).not.toMatch(/paste-encrypted[^{]*edit/)
  })
})
