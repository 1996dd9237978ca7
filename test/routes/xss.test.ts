// Classic XSS and template-injection payloads in content, title and language come back inert on
// every page that shows them: the paste page, the lists, the home page (fork pre-fill), errors.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, idFromUrl, multipart, useApps, waitForStoredPage } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

const PAYLOADS = [
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "'><svg onload=alert(1)>",
  'javascript:alert(1)',
  '</textarea><script>alert(1)</script>',
  '</title><script>alert(1)</script>',
  '{{7*7}}',
  '<%= 7*7 %>',
  '<%~ it.constructor %>',
  '${7*7}',
]

const TAG = /<\/?([a-zA-Z][\w:-]*)((?:\s+[^\s"'>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g
const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g

/**
 * Fails if `html` carries any payload in a live form: reads every real tag (attribute values
 * may hold escaped payloads, which are inert) and checks tag names, event handlers and URLs.
 */
function expectInert(html: string, where: string) {
  expect(html, where).not.toMatch(/<script>alert/i)
  expect(html, where).not.toMatch(/<\/textarea><script/i)
  expect(html, where).not.toMatch(/<\/title><script/i)
  for (const [tag, name = '', attributes = ''] of html.matchAll(TAG)) {
    const element = name.toLowerCase()
    expect(['img', 'iframe', 'object', 'embed', 'base'], `${where}: ${tag}`).not.toContain(element)
    // Only our own scripts: app.js, the hashed modules, an encrypted paste's envelope (data, not code).
    if (element === 'script') {
      expect(tag, where).toMatch(
        /^<script src="\/static\/app\.js\?v=[\w-]+" defer>$|^<script type="module" src="\/static\/m\/[\w-]{12}\/(encrypt-form|encrypted-page)\.js">$|^<script type="application\/json" id="envelope">$|^<\/script>$/,
      )
    }
    if (element === 'svg') expect(tag, where).not.toMatch(/onload/i)
    for (const [, attribute = '', ...values] of attributes.matchAll(ATTRIBUTE)) {
      expect(attribute.toLowerCase(), `${where}: ${tag}`).not.toMatch(/^on/)
      const value = values.find((v) => v !== undefined) ?? ''
      if (['href', 'src', 'action', 'formaction'].includes(attribute.toLowerCase())) {
        expect(value.trim().toLowerCase(), `${where}: ${tag}`).not.toMatch(/^javascript:/)
      }
    }
  }
  // eta's own tags never run on user data.
  expect(html, where).not.toContain('[object')
  expect(html, where).not.toMatch(/\bfunction Object\(\)/)
}

describe('XSS payloads', () => {
  it.each(PAYLOADS)('%s as content and title is escaped on the paste page, the lists, the fork form and the reveal', async (payload) => {
    const content = `before\n${payload}\nafter ${payload}`
    const paste = await createPaste(app, { content, title: payload, visibility: 'public' })
    const pages: [string, string][] = []
    // Rendered right away (the page may be served before the worker's render) and later, highlighted.
    pages.push(['page', (await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })).body])
    pages.push(['list', (await app.inject({ url: '/pastes' })).body])
    pages.push(['home', (await app.inject({ url: '/' })).body])
    const fork = (await app.inject({ url: `/?fork=${paste.id}` })).body
    pages.push(['fork', fork])
    for (const [where, html] of pages) expectInert(html, where)

    // The fork pre-fill keeps the text intact, as escaped text inside the textarea.
    const textarea = /<textarea[^>]*>\n?([\s\S]*?)<\/textarea>/.exec(fork)?.[1] ?? ''
    expect(unescape(textarea)).toBe(content)
    expect(unescape(/id="title"[^>]*value="([^"]*)"/.exec(fork)?.[1] ?? '')).toBe(`Fork of ${payload}`)

    const burn = await createPaste(app, { content, title: payload, burn: true, language: 'html' })
    expectInert((await app.inject({ url: `/${burn.id}` })).body, 'interstitial')
    expectInert((await app.inject({ method: 'POST', url: `/${burn.id}/reveal` })).body, 'reveal')
  })

  it.each(PAYLOADS)('%s as content stays inert once highlighted as HTML, JavaScript and Markdown', async (payload) => {
    const languages = ['html', 'javascript', 'markdown', 'plaintext']
    const pastes = await Promise.all(languages.map((language) =>
      createPaste(app, { content: `${payload}\n<a href="${payload}">x</a>\n`, title: payload, language })))
    for (const [i, paste] of pastes.entries()) {
      await waitForStoredPage(db, paste.id)
      expectInert((await app.inject({ url: `/${paste.id}` })).body, languages[i] ?? '')
    }
  })

  it.each(PAYLOADS)('%s as the language is refused with 400 by every create route', async (payload) => {
    const query = new URLSearchParams({ language: payload }).toString()
    const form = await multipart({ content: 'x', language: payload })
    const requests = [
      app.inject({ method: 'POST', url: '/api/pastes', payload: { content: 'x', language: payload } }),
      app.inject({ method: 'PUT', url: `/?${query}`, payload: 'x' }),
      app.inject({ method: 'POST', url: '/', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: HTML_ACCEPT }, payload: `content=x&${query}` }),
      app.inject({ method: 'POST', url: '/', payload: form.payload, headers: { ...form.headers, accept: HTML_ACCEPT } }),
    ]
    for (const res of await Promise.all(requests)) {
      expect(res.statusCode).toBe(400)
      expect(res.body).toContain('language')
      expect(res.headers['x-content-type-options']).toBe('nosniff')
      // JSON and plain-text errors may quote the payload: they are never HTML, and nosniff keeps it so.
      if (String(res.headers['content-type']).startsWith('text/html')) expectInert(res.body, 'error page')
    }
  })

  it.each(PAYLOADS)('%s in the list\'s language filter and page links is inert', async (payload) => {
    const query = new URLSearchParams({ language: payload }).toString()
    const res = await app.inject({ url: `/pastes?${query}` })
    expect([200, 400]).toContain(res.statusCode)
    expectInert(res.body, 'list filter')
    const api = await app.inject({ url: `/api/pastes?${query}` })
    expect([200, 400]).toContain(api.statusCode)
    expect(api.headers['content-type']).toMatch(/^application\/json/)
  })

  it.each(PAYLOADS)('%s in a URL is inert on the error page', async (payload) => {
    for (const url of [`/${encodeURIComponent(payload)}`, `/x?${new URLSearchParams({ q: payload })}`, `/AAAAAAAAAA/raw?${new URLSearchParams({ q: payload })}`]) {
      const res = await app.inject({ url, headers: { accept: HTML_ACCEPT } })
      expect(res.statusCode).toBe(404)
      expectInert(res.body, url)
    }
  })

  it('a payload as an uploaded file name (the title) is inert', async () => {
    const put = await app.inject({ method: 'PUT', url: `/${encodeURIComponent('<script>alert(1)</script>.js')}`, payload: 'x' })
    expect(put.statusCode).toBe(201)
    const form = await multipart({ content: { value: 'x', filename: '"><img src=x onerror=alert(1)>.py' } })
    const multi = await app.inject({ method: 'POST', url: '/', ...form })
    expect(multi.statusCode).toBe(201)
    for (const id of [idFromUrl(put.body), idFromUrl(multi.body)]) {
      const html = (await app.inject({ url: `/${id}` })).body
      expectInert(html, id)
      // (FormData percent-encodes a quote in a file name, as browsers do.)
      expect(html).toMatch(/<h1 class="paste-title">(&lt;script&gt;|(&quot;|%22)&gt;&lt;img)/)
    }
  })

  it('the raw view of a payload is served as sandboxed plain text', async () => {
    const paste = await createPaste(app, { content: '<script>alert(1)</script>' })
    const res = await app.inject({ url: `/${paste.id}/raw` })
    expect(res.body).toBe('<script>alert(1)</script>')
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; sandbox")
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })
})

/** Undoes HTML escaping, to compare escaped text with what was sent. */
function unescape(html: string): string {
  return html
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#x27;/g, "'")
    .replace(/&amp;/g, '&')
}
