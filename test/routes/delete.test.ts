// Deleting a paste: with the token from a form, the creator's cookie, or a Bearer header.
import { beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { type CreatedPaste, createPaste, expectNoStack, FORM, HTML_ACCEPT, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance

beforeAll(async () => {
  ;({ app } = await build())
})


/** Asserts the paste is gone from its page, raw URL, the API and both lists. */
async function expectGone(paste: CreatedPaste) {
  expect((await app.inject({ url: `/${paste.id}`, headers: { accept: HTML_ACCEPT } })).statusCode).toBe(404)
  expect((await app.inject({ url: `/${paste.id}/raw` })).statusCode).toBe(404)
  expect((await app.inject({ url: `/api/pastes/${paste.id}` })).statusCode).toBe(404)
  expect((await app.inject({ url: '/pastes' })).body).not.toContain(paste.id)
  expect((await app.inject({ url: '/' })).body).not.toContain(paste.id)
  const list = (await app.inject({ url: '/api/pastes?limit=100' })).json<{ items: { id: string }[] }>()
  expect(list.items.map((i) => i.id)).not.toContain(paste.id)
}

async function publicTotal(): Promise<number> {
  return (await app.inject({ url: '/api/pastes' })).json<{ total: number }>().total
}

describe('POST /:id/delete', () => {
  it('deletes with the token in a form field, and the paste is gone everywhere', async () => {
    const paste = await createPaste(app, { content: 'delete me', title: 'to be deleted', visibility: 'public' })
    expect((await app.inject({ url: '/pastes' })).body).toContain(paste.id)
    const before = await publicTotal()
    const res = await app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: FORM, payload: `token=${paste.deleteToken}` })
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('deleted\n')
    await expectGone(paste)
    expect(await publicTotal()).toBe(before - 1)
  })

  it('redirects a browser home after deleting and clears the owner cookie', async () => {
    const paste = await createPaste(app, { content: 'x' })
    const res = await app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: { ...FORM, accept: HTML_ACCEPT }, payload: `token=${paste.deleteToken}` })
    expect(res.statusCode).toBe(303)
    expect(res.headers.location).toBe('/?deleted=1')
    const cleared = res.cookies.find((c) => c.name === `owner_${paste.id}`)
    expect(cleared?.value).toBe('')
    expect(cleared?.path).toBe(`/${paste.id}`)
  })

  it('deletes with the creator\'s owner cookie alone (the page\'s Delete button)', async () => {
    const created = await app.inject({ method: 'POST', url: '/', headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'content=mine&visibility=public' })
    const id = String(created.headers.location).slice(1)
    const cookie = created.cookies.find((c) => c.name === `owner_${id}`)
    if (!cookie) throw new Error('no owner cookie')
    const res = await app.inject({ method: 'POST', url: `/${id}/delete`, headers: { accept: HTML_ACCEPT, cookie: `${cookie.name}=${cookie.value}` } })
    expect(res.statusCode).toBe(303)
    expect((await app.inject({ url: `/${id}`, headers: { accept: HTML_ACCEPT } })).statusCode).toBe(404)
  })

  it('refuses a wrong token with 403 and keeps the paste', async () => {
    const paste = await createPaste(app, { content: 'keep me' })
    const res = await app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: { ...FORM, accept: HTML_ACCEPT }, payload: 'token=not-the-token' })
    expect(res.statusCode).toBe(403)
    expect(res.headers['content-type']).toMatch(/^text\/html/)
    expectNoStack(res)
    expect((await app.inject({ url: `/${paste.id}/raw` })).body).toBe('keep me')
  })

  it('refuses another paste\'s token and someone else\'s cookie', async () => {
    const mine = await createPaste(app, { content: 'mine' })
    const theirs = await createPaste(app, { content: 'theirs' })
    const byToken = await app.inject({ method: 'POST', url: `/${theirs.id}/delete`, headers: FORM, payload: `token=${mine.deleteToken}` })
    expect(byToken.statusCode).toBe(403)
    const byCookie = await app.inject({ method: 'POST', url: `/${theirs.id}/delete`, headers: { cookie: `owner_${theirs.id}=${mine.deleteToken}` } })
    expect(byCookie.statusCode).toBe(403)
    expect((await app.inject({ url: `/${theirs.id}/raw` })).statusCode).toBe(200)
  })

  it('refuses a request without any token with 403', async () => {
    const paste = await createPaste(app, { content: 'x' })
    expect((await app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: FORM, payload: '' })).statusCode).toBe(403)
    expect((await app.inject({ method: 'POST', url: `/${paste.id}/delete` })).statusCode).toBe(403)
  })

  it('answers 404 for an unknown, already deleted or malformed id', async () => {
    const paste = await createPaste(app, { content: 'x' })
    const del = () => app.inject({ method: 'POST', url: `/${paste.id}/delete`, headers: FORM, payload: `token=${paste.deleteToken}` })
    expect((await del()).statusCode).toBe(200)
    expect((await del()).statusCode).toBe(404)
    expect((await app.inject({ method: 'POST', url: '/AAAAAAAAAA/delete', headers: FORM, payload: 'token=x' })).statusCode).toBe(404)
    expect((await app.inject({ method: 'POST', url: '/bad!/delete', headers: FORM, payload: 'token=x' })).statusCode).toBe(404)
  })
})

describe('DELETE /api/pastes/:id', () => {
  it('deletes with Authorization: Bearer <token> and answers 204', async () => {
    const paste = await createPaste(app, { content: 'api delete', visibility: 'public' })
    const before = await publicTotal()
    const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } })
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    await expectGone(paste)
    expect(await publicTotal()).toBe(before - 1)
  })

  it('answers 403 JSON to a wrong token and keeps the paste', async () => {
    const paste = await createPaste(app, { content: 'x' })
    const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: 'Bearer wrong' } })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toEqual({ error: expect.stringContaining('token') })
    expect((await app.inject({ url: `/${paste.id}/raw` })).statusCode).toBe(200)
  })

  it('answers 401 with WWW-Authenticate when the bearer token is missing or malformed', async () => {
    const paste = await createPaste(app, { content: 'x' })
    for (const authorization of [undefined, '', 'Basic dXNlcjpwYXNz', 'Bearer', paste.deleteToken]) {
      const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: authorization === undefined ? {} : { authorization } })
      expect(res.statusCode, String(authorization)).toBe(401)
      expect(res.headers['www-authenticate']).toBe('Bearer')
      expect(res.json()).toEqual({ error: expect.stringContaining('Bearer') })
    }
    expect((await app.inject({ url: `/${paste.id}/raw` })).statusCode).toBe(200)
  })

  it('answers 404 JSON to an unknown or malformed id', async () => {
    for (const id of ['AAAAAAAAAA', 'nope']) {
      const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${id}`, headers: { authorization: 'Bearer x' } })
      expect(res.statusCode).toBe(404)
      expect(res.json()).toEqual({ error: expect.any(String) })
    }
  })

  it('deletes a burn paste without reading it', async () => {
    const paste = await createPaste(app, { content: 'burn', burn: true })
    const res = await app.inject({ method: 'DELETE', url: `/api/pastes/${paste.id}`, headers: { authorization: `Bearer ${paste.deleteToken}` } })
    expect(res.statusCode).toBe(204)
    expect((await app.inject({ method: 'POST', url: `/${paste.id}/reveal` })).statusCode).toBe(404)
  })
})
