// GET /pastes and GET /api/pastes: public pastes, newest first, paged, filtered by language.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, expectNoStack, HTML_ACCEPT, useApps, type CreatedPaste } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

/** 25 public pastes, oldest first: 10 python, 15 go (alternating), plus unlisted ones. */
const listed: CreatedPaste[] = []
const unlisted: CreatedPaste[] = []

beforeAll(async () => {
  ;({ app } = await build())
  for (let i = 0; i < 25; i++) {
    const language = i % 5 < 2 ? 'python' : 'go'
    listed.push(await createPaste(app, { content: `paste ${i}`, title: `listed-${String(i).padStart(2, '0')}`, language, visibility: 'public' }))
    // Distinct creation times, so "newest first" has one right answer.
    await new Promise((r) => setTimeout(r, 2))
    if (i % 8 === 0) unlisted.push(await createPaste(app, { content: 'hidden', title: `unlisted-${i}`, language: 'python', visibility: 'unlisted' }))
  }
})

const newestFirst = () => [...listed].reverse()
/** The paste titles a list page shows, in order. */
const titlesOn = (html: string) => [...html.matchAll(/>(listed-\d\d)</g)].map((m) => m[1])

describe('GET /pastes', () => {
  it('shows 20 public pastes a page, newest first, with a link to the next page', async () => {
    const res = await app.inject({ url: '/pastes', headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expect(titlesOn(res.body)).toEqual(newestFirst().slice(0, 20).map((p) => p.title))
    expect(res.body).toContain('25 public pastes')
    expect(res.body).toContain('rel="next" href="/pastes?page=2"')
    expect(res.body).not.toContain('rel="prev"')
    expect(res.body).toContain('Page 1 of 2')
  })

  it('shows the rest on page 2, with a link back and none forward', async () => {
    const html = (await app.inject({ url: '/pastes?page=2' })).body
    expect(titlesOn(html)).toEqual(newestFirst().slice(20).map((p) => p.title))
    expect(html).toContain('rel="prev" href="/pastes?page=1"')
    expect(html).not.toContain('rel="next"')
  })

  it('shows an empty page beyond the end, linking back to the last page', async () => {
    const res = await app.inject({ url: '/pastes?page=7' })
    expect(res.statusCode).toBe(200)
    expect(titlesOn(res.body)).toEqual([])
    expect(res.body).toContain('rel="prev" href="/pastes?page=2"')
    expect(res.body).not.toContain('rel="next"')
  })

  it('filters by language, and the page links keep the filter', async () => {
    const python = newestFirst().filter((p) => p.language === 'python')
    const html = (await app.inject({ url: '/pastes?language=python' })).body
    expect(titlesOn(html)).toEqual(python.map((p) => p.title))
    expect(html).toContain(`${python.length} public pastes in Python`)
    expect(html).toContain('<option value="python" selected>')

    const go = newestFirst().filter((p) => p.language === 'go')
    expect(go.length).toBe(15)
    const goPage = (await app.inject({ url: '/pastes?language=go' })).body
    expect(titlesOn(goPage)).toEqual(go.map((p) => p.title))
    expect(goPage).not.toContain('rel="next"')
  })

  it('keeps the language filter in prev/next links', async () => {
    const rust: CreatedPaste[] = []
    for (let i = 0; i < 21; i++) rust.push(await createPaste(app, { content: 'x', title: `rust-${i}`, language: 'rust', visibility: 'public' }))
    try {
      const first = (await app.inject({ url: '/pastes?language=rust' })).body
      expect(first).toContain('rel="next" href="/pastes?language=rust&amp;page=2"')
      const second = (await app.inject({ url: '/pastes?language=rust&page=2' })).body
      expect(second).toContain('rel="prev" href="/pastes?language=rust&amp;page=1"')
      expect([...second.matchAll(/class="paste-item"/g)]).toHaveLength(1)
    } finally {
      // The other tests count the 25 pastes of beforeAll.
      for (const p of rust) await app.inject({ method: 'DELETE', url: `/api/pastes/${p.id}`, headers: { authorization: `Bearer ${p.deleteToken}` } })
    }
  })

  it('shows an empty state for a language nobody used', async () => {
    const res = await app.inject({ url: '/pastes?language=haskell' })
    expect(res.statusCode).toBe(200)
    expect(titlesOn(res.body)).toEqual([])
    expect(res.body).toContain('No public Haskell pastes yet.')
  })

  it('never lists an unlisted paste', async () => {
    for (const url of ['/pastes', '/pastes?page=2', '/pastes?language=python', '/']) {
      const html = (await app.inject({ url })).body
      for (const p of unlisted) {
        expect(html).not.toContain(p.id)
        expect(html).not.toContain(p.title)
      }
    }
  })

  it.each(['0', '-1', 'abc', '1.5', '10001'])('rejects page=%s with a 400 naming the page', async (page) => {
    const res = await app.inject({ url: `/pastes?page=${page}`, headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(400)
    expect(res.body).toContain('page')
    expectNoStack(res)
  })
})

describe('GET /api/pastes', () => {
  type List = { items: { id: string; url: string; title: string; language: string; size: number; lines: number; createdAt: string }[]; total: number }
  const list = async (query = '') => {
    const res = await app.inject({ url: `/api/pastes${query}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json<List>()
  }

  it('returns {items, total}: 20 public pastes by default, newest first, with the list fields only', async () => {
    const { items, total } = await list()
    expect(total).toBe(25)
    expect(items).toHaveLength(20)
    const times = items.map((i) => Date.parse(i.createdAt))
    expect(times).toEqual([...times].sort((a, b) => b - a))
    const newest = listed.at(-1)
    const match = items.find((i) => i.id === newest?.id)
    expect(match).toEqual({
      id: newest?.id, url: `http://redbin.test/${newest?.id}`, title: newest?.title, language: newest?.language,
      size: newest?.size, lines: newest?.lines, createdAt: newest?.createdAt,
    })
    expect(items[0]).not.toHaveProperty('content')
  })

  it('pages with limit and offset', async () => {
    const all = (await list('?limit=100')).items.map((i) => i.id)
    expect(all).toHaveLength(25)
    const page = await list('?limit=5&offset=10')
    expect(page.items.map((i) => i.id)).toEqual(all.slice(10, 15))
    expect(page.total).toBe(25)
    const beyond = await list('?offset=1000')
    expect(beyond).toEqual({ items: [], total: 25 })
  })

  it('filters by language', async () => {
    const { items, total } = await list('?language=python&limit=100')
    expect(total).toBe(10)
    expect(items.map((i) => i.id)).toEqual(newestFirst().filter((p) => p.language === 'python').map((p) => p.id))
    expect(await list('?language=haskell')).toEqual({ items: [], total: 0 })
  })

  it('never lists an unlisted paste', async () => {
    const ids = (await list('?limit=100')).items.map((i) => i.id)
    for (const p of unlisted) expect(ids).not.toContain(p.id)
  })

  it('never lists a burn paste, even one created public: browsing must not burn it', async () => {
    const burn = await createPaste(app, { content: 'read once', language: 'python', visibility: 'public', burn: true })
    expect(burn.visibility).toBe('unlisted')
    expect((await list('?limit=100')).items.map((i) => i.id)).not.toContain(burn.id)
  })

  it('matches the language filter case-insensitively', async () => {
    expect((await list('?language=PYTHON&limit=100')).total).toBe((await list('?language=python&limit=100')).total)
  })

  it.each([
    ['limit=0', 'limit'], ['limit=101', 'limit'], ['limit=abc', 'limit'], ['offset=-1', 'offset'], ['offset=1.5', 'offset'],
    ['offset=1000001', 'offset'], [`language=${'x'.repeat(41)}`, 'language'],
  ])('rejects %s with a 400 JSON error naming %s', async (query, field) => {
    const res = await app.inject({ url: `/api/pastes?${query}` })
    expect(res.statusCode).toBe(400)
    const body = res.json<{ error: string }>()
    expect(Object.keys(body)).toEqual(['error'])
    expect(body.error).toContain(field)
  })
})
