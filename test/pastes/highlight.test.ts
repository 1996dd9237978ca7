// Through the app: language detection at create time, and the highlighted page rendered off the
// request path and stored with the paste.
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { createPaste, HTML_ACCEPT, storedPageVersion, useApps, waitForStoredPage, waitUntil } from '../routes/fixtures.js'
import { SNIPPETS } from './snippets.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})

describe('language auto-detection', () => {
  it.each(Object.entries(SNIPPETS))('stores an obvious %s snippet as %s, and its page ends up highlighted', async (language, content) => {
    const paste = await createPaste(app, { content, language: 'auto' })
    expect(paste.language).toBe(language)
    // The create does not wait for the render: poll the page until the highlighted one is served.
    const html = await waitUntil(async () => {
      const body = (await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })).body
      return /<span class="hljs-[\w-]+">/.test(body) && body
    })
    expect(html).toContain('id="L1"')
  })

  it('takes a hint from the title\'s extension', async () => {
    expect((await createPaste(app, { content: 'x', title: 'lib.rs' })).language).toBe('rust')
  })

  it('an explicit language wins over detection', async () => {
    expect((await createPaste(app, { content: SNIPPETS.python ?? '', language: 'ruby' })).language).toBe('ruby')
  })
})

describe('rendering', () => {
  it('stores the rendered page with the paste, so a view serves it as stored', async () => {
    const paste = await createPaste(app, { content: SNIPPETS.go ?? '', language: 'go' })
    await waitForStoredPage(db, paste.id)
    const html = (await app.inject({ url: `/${paste.id}` })).body
    expect(html).toContain('<span class="hljs-keyword">package</span>')
  })

  it('highlights a paste up to HIGHLIGHT_INLINE_BYTES as it is created and stores its page in the same write, with no worker', async () => {
    const { app: fresh } = await build({ HIGHLIGHT_INLINE_BYTES: '4096' })
    const paste = await createPaste(fresh, { content: SNIPPETS.go ?? '', language: 'go' })
    // No waiting: the create's one write held the page.
    expect(await storedPageVersion(db, paste.id)).not.toBeNull()
    expect((await fresh.inject({ url: `/${paste.id}` })).body).toContain('<span class="hljs-keyword">package</span>')
    expect((await fresh.inject({ url: '/metrics' })).body).toMatch(/^redbin_render_workers 0$/m)
  })

  it('leaves a paste above HIGHLIGHT_INLINE_BYTES (0 by default) to the render worker, after the create', async () => {
    const { app: inlineOff } = await build()
    const paste = await createPaste(inlineOff, { content: SNIPPETS.go ?? '', language: 'go' })
    await waitForStoredPage(db, paste.id)
    expect((await inlineOff.inject({ url: `/${paste.id}` })).body).toContain('<span class="hljs-keyword">package</span>')
    expect((await inlineOff.inject({ url: '/metrics' })).body).toMatch(/^redbin_render_workers 1$/m)
  })

  it('stores a paste above HIGHLIGHT_MAX_BYTES as plain text', async () => {
    const { app: small } = await build({ HIGHLIGHT_MAX_BYTES: '100' })
    const content = SNIPPETS.python ?? ''
    expect(Buffer.byteLength(content)).toBeGreaterThan(100)
    const paste = await createPaste(small, { content, language: 'python' })
    await waitForStoredPage(db, paste.id)
    const html = (await small.inject({ url: `/${paste.id}` })).body
    expect(html).not.toContain('hljs-')
    expect(html).toContain('def __init__(self, root):')
    expect(html).toContain(`id="L${content.split('\n').length - 1}"`)
  })

  it('a large paste is created without blocking the event loop', async () => {
    const line = 'const value = compute(input, { depth: 3, name: "x" }) // comment\n'
    const content = line.repeat(Math.floor(900_000 / line.length))
    const delay = monitorEventLoopDelay({ resolution: 10 })
    delay.enable()
    const paste = await createPaste(app, { content, language: 'javascript' })
    const health = await app.inject({ url: '/healthz' })
    await waitForStoredPage(db, paste.id, 15_000)
    delay.disable()
    expect(health.statusCode).toBe(200)
    // Generous: other test files share the CPU. Highlighting 900 KB on this thread takes seconds.
    expect(delay.max / 1e6).toBeLessThan(250)
    const res = await app.inject({ url: `/${paste.id}` })
    expect(res.statusCode).toBe(200)
    expect(res.body).toContain(`id="L${paste.lines}"`)
  })

  it('closing the app while pages are still rendering is not an error', async () => {
    const { app: closing } = await build()
    await Promise.all(Array.from({ length: 20 }, (_, i) => createPaste(closing, { content: `${SNIPPETS.javascript}\n// ${i}`, language: 'javascript' })))
    // Unhandled rejections from the aborted renders would fail this file.
    await closing.close()
  })
})
