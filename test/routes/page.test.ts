// GET /:id (the paste page) and GET / (the form, the newest public pastes, forks).
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, useApps, waitUntil } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const page = (id: string, headers: Record<string, string> = {}) =>
  app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT, ...headers } })

/** The number in the page's view counter. */
function viewCount(html: string): number {
  const match = /class="paste-views"><span class="num">(\d+)<\/span> views?</.exec(html)
  if (!match) throw new Error('no view count on the page')
  return Number(match[1])
}

describe('GET /:id', () => {
  it('shows the title, language, size, line count, created and expiry times', async () => {
    const content = 'def f():\n    return 1\n\nprint(f())\n'
    const paste = await createPaste(app, { content, title: 'My function', language: 'python', expires: '1h' })
    const res = await page(paste.id)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8')
    const html = res.body
    expect(html).toContain('<h1 class="paste-title">My function</h1>')
    expect(html).toContain('<title>My function · redbin</title>')
    expect(html).toContain('Python')
    expect(html).toContain(`title="${Buffer.byteLength(content)} bytes"`)
    expect(html).toContain('4 lines')
    expect(html).toContain(`datetime="${paste.createdAt}"`)
    expect(html).toContain(`Expires <time class="rel" datetime="${paste.expiresAt}"`)
  })

  it('shows the expiry as relative time with the absolute time on hover, or "never"', async () => {
    const expiring = await createPaste(app, { content: 'x', expires: '1d' })
    const html = (await page(expiring.id)).body
    const expiresAt = new Date(expiring.expiresAt ?? '')
    const utc = `${expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC`
    expect(html).toMatch(new RegExp(`<time class="rel" datetime="${expiresAt.toISOString()}" title="${utc}">`))

    const forever = await createPaste(app, { content: 'x', expires: 'never' })
    expect((await page(forever.id)).body).toContain('Expires never')
  })

  it('counts each view and shows the count', async () => {
    const paste = await createPaste(app, { content: 'count me' })
    expect(viewCount((await page(paste.id)).body)).toBe(1)
    expect((await page(paste.id)).body).toContain('<span class="num">2</span> views')
    expect(viewCount((await page(paste.id)).body)).toBe(3)
  })

  it('does not count a HEAD request as a view', async () => {
    const paste = await createPaste(app, { content: 'peek' })
    for (let i = 0; i < 3; i++) {
      const head = await app.inject({ method: 'HEAD', url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
      expect(head.statusCode).toBe(200)
      expect(head.body).toBe('')
    }
    expect(viewCount((await page(paste.id)).body)).toBe(1)
  })

  it('answers a HEAD with the headers of the page a GET gets, and its length', async () => {
    const paste = await createPaste(app, { content: 'same length\n' })
    const get = await page(paste.id)
    const head = await app.inject({ method: 'HEAD', url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })
    expect(head.body).toBe('')
    expect(Number(head.headers['content-length'])).toBe(get.rawPayload.length)
    const { date: _getDate, ...getHeaders } = get.headers
    const { date: _headDate, ...headHeaders } = head.headers
    expect(headHeaders).toEqual(getHeaders)
  })

  it('gives every line an anchor id="L<n>" with a link to it', async () => {
    const paste = await createPaste(app, { content: 'one\ntwo\r\nthree\n\nfive', language: 'plaintext' })
    const html = (await page(paste.id)).body
    for (let n = 1; n <= 5; n++) {
      expect(html).toContain(`id="L${n}"`)
      expect(html).toContain(`href="#L${n}"`)
    }
    expect(html).not.toContain('id="L6"')
    expect(html).toMatch(/id="L2"><a [^>]*><\/a>two<\/span>/)
  })

  it('has Raw, Download, Copy and Fork buttons', async () => {
    const paste = await createPaste(app, { content: 'buttons' })
    const html = (await page(paste.id)).body
    expect(html).toMatch(new RegExp(`<a class="btn" href="/${paste.id}/raw">Raw</a>`))
    expect(html).toMatch(new RegExp(`<a class="btn" href="/${paste.id}/download" download>Download</a>`))
    expect(html).toMatch(/<button[^>]*id="copy-btn"[^>]*>Copy<\/button>/)
    expect(html).toMatch(new RegExp(`<a class="btn" href="/\\?fork=${paste.id}">Fork</a>`))
  })

  it('shows the Delete button only in the creator\'s browser (the owner cookie)', async () => {
    const created = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: HTML_ACCEPT }, payload: 'content=mine' })
    expect(created.statusCode).toBe(303)
    const id = String(created.headers.location).slice(1)
    const cookie = created.cookies.find((c) => c.name === `owner_${id}`)
    if (!cookie) throw new Error('no owner cookie')
    const deleteForm = `action="/${id}/delete"`

    expect((await page(id)).body).not.toContain(deleteForm)
    expect((await page(id, { cookie: `owner_${id}=wrong-token` })).body).not.toContain(deleteForm)
    const owner = (await page(id, { cookie: `${cookie.name}=${cookie.value}` })).body
    expect(owner).toContain(deleteForm)
    expect(owner).toMatch(/<button[^>]*>Delete<\/button>/)
  })

  it('never shows one view\'s Delete button or count to another, even when they share one render', async () => {
    // Views that arrive before the page is stored share one in-memory render, and each writes
    // its own part into the page it sends: each must get a copy of its own.
    // The API's create does not wait for the render, so these views come before it is stored.
    const { id, deleteToken } = await createPaste(app, { content: 'shared\n'.repeat(2000), language: 'python' })
    const views = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      page(id, i % 2 === 0 ? { cookie: `owner_${id}=${deleteToken}` } : {})))
    views.forEach((res, i) => expect(res.body.includes(`action="/${id}/delete"`)).toBe(i % 2 === 0))
    expect(new Set(views.map((res) => viewCount(res.body))).size).toBe(20)
  })

  it('leaves the per-view slot an HTML comment where a view has nothing to show', async () => {
    const paste = await createPaste(app, { content: 'slot' })
    const html = (await page(paste.id)).body
    // The count, then a comment padding the rest of the slot: the markup stays well-formed.
    expect(html).toMatch(/<div class="toolbar-dynamic"><span class="paste-views">.*?<\/span><!-- *--><\/div>/)
    const burn = await createPaste(app, { content: 'once', burn: true })
    const revealed = await app.inject({ method: 'POST', url: `/${burn.id}/reveal`, headers: { accept: HTML_ACCEPT } })
    // Nothing to show: only the comment, so .toolbar-dynamic:empty hides the element.
    expect(revealed.body).toMatch(/<div class="toolbar-dynamic"><!-- *--><\/div>/)
  })

  it('sends the security headers: CSP without inline scripts, frame-ancestors none, no-referrer, nosniff', async () => {
    const paste = await createPaste(app, { content: 'headers' })
    const res = await page(paste.id)
    const csp = String(res.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
  })

  it('keeps an unlisted paste out of search engines', async () => {
    const unlisted = await createPaste(app, { content: 'x', visibility: 'unlisted' })
    expect((await page(unlisted.id)).body).toContain('<meta name="robots" content="noindex, nofollow">')
    const listed = await createPaste(app, { content: 'x', visibility: 'public' })
    expect((await page(listed.id)).body).not.toContain('name="robots"')
  })

  it('serves the page even when it is viewed before its render finished, and stores the highlighted page later', async () => {
    const paste = await createPaste(app, { content: 'const answer = 42\nconsole.log(answer)\n', language: 'javascript' })
    const first = await page(paste.id)
    expect(first.statusCode).toBe(200)
    expect(first.body).toContain('id="L2"')
    await waitUntil(async () => (await page(paste.id)).body.includes('hljs-'))
  })
})

describe('GET /', () => {
  it('serves the new-paste form with every field of the contract', async () => {
    const res = await app.inject({ url: '/', headers: { accept: HTML_ACCEPT } })
    expect(res.statusCode).toBe(200)
    const html = res.body
    expect(html).toContain('<form method="post" action="/"')
    for (const name of ['content', 'title', 'language', 'expires', 'visibility', 'burn']) expect(html).toContain(`name="${name}"`)
    for (const expires of ['10m', '1h', '1d', '1w', '30d', '1y', 'never']) expect(html).toContain(`<option value="${expires}"`)
    expect(html).toContain('<option value="auto" selected>')
  })

  it('lists the 10 newest public pastes, never an unlisted one', async () => {
    await db.clear()
    const titles: string[] = []
    for (let i = 1; i <= 12; i++) {
      titles.push(`public paste ${i}.`)
      await createPaste(app, { content: `p${i}`, title: `public paste ${i}.`, visibility: 'public' })
      await new Promise((r) => setTimeout(r, 2))
    }
    await createPaste(app, { content: 'secret', title: 'unlisted paste', visibility: 'unlisted' })
    const html = (await app.inject({ url: '/' })).body
    const shown = titles.filter((t) => html.includes(`>${t}<`))
    expect(shown).toEqual(titles.slice(2))
    // Newest first.
    expect(html.indexOf('>public paste 12.<')).toBeLessThan(html.indexOf('>public paste 3.<'))
    expect(html).not.toContain('unlisted paste')
  })

  it('pre-fills content, title and language from ?fork=<id>', async () => {
    const source = await createPaste(app, { content: 'fn main() {\n    println!("hi");\n}\n', title: 'Hello', language: 'rust' })
    const html = (await app.inject({ url: `/?fork=${source.id}` })).body
    expect(html).toContain('fn main() {\n    println!(&quot;hi&quot;);\n}\n</textarea>')
    expect(html).toContain('value="Fork of Hello"')
    expect(html).toContain('<option value="rust" selected>')
    expect(html).toContain(`href="/${source.id}/r/1"`)
  })

  it('does not pre-fill from a burn paste (a fork would read it without burning it)', async () => {
    const burn = await createPaste(app, { content: 'the secret burn content', title: 'secret title', burn: true })
    const res = await app.inject({ url: `/?fork=${burn.id}` })
    expect(res.statusCode).toBe(200)
    expect(res.body).not.toContain('the secret burn content')
    expect(res.body).not.toContain('secret title')
    // And the paste is still there to be revealed once.
    expect((await app.inject({ method: 'POST', url: `/${burn.id}/reveal` })).body).toContain('the secret burn content')
  })

  it('shows an empty form for an unknown or malformed fork id', async () => {
    for (const fork of ['AAAAAAAAAA', 'nope', '../../etc']) {
      const res = await app.inject({ url: `/?fork=${encodeURIComponent(fork)}` })
      expect(res.statusCode).toBe(200)
      expect(res.body).toContain('value=""')
    }
  })
})
