// Reading a paste's revisions, its history, diffs between revisions and between pastes (the
// patch checked with the real git apply and patch), forks' origin, and the rules: burn pastes
// are never read, revisions expire and are deleted with their paste, lists show each paste once.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Store } from '../../src/model/index.js'
import { scanRecordsAndIndexes } from '../model/fixtures.js'
import { useTestRedis } from '../helpers/redis.js'
import { encryptPaste } from '../../src/shared/pasteCrypto.js'
import { createPaste, FORM, HTML_ACCEPT, useApps, type CreatedPaste } from './fixtures.js'

const run = promisify(execFile)
const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance
let dir: string

beforeAll(async () => {
  ;({ app } = await build())
  dir = await mkdtemp(join(tmpdir(), 'redbin-diff-'))
})

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function editTo(paste: CreatedPaste, content: string, extra: Record<string, string> = {}, target = app) {
  const res = await target.inject({ method: 'PUT', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` }, payload: { content, ...extra } })
  expect(res.statusCode, res.body).toBe(200)
}

const V1 = 'def greet(name):\n    return "hi " + name\n\nprint(greet("a"))\n'
const V2 = 'def greet(name):\n    return f"hello {name}"\n\nprint(greet("a"))\nprint(greet("b"))\n'
const V3 = 'def greet(name):\n    return f"hello {name}"\n\nprint(greet("b"))'

/** A paste edited twice: three revisions. */
async function threeRevisions(target = app) {
  const paste = await createPaste(target, { content: V1, title: 'greet', language: 'python', visibility: 'public' })
  await editTo(paste, V2, { title: 'greet v2' }, target)
  await editTo(paste, V3, {}, target)
  return paste
}

/** Applies `patch` to a file holding `before` with the real binary; returns the file after. */
async function applyWith(tool: 'git' | 'patch', name: string, before: string, patch: string): Promise<string> {
  const work = await mkdtemp(join(dir, `${tool}-`))
  await writeFile(join(work, name), before)
  await writeFile(join(work, 'change.patch'), patch)
  if (tool === 'git') await run('git', ['apply', '-p1', 'change.patch'], { cwd: work })
  else await run('patch', ['-p1', '-i', 'change.patch'], { cwd: work })
  return readFile(join(work, name), 'utf8')
}

describe('revisions', () => {
  it('serves any revision as a page and as its exact bytes', async () => {
    const paste = await threeRevisions()
    const page = await app.inject({ url: `/${paste.id}/r/1` })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('Revision 1 of 3')
    expect(page.body).toContain('return')
    expect(page.body).toContain(`href="/${paste.id}">Latest revision</a>`)
    expect(page.body).toContain('<script src="/static/app.js')
    expect(page.body).not.toMatch(/<script>/)
    const raw = await app.inject({ url: `/${paste.id}/r/2/raw` })
    expect(raw.body).toBe(V2)
    expect(raw.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(raw.headers['content-security-policy']).toBe("default-src 'none'; sandbox")
    expect(raw.headers.etag).toBe(`"${paste.id}-r2"`)
    expect((await app.inject({ url: `/${paste.id}/r/2/raw`, headers: { 'if-none-match': `"${paste.id}-r2"` } })).statusCode).toBe(304)
    expect((await app.inject({ url: `/${paste.id}/r/3/raw` })).body).toBe(V3)
    expect((await app.inject({ url: `/${paste.id}/r/3` })).body).toContain('Revision 3 of 3')
    for (const url of [`/${paste.id}/r/4`, `/${paste.id}/r/0`, `/${paste.id}/r/abc`, `/${paste.id}/r/4/raw`, '/nopenopenope/r/1']) {
      expect((await app.inject({ url })).statusCode, url).toBe(404)
    }
  })

  it('lists revisions newest first, as HTML and as JSON with lines added and removed', async () => {
    const paste = await threeRevisions()
    const json = await app.inject({ url: `/api/pastes/${paste.id}/revisions` })
    const { items } = json.json<{ items: { revision: number; title: string; added: number | null; removed: number | null; size: number; lines: number; language: string; createdAt: string }[] }>()
    expect(items.map((i) => i.revision)).toEqual([3, 2, 1])
    expect(items.map((i) => i.title)).toEqual(['greet v2', 'greet v2', 'greet'])
    expect(items[0]).toMatchObject({ added: 1, removed: 2, size: Buffer.byteLength(V3), lines: 4, language: 'python' })
    expect(items[1]).toMatchObject({ added: 2, removed: 1 })
    expect(items[2]).toMatchObject({ added: null, removed: null })
    expect(Date.parse(items[0]!.createdAt)).toBeGreaterThanOrEqual(Date.parse(items[2]!.createdAt))
    const html = await app.inject({ url: `/${paste.id}/revisions` })
    expect(html.statusCode).toBe(200)
    expect(html.body.indexOf('Revision 3')).toBeLessThan(html.body.indexOf('Revision 1'))
    expect(html.body).toContain(`href="/${paste.id}/diff?from=2&amp;to=3"`)
    expect(html.body).toContain(`href="/${paste.id}/r/1"`)
    const single = await createPaste(app, { content: 'once' })
    expect((await app.inject({ url: `/api/pastes/${single.id}/revisions` })).json().items).toHaveLength(1)
  })

  it('shows each paste once, at its latest revision, in creation order, in both lists', async () => {
    const { app: fresh } = await build({ REDIS_PREFIX: `${db.prefix}lists:` })
    const first = await threeRevisions(fresh)
    const second = await createPaste(fresh, { content: 'later', title: 'second', visibility: 'public' })
    const list = (await fresh.inject({ url: '/api/pastes' })).json<{ items: { id: string; title: string }[]; total: number }>()
    expect(list.items.map((i) => i.id)).toEqual([second.id, first.id])
    expect(list.items[1]?.title).toBe('greet v2')
    expect(list.total).toBe(2)
    const html = (await fresh.inject({ url: '/pastes' })).body
    expect(html.split(`href="/${first.id}"`).length - 1).toBe(1)
    // An edit that changes the language moves the paste between the language lists.
    await editTo(first, 'package main\n', { language: 'go' }, fresh)
    expect((await fresh.inject({ url: '/api/pastes?language=go' })).json().items.map((i: { id: string }) => i.id)).toEqual([first.id])
    expect((await fresh.inject({ url: '/api/pastes?language=python' })).json().total).toBe(0)
  })
})

describe('diffs', () => {
  it('shows the previous revision against the latest by default: marks, both line numbers, highlighting', async () => {
    const paste = await threeRevisions()
    const res = await app.inject({ url: `/${paste.id}/diff` })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain('revision 2')
    expect(res.body).toContain('<tr class="d-del"><td class="d-n">4</td><td class="d-n"></td><td class="d-m">-</td>')
    expect(res.body).toContain('<tr class="d-ctx"><td class="d-n">1</td><td class="d-n">1</td>')
    expect(res.body).toContain('class="hljs-keyword"')
    expect(res.body).toContain('No newline at end of file')
    const chosen = await app.inject({ url: `/${paste.id}/diff?from=1&to=3` })
    expect(chosen.body).toContain('<tr class="d-add">')
    expect((await app.inject({ url: `/${paste.id}/diff?from=9` })).statusCode).toBe(404)
    expect((await app.inject({ url: `/${paste.id}/diff?from=x` })).statusCode).toBe(400)
  })

  it('escapes every line and title, highlighted or not', async () => {
    for (const language of ['plaintext', 'html']) {
      const paste = await createPaste(app, { content: '<p>safe</p>\n', title: '<img src=x onerror=alert(1)>', language })
      await editTo(paste, '<script>alert(1)</script>\n"><svg onload=alert(2)>\n')
      for (const url of [`/${paste.id}/diff`, `/${paste.id}/revisions`, `/${paste.id}/r/1`, `/${paste.id}/edit`]) {
        const body = (await app.inject({ url })).body
        expect(body, url).not.toMatch(/<script>alert|<svg onload|<img src=x/)
      }
    }
  })

  it('gives a .patch that the real git apply and patch accept', async () => {
    const paste = await threeRevisions()
    for (const [from, to, before, after] of [[1, 2, V1, V2], [2, 3, V2, V3], [1, 3, V1, V3]] as const) {
      const res = await app.inject({ url: `/${paste.id}/diff.patch?from=${from}&to=${to}` })
      expect(res.statusCode).toBe(200)
      expect(res.headers['content-type']).toBe('text/x-diff; charset=utf-8')
      expect(await applyWith('git', `${paste.id}.py`, before, res.body)).toBe(after)
      expect(await applyWith('patch', `${paste.id}.py`, before, res.body)).toBe(after)
    }
  })

  it('diffs any two pastes, as a page and a patch', async () => {
    const a = await createPaste(app, { content: 'alpha\nbeta\ngamma\n', language: 'plaintext' })
    const b = await createPaste(app, { content: 'alpha\nBETA\ngamma\ndelta\n', language: 'plaintext' })
    const page = await app.inject({ url: `/diff/${a.id}/${b.id}` })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain(`href="/diff/${a.id}/${b.id}.patch?from=1&amp;to=1"`)
    const patch = await app.inject({ url: `/diff/${a.id}/${b.id}.patch` })
    expect(patch.statusCode).toBe(200)
    expect(await applyWith('git', `${a.id}.txt`, 'alpha\nbeta\ngamma\n', patch.body)).toBe('alpha\nBETA\ngamma\ndelta\n')
    expect(await applyWith('patch', `${a.id}.txt`, 'alpha\nbeta\ngamma\n', patch.body)).toBe('alpha\nBETA\ngamma\ndelta\n')
    expect((await app.inject({ url: `/diff/${a.id}/nopenopenope` })).statusCode).toBe(404)
    const same = await app.inject({ url: `/diff/${a.id}/${a.id}` })
    expect(same.body).toContain('No changes')
  })

  it('says "too large to diff here" over DIFF_MAX_BYTES and offers the raw texts', async () => {
    const { app: small } = await build({ DIFF_MAX_BYTES: '64' })
    const paste = await createPaste(small, { content: 'x'.repeat(40) })
    await editTo(paste, 'y'.repeat(40), {}, small)
    const page = await small.inject({ url: `/${paste.id}/diff` })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('too large to diff here')
    expect(page.body).toContain(`href="/${paste.id}/r/1/raw"`)
    expect(page.body).toContain(`href="/${paste.id}/r/2/raw"`)
    const patch = await small.inject({ url: `/${paste.id}/diff.patch` })
    expect(patch.statusCode).toBe(413)
    // Over the bound, an edit's line counts are unknown rather than computed on the event loop.
    const { items } = (await small.inject({ url: `/api/pastes/${paste.id}/revisions` })).json<{ items: { added: number | null }[] }>()
    expect(items[0]?.added).toBeNull()
  })

  it('diffs two 1 MiB pastes off the event loop', async () => {
    const line = (i: number) => `line ${String(i).padStart(7, '0')} of a long text, the same on both sides ..........`
    const lines = Array.from({ length: 12_000 }, (_, i) => line(i))
    const before = lines.join('\n').slice(0, 1_048_000)
    const changed = lines.map((l, i) => (i % 2500 === 7 ? `${l} CHANGED` : l)).join('\n').slice(0, 1_048_000)
    const a = await createPaste(app, { content: before, language: 'plaintext' })
    const b = await createPaste(app, { content: changed, language: 'plaintext' })
    await app.inject({ url: `/diff/${b.id}/${a.id}` }) // starts the worker thread, which is not the diff's cost
    // The longest gap between timer ticks while the diff is computed and sent (4-8 ms here).
    let last = performance.now()
    let longest = 0
    const probe = setInterval(() => {
      const now = performance.now()
      longest = Math.max(longest, now - last)
      last = now
    }, 1)
    const res = await app.inject({ url: `/diff/${a.id}/${b.id}` })
    clearInterval(probe)
    expect(res.statusCode).toBe(200)
    expect(res.body.split('<tr class="d-add">').length - 1).toBe(5)
    expect(longest).toBeLessThan(100)
  })

  it('gives up over DIFF_TIMEOUT_MS and says so', async () => {
    const { app: slow } = await build({ DIFF_TIMEOUT_MS: '1' })
    const lines = (seed: number) => Array.from({ length: 20_000 }, (_, i) => `${(i * seed) % 7919}`).join('\n')
    const a = await createPaste(slow, { content: lines(31) })
    const b = await createPaste(slow, { content: lines(37) })
    const page = await slow.inject({ url: `/diff/${a.id}/${b.id}` })
    expect(page.body).toContain('too large to diff here')
  })
})

describe('forks', () => {
  it('remember their origin and revision and link to the diff against it', async () => {
    const origin = await threeRevisions()
    const form = await app.inject({ url: `/?fork=${origin.id}&revision=2` })
    expect(form.body).toContain('name="fork" value="' + origin.id + '"')
    expect(form.body).toContain('name="fork_revision" value="2"')
    expect(form.body).toContain('print(greet(&quot;b&quot;))\n</textarea>')
    const created = await app.inject({
      method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT },
      payload: new URLSearchParams({ content: V2 + '# mine\n', language: 'python', fork: origin.id, fork_revision: '2' }).toString(),
    })
    expect(created.statusCode).toBe(303)
    const forkId = String(created.headers.location).slice(1)
    const page = (await app.inject({ url: `/${forkId}` })).body
    expect(page).toContain(`Forked from <a href="/${origin.id}/r/2">`)
    const diffUrl = `/diff/${origin.id}/${forkId}?from=2`
    expect(page).toContain(`href="${diffUrl.replace('&', '&amp;')}"`)
    const diff = await app.inject({ url: diffUrl })
    expect(diff.statusCode).toBe(200)
    expect(diff.body).toContain('# mine')
    expect((await app.inject({ url: `/api/pastes/${forkId}` })).json().forkOf).toEqual({ id: origin.id, revision: 2 })
  })

  it('refuses a malformed origin', async () => {
    const res = await app.inject({ method: 'POST', url: '/', headers: FORM, payload: new URLSearchParams({ content: 'x', fork: '../etc' }).toString() })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('fork')
  })
})

describe('burn pastes', () => {
  it('have no revisions, diffs or forks, and none of those reads burns them', async () => {
    const burn = await createPaste(app, { content: 'read me once', burn: true })
    const other = await createPaste(app, { content: 'plain' })
    for (const url of [
      `/${burn.id}/r/1`, `/${burn.id}/r/1/raw`, `/${burn.id}/revisions`, `/api/pastes/${burn.id}/revisions`,
      `/${burn.id}/diff`, `/${burn.id}/diff.patch`, `/diff/${burn.id}/${other.id}`, `/diff/${other.id}/${burn.id}.patch`,
    ]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404)
    }
    expect((await app.inject({ url: `/?fork=${burn.id}` })).body).not.toContain('read me once')
    expect((await app.inject({ method: 'HEAD', url: `/${burn.id}/raw` })).statusCode).toBe(200)
  })
})

describe('encrypted pastes', () => {
  it('cannot be edited, and have no revisions or diffs: the server cannot read them', async () => {
    const { envelope } = await encryptPaste({ content: 'secret\n', title: 't', language: 'plaintext' })
    const created = await app.inject({ method: 'POST', url: '/api/pastes', payload: { envelope } })
    expect(created.statusCode).toBe(201)
    const { id, deleteToken } = created.json<{ id: string; deleteToken: string }>()
    const other = await createPaste(app, { content: 'plain' })
    const edit = await app.inject({ method: 'PUT', url: `/api/pastes/${id}`, headers: { authorization: `Bearer ${deleteToken}` }, payload: { content: 'x' } })
    expect(edit.statusCode).toBe(409)
    expect(edit.json().error).toMatch(/encrypted paste cannot be edited/)
    for (const url of [`/${id}/edit`, `/${id}/r/1`, `/${id}/r/1/raw`, `/${id}/revisions`, `/api/pastes/${id}/revisions`, `/${id}/diff`, `/${id}/diff.patch`, `/diff/${other.id}/${id}`]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404)
    }
    expect((await app.inject({ url: `/diff/${id}/${other.id}` })).body).toContain('the server cannot diff what it cannot read')
  })
})

describe('revisions live and die with their paste', () => {
  it('are deleted with it', async () => {
    const { app: own } = await build({ REDIS_PREFIX: `${db.prefix}del:` })
    const paste = await threeRevisions(own)
    expect(await scanRecordsAndIndexes(db.redis, `${db.prefix}del:paste_revision:*`)).toHaveLength(2)
    const res = await own.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } })
    expect(res.statusCode).toBe(204)
    expect(await scanRecordsAndIndexes(db.redis, `${db.prefix}del:paste_revision:*`)).toEqual([])
    expect((await own.inject({ url: `/${paste.id}/r/1` })).statusCode).toBe(404)
  })

  it('expire with it', async () => {
    const paste = await createPaste(app, { content: 'short-lived', expires: '1h' })
    await editTo(paste, 'edited')
    const store = new Store(db.redis, { prefix: db.prefix })
    const parent = await db.redis.call('PEXPIRETIME', store.keys('paste').record(paste.id))
    expect(parent).toBe(Date.parse(paste.expiresAt!))
    expect(await db.redis.call('PEXPIRETIME', store.historyKeys('paste_revision').version(paste.id, 1))).toBe(parent)
  })
})

describe('OpenAPI', () => {
  it('documents every route of editing, revisions and diffs', async () => {
    const doc = (await app.inject({ url: '/openapi.json' })).json<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>()
    const expected: [string, string][] = [
      ['/api/pastes/{id}', 'put'], ['/api/pastes/{id}/revisions', 'get'], ['/{id}/edit', 'get'], ['/{id}/edit', 'post'],
      ['/{id}/r/{n}', 'get'], ['/{id}/r/{n}/raw', 'get'], ['/{id}/revisions', 'get'], ['/{id}/diff', 'get'],
      ['/{id}/diff.patch', 'get'], ['/diff/{a}/{b}', 'get'],
    ]
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined()
    expect(Object.keys(doc.paths['/api/pastes/{id}']?.put?.responses ?? {})).toEqual(expect.arrayContaining(['200', '401', '403', '404', '409', '413', '429']))
  })
})
