// The pages made per request go through @fastify/view with the PageRenderer's eta instance:
// compiled once in production, again on every render in development (edits show at once).
import Fastify from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type {} from '@fastify/view'
import { PageRenderer } from '../../src/pastes/PageRenderer.js'
import { viewsPlugin } from '../../src/plugins/views.js'

const apps: ReturnType<typeof Fastify>[] = []
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
})

async function viewsApp(production: boolean) {
  const pages = new PageRenderer('http://redbin.test', production)
  const compile = vi.spyOn(pages.eta, 'compile')
  const app = Fastify()
  apps.push(app)
  await app.register(viewsPlugin, { pages })
  // What a route that renders nothing (a paste view, a raw read) sees of @fastify/view.
  app.get('/locals', async (_request, reply) => ({ locals: reply.locals }))
  await app.ready()
  const renderError = (message: string) =>
    app.view('error', { status: 404, title: 'Paste not found', message, meta: pages.siteMeta('Paste not found · redbin', message, '/x', 'noindex') })
  return { app, pages, compile, renderError }
}

describe('viewsPlugin', () => {
  it('compiles each template once in production, however many pages it renders', async () => {
    const { compile, renderError } = await viewsApp(true)
    for (const message of ['one', 'two', 'three']) {
      expect(await renderError(`message ${message}`)).toContain(`<p class="error-message">message ${message}</p>`)
    }
    // error.eta and the layout it names, once each.
    expect(compile).toHaveBeenCalledTimes(2)
  })

  it('compiles again on every render in development', async () => {
    const { compile, renderError } = await viewsApp(false)
    await renderError('one')
    await renderError('two')
    expect(compile).toHaveBeenCalledTimes(4)
  })

  it('adds no hook to requests: a route that renders nothing runs none of its code', async () => {
    const { app } = await viewsApp(true)
    // Its onRequest hook would have set reply.locals to {} on every request.
    expect((await app.inject({ url: '/locals' })).json()).toEqual({ locals: null })
  })

  it('gives every page the fingerprinted asset URLs and escapes what it is given', async () => {
    const { pages, renderError } = await viewsApp(true)
    const html = await renderError('<script>alert(1)</script>')
    expect(html).toContain(`href="${pages.assets.css}"`)
    expect(html).toContain(`src="${pages.assets.js}"`)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).not.toContain('<script>alert')
  })
})
