// Encrypted pastes on the server: envelopes are checked and stored as they are, served back as
// JSON, never rendered, listed or forked, and the server keeps nothing it could read.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { Store } from '../../src/model/index.js'
import { Paste } from '../../src/pastes/Paste.js'
import { encryptPaste, toBase64Url } from '../../src/shared/pasteCrypto.js'
import { everythingStored, useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, useApps, waitForStoredPage, waitUntil } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build({ MAX_PASTE_BYTES: '4096' }))
})

const SECRET = { content: 'the vault code is 7351\n', title: 'Vault notes', language: 'python' }

async function createEncrypted(fields: Record<string, unknown> = {}, password?: string) {
  const { envelope, key } = await encryptPaste(SECRET, password ? { password } : {})
  const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope, ...fields } })
  expect(res.statusCode, res.body).toBe(201)
  return { ...res.json<{ id: string; url: string; deleteToken: string; kind: string; visibility: string; size: number; burn: boolean }>(), envelope, key }
}

const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/pastes', payload: payload as Record<string, unknown> })

describe('creating an encrypted paste', () => {
  it('stores the envelope unlisted, whatever was asked, and answers with what the server knows', async () => {
    const created = await createEncrypted({ visibility: 'public', expires: '1h' })
    expect(created).toMatchObject({ kind: 'encrypted', visibility: 'unlisted', burn: false })
    expect(created.size).toBe(Buffer.from(created.envelope.ciphertext, 'base64url').length)
    expect(created).not.toHaveProperty('title')
    expect(created).not.toHaveProperty('language')
    const list = await app.inject({ url: '/api/pastes' })
    expect(list.json<{ items: { id: string }[] }>().items.map((p) => p.id)).not.toContain(created.id)
    const html = await app.inject({ url: '/pastes', headers: { accept: HTML_ACCEPT } })
    expect(html.body).not.toContain(created.id)
  })

  it('keeps neither the text nor the title anywhere in Redis', async () => {
    const plain = await createPaste(app, { content: 'a plain control paste', title: 'Control title' })
    await createEncrypted({ burn: true })
    await createEncrypted({}, 'hunter2')
    const stored = await everythingStored(db.redis, db.prefix)
    // The control shows the scan sees what a plain paste stores.
    expect(stored).toContain('a plain control paste')
    expect(stored).toContain(plain.id)
    // Whole phrases, not the bare number: four digits turn up by chance in timestamps and hashes.
    for (const secret of ['vault code', 'is 7351', 'Vault notes', 'hunter2']) expect(stored).not.toContain(secret)
    expect(stored).not.toMatch(/"language"\s*:\s*"python"/)
  })

  it('leaves plain pastes as they were: their record has no kind field, and reads as plain', async () => {
    const plain = await createPaste(app, { content: 'plain as before' })
    const encrypted = await createEncrypted()
    expect(await db.redis.hexists(`${db.prefix}paste:{${plain.id}}`, 'kind')).toBe(0)
    expect(await db.redis.hget(`${db.prefix}paste:{${encrypted.id}}`, 'kind')).toBe('encrypted')
    expect((await app.inject({ url: `/api/pastes/${plain.id}` })).json()).toMatchObject({ kind: 'plain' })
  })

  it('refuses an envelope with content, title or language beside it, naming the field', async () => {
    const { envelope } = await encryptPaste(SECRET)
    for (const field of ['content', 'title', 'language']) {
      const res = await post({ envelope, [field]: 'x' })
      expect(res.statusCode).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(new RegExp(`^${field} must not be sent with an envelope`))
    }
  })

  it('refuses malformed envelopes with a 400 that names the field', async () => {
    const { envelope } = await encryptPaste(SECRET, { password: 'pw' })
    const cases: [unknown, RegExp][] = [
      ['not an object', /^envelope must be an object/],
      [{ ...envelope, version: 2 }, /^envelope\.version must be 1/],
      [{ ...envelope, algorithm: 'ROT13' }, /^envelope\.algorithm must be "AES-256-GCM"/],
      [{ ...envelope, kdf: { ...envelope.kdf, iterations: 1000 } }, /^envelope\.kdf\.iterations must be a whole number from 600000/],
      [{ ...envelope, kdf: { ...envelope.kdf, salt: '!!' } }, /^envelope\.kdf\.salt must be 16 bytes/],
      [{ ...envelope, iv: 'short' }, /^envelope\.iv must be 12 bytes/],
      [{ ...envelope, keyCheck: 42 }, /^envelope\.keyCheck must be 16 bytes/],
      [{ ...envelope, ciphertext: 'not base64!' }, /^envelope\.ciphertext must be base64url/],
      [{ ...envelope, title: 'leak' }, /^envelope\.title is not a field/],
    ]
    for (const [value, message] of cases) {
      const res = await post({ envelope: value })
      expect(res.statusCode, JSON.stringify(value).slice(0, 60)).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(message)
    }
  })

  it('answers any JSON as an envelope, or any field of one, with a 400 naming an envelope field', async () => {
    const { envelope } = await encryptPaste(SECRET, { password: 'pw' })
    const fields = Object.keys(envelope)
    const junk = fc.oneof(
      fc.jsonValue(),
      fc.record({ field: fc.constantFrom(...fields, 'kdf.name', 'kdf.iterations', 'kdf.salt'), value: fc.jsonValue() }).map(({ field, value }) => {
        const [outer, inner] = field.split('.') as [string, string | undefined]
        const kdf = envelope.kdf as unknown as Record<string, unknown>
        return inner ? { ...envelope, kdf: { ...kdf, [inner]: value } } : { ...envelope, [outer]: value }
      }),
    )
    await fc.assert(fc.asyncProperty(junk, async (value) => {
      const res = await post({ envelope: value })
      if (res.statusCode === 201) return
      expect(res.statusCode, JSON.stringify(value).slice(0, 200)).toBe(400)
      expect(res.json<{ error: string }>().error).toMatch(/^envelope(\.\w+)*(\[".*"\])? /)
    }), { numRuns: 150, seed: 13 })
  })

  it('applies MAX_PASTE_BYTES to the ciphertext (413 naming it)', async () => {
    const { envelope } = await encryptPaste(SECRET)
    const fits = { ...envelope, ciphertext: toBase64Url(new Uint8Array(4096)) }
    expect((await post({ envelope: fits })).statusCode).toBe(201)
    const res = await post({ envelope: { ...envelope, ciphertext: toBase64Url(new Uint8Array(4097)) } })
    expect(res.statusCode).toBe(413)
    expect(res.json<{ error: string }>().error).toBe('envelope.ciphertext is 4097 bytes; the limit is 4096 bytes')
  })

  it('checks expiry and burn as for any paste', async () => {
    const { envelope } = await encryptPaste(SECRET)
    expect((await post({ envelope, expires: 'soon' })).json<{ error: string }>().error).toMatch(/^expires /)
    expect((await post({ envelope, burn: 'yes' })).statusCode).toBe(400)
  })

  it('gives the creator\'s browser its Delete button when the site\'s own page sends it', async () => {
    const { envelope } = await encryptPaste(SECRET)
    const res = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope }, headers: { 'sec-fetch-site': 'same-origin' } })
    const { id } = res.json<{ id: string }>()
    expect(String(res.headers['set-cookie'])).toMatch(new RegExp(`^owner_${id}=.*HttpOnly`))
    const other = await post({ envelope })
    expect(other.headers['set-cookie']).toBeUndefined()
  })
})

describe('reading an encrypted paste', () => {
  it('GET /:id is the static shell with the envelope in a data block, and nothing else of the paste', async () => {
    const created = await createEncrypted()
    const res = await app.inject({ url: `/${created.id}`, headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    const block = /<script type="application\/json" id="envelope">([^<]*)<\/script>/.exec(res.body)
    expect(JSON.parse(block![1]!)).toEqual(created.envelope)
    expect(res.body).toMatch(/<script type="module" src="\/static\/m\/[\w-]{12}\/encrypted-page\.js"><\/script>/)
    expect(res.body).toContain('<title>Encrypted paste · redbin</title>')
    expect(res.body).toContain('<meta name="robots" content="noindex, nofollow">')
    expect(res.body).not.toContain('class="hljs"')
    expect(res.headers['content-security-policy']).toMatch(/script-src 'self'(;|$)/)
    expect(res.headers['content-security-policy']).not.toMatch(/unsafe/)
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.body).toMatch(/<span class="num">1<\/span> view/)
  })

  it('GET /:id costs what a plain paste\'s view costs: the same Redis commands, sent together', async () => {
    const encrypted = await createEncrypted()
    const plain = await createPaste(app, { content: 'print(1)\n', language: 'python' })
    // Both pages rendered and stored, and viewed twice: both served alike (from the page cache
    // when it is on, from Redis on a cluster), and the script that counts hits is loaded (its
    // first EVALSHA is answered NOSCRIPT and sent again as EVAL).
    await waitForStoredPage(db, plain.id)
    for (const id of [plain.id, encrypted.id, plain.id, encrypted.id]) await app.inject({ url: `/${id}` })
    // The hits' counts are held for VIEW_COUNT_BATCH_MS: all four must be in Redis before the
    // commands are watched.
    const store = new Store(db.redis, { prefix: db.prefix })
    await waitUntil(async () => (await Paste.loadMany(store, [plain.id, encrypted.id])).every((p) => p?.views === 2))
    const servers = db.clusterNodes ? db.clusterNodes.map((n) => `redis://${n.host}:${n.port}`) : [db.url]
    const monitors = await Promise.all(servers.map((url) => new Redis(url).monitor()))
    const seen: string[] = []
    for (const monitor of monitors) {
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (args.some((a) => a.includes(db.prefix))) seen.push(args[0]!.toLowerCase())
      })
    }
    const commandsOf = async (id: string) => {
      seen.length = 0
      const res = await app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT } })
      expect(res.statusCode).toBe(200)
      await new Promise((r) => setTimeout(r, 100))
      return [...seen].sort()
    }
    try {
      const plainCommands = await commandsOf(plain.id)
      expect(plainCommands.length).toBeGreaterThan(0)
      expect(await commandsOf(encrypted.id)).toEqual(plainCommands)
    } finally {
      await Promise.all(monitors.map((m) => m.disconnect()))
    }
  })

  it('GET /:id/raw, /download and /api/pastes/:id return the envelope as JSON', async () => {
    const created = await createEncrypted()
    const raw = await app.inject({ url: `/${created.id}/raw` })
    expect(raw.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(raw.json()).toEqual(created.envelope)
    const download = await app.inject({ url: `/${created.id}/download` })
    expect(download.headers['content-disposition']).toBe(`attachment; filename="${created.id}.json"`)
    expect(download.json()).toEqual(created.envelope)
    const api = await app.inject({ url: `/api/pastes/${created.id}` })
    expect(api.json()).toEqual({
      id: created.id, url: created.url, rawUrl: `${created.url}/raw`, kind: 'encrypted', createdAt: expect.any(String), expiresAt: null,
      burn: false, visibility: 'unlisted', size: created.size, revision: 1, revisions: 1, envelope: created.envelope,
    })
  })

  it('burns as any burn paste: GET warns, the reveal POST serves the shell once and deletes it', async () => {
    const created = await createEncrypted({ burn: true })
    const look = await app.inject({ url: `/${created.id}`, headers: { accept: HTML_ACCEPT } })
    expect(look.body).toContain(`action="/${created.id}/reveal"`)
    expect(look.body).not.toContain(created.envelope.ciphertext)
    const reveal = await app.inject({ method: 'POST', url: `/${created.id}/reveal`, headers: { accept: HTML_ACCEPT } })
    expect(reveal.statusCode).toBe(200)
    expect(reveal.body).toContain(created.envelope.ciphertext)
    expect(reveal.body).toContain('<title>Burn after reading · redbin</title>')
    expect((await app.inject({ method: 'POST', url: `/${created.id}/reveal`, headers: { accept: HTML_ACCEPT } })).statusCode).toBe(404)
  })

  it('is never forked on the server: ?fork= leaves the form empty', async () => {
    const created = await createEncrypted()
    const res = await app.inject({ url: `/?fork=${created.id}`, headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    expect(res.body).not.toContain(created.envelope.ciphertext)
    expect(res.body).not.toContain('Forking')
  })

  it('deletes with its token', async () => {
    const created = await createEncrypted()
    const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${created.id}`, headers: { authorization: `Bearer ${created.deleteToken}` } })
    expect(res.statusCode).toBe(204)
    expect((await app.inject({ url: `/${created.id}/raw` })).statusCode).toBe(404)
  })

  it('re-renders a stale stored shell on its next view, still without highlighting', async () => {
    const created = await createEncrypted()
    await db.redis.hset(`${db.prefix}paste:{${created.id}}`, 'renderVersion', 'old')
    const res = await app.inject({ url: `/${created.id}`, headers: { accept: HTML_ACCEPT } })
    expect(res.body).toContain(created.envelope.ciphertext)
    expect(res.body).toContain('id="encrypted-paste"')
  })
})

describe('the browser modules', () => {
  it('serves highlight.js from node_modules, the same release the server highlights with, under the modules\' hash', async () => {
    const require = createRequire(import.meta.url)
    const server = (JSON.parse(readFileSync(require.resolve('highlight.js/package.json'), 'utf8')) as { version: string }).version
    const browser = (JSON.parse(readFileSync(require.resolve('@highlightjs/cdn-assets/package.json'), 'utf8')) as { version: string }).version
    expect(browser).toBe(server)
    const page = await app.inject({ url: `/${(await createEncrypted()).id}` })
    const base = /src="(\/static\/m\/[\w-]{12}\/)encrypted-page\.js"/.exec(page.body)![1]!
    const core = await app.inject({ url: `${base}hljs/core.min.js` })
    expect(core.statusCode).toBe(200)
    expect(core.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(core.headers['cache-control']).toBe('public, max-age=31536000, immutable')
    expect(core.body).toContain(`Highlight.js v${server}`)
    for (const path of ['hljs/languages/python.min.js', 'hljs/languages/xml.min.js', 'shared/pasteCrypto.js', 'shared/codeBlock.js', 'encrypt-form.js']) {
      expect((await app.inject({ url: `${base}${path}` })).statusCode, path).toBe(200)
    }
    expect((await app.inject({ url: `${base}hljs/languages/1c.min.js` })).statusCode).toBe(404)
    expect((await app.inject({ url: `${base}../../src/config.ts` })).statusCode).toBe(404)
    expect((await app.inject({ url: '/static/m/AAAAAAAAAAAA/hljs/core.min.js' })).statusCode).toBe(404)
  })
})

