// Burn after reading: looking never burns, reading burns exactly once.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const SECRET = 'the launch code is 0000'
const burnPaste = () => createPaste(app, { content: SECRET, title: 'Top secret', burn: true })
const reveal = (id: string) => app.inject({ method: 'POST', url: `/${id}/reveal`, headers: { accept: HTML_ACCEPT } })

describe('a burn paste', () => {
  it('GET /:id shows the interstitial: a warning and a reveal button, no content, not indexable', async () => {
    const paste = await burnPaste()
    const res = await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(res.body).not.toContain(SECRET)
    expect(res.body).not.toContain('Top secret')
    expect(res.body).toMatch(/deleted/i)
    expect(res.body).toContain(`<form method="post" action="/${paste.id}/reveal"`)
    expect(res.body).toContain('<meta name="robots" content="noindex, nofollow">')
    expect(res.headers['x-robots-tag']).toBe('noindex, nofollow')
    expect(res.headers['cache-control']).toMatch(/no-cache|no-store/)
  })

  it('is never burned by GET or HEAD on its page (link previews and crawlers are safe)', async () => {
    const paste = await burnPaste()
    for (let i = 0; i < 3; i++) {
      expect((await app.inject({ url: `/${paste.id}` })).statusCode).toBe(200)
      expect((await app.inject({ method: 'HEAD', url: `/${paste.id}` })).statusCode).toBe(200)
    }
    const revealed = await reveal(paste.id)
    expect(revealed.statusCode).toBe(200)
    expect(revealed.body).toContain(SECRET)
  })

  it('POST /:id/reveal returns the page once, then the paste is gone everywhere', async () => {
    const paste = await burnPaste()
    const first = await reveal(paste.id)
    expect(first.statusCode).toBe(200)
    expect(first.body).toContain(SECRET)
    expect(first.body).toContain('Top secret')
    expect(first.headers['cache-control']).toBe('no-store')
    expect(first.headers['x-robots-tag']).toBe('noindex, nofollow')
    // The revealed page offers no links to the (now deleted) raw text and no fork.
    expect(first.body).not.toContain(`href="/${paste.id}/raw"`)
    expect(first.body).not.toContain(`/?fork=${paste.id}`)

    const second = await reveal(paste.id)
    expect(second.statusCode).toBe(404)
    expect(second.headers['content-type']).toMatch(/^text\/html/)
    expect(second.body).not.toContain(SECRET)
    expect((await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })).statusCode).toBe(404)
    expect((await app.inject({ url: `/${paste.id}/raw` })).statusCode).toBe(404)
    expect((await app.inject({ url: `/api/pastes/${paste.id}` })).statusCode).toBe(404)
  })

  it('of 50 concurrent reveals, exactly one gets the content and 49 get 404', async () => {
    const paste = await burnPaste()
    const answers = await Promise.all(Array.from({ length: 50 }, () => reveal(paste.id)))
    const ok = answers.filter((r) => r.statusCode === 200)
    expect(ok).toHaveLength(1)
    expect(ok[0]?.body).toContain(SECRET)
    const rest = answers.filter((r) => r.statusCode !== 200)
    expect(rest.map((r) => r.statusCode)).toEqual(Array(49).fill(404))
    for (const r of rest) expect(r.body).not.toContain(SECRET)
  })

  it('of 50 concurrent GET /:id/raw, exactly one gets the bytes', async () => {
    const paste = await burnPaste()
    const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: `/${paste.id}/raw` })))
    expect(answers.filter((r) => r.statusCode === 200).map((r) => r.body)).toEqual([SECRET])
    expect(answers.filter((r) => r.statusCode === 404)).toHaveLength(49)
  })

  it('GET /:id/raw is an explicit read: it returns the bytes once with no-store, and the second read is 404', async () => {
    const paste = await burnPaste()
    const first = await app.inject({ url: `/${paste.id}/raw` })
    expect(first.statusCode).toBe(200)
    expect(first.body).toBe(SECRET)
    expect(first.headers['cache-control']).toBe('no-store')
    expect((await app.inject({ url: `/${paste.id}/raw` })).statusCode).toBe(404)
  })

  it('GET /:id/download consumes it too', async () => {
    const paste = await burnPaste()
    expect((await app.inject({ url: `/${paste.id}/download` })).body).toBe(SECRET)
    expect((await app.inject({ url: `/${paste.id}/download` })).statusCode).toBe(404)
  })

  it('HEAD /:id/raw does not consume it', async () => {
    const paste = await burnPaste()
    for (let i = 0; i < 3; i++) {
      const head = await app.inject({ method: 'HEAD', url: `/${paste.id}/raw` })
      expect(head.statusCode).toBe(200)
      expect(head.headers['cache-control']).toBe('no-store')
      expect(head.body).toBe('')
    }
    expect((await app.inject({ url: `/${paste.id}/raw` })).body).toBe(SECRET)
  })

  it('GET /api/pastes/:id consumes it: the first read has the content, the second is 404 JSON', async () => {
    const paste = await burnPaste()
    const first = await app.inject({ url: `/api/pastes/${paste.id}` })
    expect(first.statusCode).toBe(200)
    expect(first.json()).toMatchObject({ id: paste.id, burn: true, content: SECRET })
    expect(first.headers['cache-control']).toBe('no-store')
    const second = await app.inject({ url: `/api/pastes/${paste.id}` })
    expect(second.statusCode).toBe(404)
    expect(second.json()).toEqual({ error: expect.any(String) })
  })

  it('POST /:id/reveal never deletes a paste that is not a burn paste (it needs no token)', async () => {
    const paste = await createPaste(app, { content: 'an ordinary paste', visibility: 'public' })
    const res = await reveal(paste.id)
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe(`/${paste.id}`)
    expect((await app.inject({ url: `/${paste.id}/raw` })).body).toBe('an ordinary paste')
    expect((await app.inject({ url: '/api/pastes' })).json<{ items: { id: string }[] }>().items.map((i) => i.id)).toContain(paste.id)
  })

  it('a reveal of an unknown or malformed id is a 404', async () => {
    expect((await reveal('AAAAAAAAAA')).statusCode).toBe(404)
    expect((await reveal('short')).statusCode).toBe(404)
  })

  it('does not leak its content through the page meta (link previews)', async () => {
    const paste = await burnPaste()
    const html = (await app.inject({ url: `/${paste.id}` })).body
    expect(html).toContain('<title>Burn after reading · redbin</title>')
    expect(html).not.toMatch(/launch code/)
  })
})
