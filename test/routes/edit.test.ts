// Editing a paste: PUT /api/pastes/<id> (JSON or raw, with If-Match), the browser's edit form,
// and the rules: owner only, burn pastes never, MAX_REVISIONS, MAX_PASTE_BYTES, the rate limit.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, curl, FORM, HTML_ACCEPT, parseCurlResponse, storedPaste, useApps, waitForStoredPage } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

function edit(id: string, token: string | null, payload: unknown, headers: Record<string, string> = {}, target = app) {
  return target.inject({
    method: 'PUT',
    url: `/api/pastes/${id}`,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    payload: payload as string,
  })
}

describe('PUT /api/pastes/<id>', () => {
  it('makes a new revision from JSON and answers 200 with the paste, its revision and how many', async () => {
    const paste = await createPaste(app, { content: 'one\ntwo\n', title: 'Notes', language: 'plaintext' })
    const res = await edit(paste.id, paste.deleteToken, { content: 'one\n2\nthree\n', title: 'Notes v2', language: 'python' })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json()).toMatchObject({ id: paste.id, revision: 2, revisions: 2, title: 'Notes v2', language: 'python', size: 12, lines: 3 })
    expect(res.headers.etag).toBe('"2"')
    expect(await storedPaste(app, paste.id)).toMatchObject({ content: 'one\n2\nthree\n', title: 'Notes v2', language: 'python' })
    const page = await app.inject({ url: `/${paste.id}` })
    expect(page.body).toContain('Revision 2 of 2')
    expect(page.body).toContain(`href="/${paste.id}/revisions"`)
    expect(page.body).toContain(`href="/${paste.id}/diff?from=1&amp;to=2"`)
  })

  it('keeps the title and language when only content is sent', async () => {
    const paste = await createPaste(app, { content: 'a', title: 'Kept', language: 'go' })
    const res = await edit(paste.id, paste.deleteToken, { content: 'package main\n' })
    expect(res.json()).toMatchObject({ title: 'Kept', language: 'go', revision: 2 })
  })

  it('takes a raw body from the real curl -T, byte for byte', async () => {
    const { app: served, listen } = await build()
    const base = await listen()
    const paste = await createPaste(served, { content: 'first' })
    const dir = await mkdtemp(join(tmpdir(), 'redbin-edit-'))
    try {
      const bytes = 'second\r\n\tline\n'
      await writeFile(join(dir, 'new.txt'), bytes)
      const out = parseCurlResponse(await curl(['-i', '-T', 'new.txt', '-H', `Authorization: Bearer ${paste.deleteToken}`, `${base}/api/pastes/${paste.id}`], dir))
      expect(out.status, out.body).toBe(200)
      expect(JSON.parse(out.body)).toMatchObject({ revision: 2, revisions: 2, size: Buffer.byteLength(bytes) })
      expect((await served.inject({ url: `/${paste.id}/raw` })).body).toBe(bytes)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('applies If-Match only to the latest revision: 409 naming the latest, and nothing changes', async () => {
    const paste = await createPaste(app, { content: 'v1' })
    expect((await edit(paste.id, paste.deleteToken, { content: 'v2' }, { 'if-match': '"1"' })).statusCode).toBe(200)
    const stale = await edit(paste.id, paste.deleteToken, { content: 'lost?' }, { 'if-match': '"1"' })
    expect(stale.statusCode).toBe(409)
    expect(stale.json().error).toMatch(/latest is revision 2/)
    expect((await storedPaste(app, paste.id)).content).toBe('v2')
    expect((await edit(paste.id, paste.deleteToken, { content: 'v3' }, { 'if-match': 'W/"2"' })).json()).toMatchObject({ revision: 3 })
    const bad = await edit(paste.id, paste.deleteToken, { content: 'x' }, { 'if-match': 'yesterday' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error).toMatch(/If-Match/)
  })

  it('lets exactly one of 20 concurrent edits with the same If-Match win', async () => {
    const paste = await createPaste(app, { content: 'base' })
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      edit(paste.id, paste.deleteToken, { content: `writer ${i}` }, { 'if-match': '"1"' })))
    const codes = answers.map((r) => r.statusCode)
    expect(codes.filter((c) => c === 200)).toHaveLength(1)
    expect(codes.filter((c) => c === 409)).toHaveLength(19)
    const winner = answers.find((r) => r.statusCode === 200)
    const content = (await storedPaste(app, paste.id)).content
    expect(answers.indexOf(winner!)).toBe(Number(content.replace('writer ', '')))
    const list = (await app.inject({ url: `/api/pastes/${paste.id}/revisions` })).json<{ items: unknown[] }>()
    expect(list.items).toHaveLength(2)
  })

  it('answers 401 without a token, 403 with a wrong one, 404 for an unknown paste', async () => {
    const paste = await createPaste(app, { content: 'mine' })
    const missing = await edit(paste.id, null, { content: 'x' })
    expect(missing.statusCode).toBe(401)
    expect(missing.json().error).toMatch(/one secret serves delete and edit/)
    expect((await edit(paste.id, 'wrong-token', { content: 'x' })).statusCode).toBe(403)
    expect((await edit('nopenopenope', paste.deleteToken, { content: 'x' })).statusCode).toBe(404)
    expect((await storedPaste(app, paste.id)).content).toBe('mine')
  })

  it('answers 400 naming the field for bad JSON', async () => {
    const paste = await createPaste(app, { content: 'x' })
    for (const [body, field] of [[{}, 'content'], [{ content: 1 }, 'content'], [{ content: 'x', title: 5 }, 'title'], [{ content: 'x', visibility: 'public' }, 'visibility'], [{ content: 'x', language: 'cobol' }, 'language']] as const) {
      const res = await edit(paste.id, paste.deleteToken, body)
      expect(res.statusCode, JSON.stringify(body)).toBe(400)
      expect(res.json().error).toContain(field)
    }
    const broken = await edit(paste.id, paste.deleteToken, '{"content":', { 'content-type': 'application/json' })
    expect(broken.statusCode).toBe(400)
  })

  it('never edits a burn paste, and never burns it trying', async () => {
    const paste = await createPaste(app, { content: 'secret', burn: true })
    const res = await edit(paste.id, paste.deleteToken, { content: 'changed' })
    expect(res.statusCode).toBe(409)
    expect(res.json().error).toMatch(/burn-after-reading/)
    expect((await app.inject({ method: 'HEAD', url: `/${paste.id}/raw` })).statusCode).toBe(200)
  })

  it('refuses an edit beyond MAX_REVISIONS with 409 naming the limit', async () => {
    const { app: limited } = await build({ MAX_REVISIONS: '3' })
    const paste = await createPaste(limited, { content: 'r1' })
    expect((await edit(paste.id, paste.deleteToken, { content: 'r2' }, {}, limited)).statusCode).toBe(200)
    expect((await edit(paste.id, paste.deleteToken, { content: 'r3' }, {}, limited)).statusCode).toBe(200)
    const over = await edit(paste.id, paste.deleteToken, { content: 'r4' }, {}, limited)
    expect(over.statusCode).toBe(409)
    expect(over.json().error).toMatch(/limit of 3 revisions/)
  })

  it('holds every revision to MAX_PASTE_BYTES', async () => {
    const { app: small } = await build({ MAX_PASTE_BYTES: '100' })
    const paste = await createPaste(small, { content: 'short' })
    const res = await edit(paste.id, paste.deleteToken, { content: 'x'.repeat(101) }, {}, small)
    expect(res.statusCode).toBe(413)
    expect(res.json().error).toMatch(/limit is 100 bytes/)
  })

  it('counts edits against the create rate limit', async () => {
    const { app: limited } = await build({ RATE_LIMIT_CREATES_PER_MINUTE: '2' })
    const paste = await createPaste(limited, { content: 'one' })
    expect((await edit(paste.id, paste.deleteToken, { content: 'two' }, {}, limited)).statusCode).toBe(200)
    const third = await edit(paste.id, paste.deleteToken, { content: 'three' }, {}, limited)
    expect(third.statusCode).toBe(429)
    expect(third.headers['retry-after']).toBeDefined()
  })
})

describe('the edit form', () => {
  async function createInBrowser(content: string) {
    const res = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: new URLSearchParams({ content, language: 'python' }).toString() })
    expect(res.statusCode).toBe(303)
    const id = String(res.headers.location).slice(1)
    const cookie = res.cookies.find((c) => c.name === `owner_${id}`)
    return { id, cookie: `owner_${id}=${cookie?.value ?? ''}` }
  }

  it('shows Edit beside Delete to the owner only, and a pre-filled form that saves a new revision', async () => {
    const { id, cookie } = await createInBrowser('print("one")\n')
    await waitForStoredPage(db, id)
    const owned = await app.inject({ url: `/${id}`, headers: { cookie } })
    expect(owned.body).toContain(`<a class=btn href=/${id}/edit>Edit</a><form class="delete-form"`)
    expect((await app.inject({ url: `/${id}` })).body).not.toContain(`/${id}/edit`)
    const form = await app.inject({ url: `/${id}/edit`, headers: { cookie } })
    expect(form.statusCode).toBe(200)
    expect(form.body).toContain('id="paste-form"')
    expect(form.body).toContain('print(&quot;one&quot;)\n</textarea>')
    expect(form.body).toContain('id="byte-count"')
    expect(form.body).toContain('<option value="python" selected>')
    expect(form.body).not.toContain('name="token"')
    const saved = await app.inject({
      method: 'POST', url: `/${id}/edit`, headers: { ...FORM, cookie, accept: HTML_ACCEPT },
      payload: new URLSearchParams({ content: 'print("two")\r\n', title: 'Edited', language: 'python', revision: '1' }).toString(),
    })
    expect(saved.statusCode).toBe(303)
    expect(saved.headers.location).toBe(`/${id}`)
    expect(await storedPaste(app, id)).toMatchObject({ content: 'print("two")\n', title: 'Edited' })
  })

  it('asks anyone else for the token (one secret serves delete and edit), and shows a stale save its reason', async () => {
    const paste = await createPaste(app, { content: 'x = 1\n' })
    const form = await app.inject({ url: `/${paste.id}/edit` })
    expect(form.body).toContain('name="token"')
    expect(form.body).toContain('one secret serves delete and edit')
    const post = (fields: Record<string, string>) => app.inject({ method: 'POST', url: `/${paste.id}/edit`, headers: { ...FORM, accept: HTML_ACCEPT }, payload: new URLSearchParams(fields).toString() })
    expect((await post({ content: 'x = 2\n', token: 'wrong' })).statusCode).toBe(403)
    expect((await post({ content: 'x = 2\n' })).statusCode).toBe(403)
    expect((await post({ content: 'x = 2\n', token: paste.deleteToken, revision: '1' })).statusCode).toBe(303)
    const stale = await post({ content: 'x = 3\n', token: paste.deleteToken, revision: '1' })
    expect(stale.statusCode).toBe(409)
    expect(stale.body).toContain('the latest is revision 2')
    expect(stale.body).toContain('x = 3\n</textarea>')
    expect(stale.body).toContain('name="revision" value="2"')
  })

  it('is a 404 for a burn paste', async () => {
    const paste = await createPaste(app, { content: 'once', burn: true })
    expect((await app.inject({ url: `/${paste.id}/edit` })).statusCode).toBe(404)
  })
})

describe('the page view of an edited paste', () => {
  it('costs the same Redis commands as before the edit', async () => {
    const client = db.connect()
    // Without the page cache: the commands of a view that goes to Redis (as every cache miss does).
    const config = loadConfig({ PUBLIC_URL: 'http://redbin.test', REDIS_PREFIX: db.prefix, RATE_LIMIT_CREATES_PER_MINUTE: '0', LOG_LEVEL: 'silent', PAGE_CACHE_BYTES: '0' })
    const own = await buildApp({ config, redis: client })
    try {
      const plain = await createPaste(own, { content: 'never edited' })
      const edited = await createPaste(own, { content: 'edited' })
      expect((await edit(edited.id, edited.deleteToken, { content: 'edited twice' }, {}, own)).statusCode).toBe(200)
      await waitForStoredPage(db, plain.id)
      // Loads the scripts (on a cluster, on each paste's node).
      await Promise.all([own.inject({ url: `/${plain.id}` }), own.inject({ url: `/${edited.id}` })])
      const sent = vi.spyOn(client, 'sendCommand')
      const count = async (id: string) => {
        sent.mockClear()
        const res = await own.inject({ url: `/${id}` })
        expect(res.statusCode).toBe(200)
        return sent.mock.calls.map(([command]) => command.name)
      }
      const before = await count(plain.id)
      expect(await count(edited.id)).toEqual(before)
      expect(before.length).toBe(2)
      sent.mockRestore()
    } finally {
      await own.close()
    }
  })
})
