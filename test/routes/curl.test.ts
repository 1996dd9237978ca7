// The real curl binary against a listening server: its quirks are part of the contract
// (`curl -T file URL/` sends PUT /file; `--data-binary` sends a urlencoded type; `-F` a filename).
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FastifyInstance } from 'fastify'
import { useTestRedis } from '../helpers/redis.js'
import { curl, idFromUrl, parseCurlResponse, storedPaste, useApps } from './fixtures.js'

const db = useTestRedis()
const build = useApps(db)
let app: FastifyInstance
let base: string
let dir: string

const PYTHON = 'def greet(name):\n    return f"hello {name}"\n\nif __name__ == "__main__":\n    print(greet("world"))\n'
const CRLF = 'line one\r\n\tline two\r\n\r\nend without newline'

beforeAll(async () => {
  const testApp = await build()
  app = testApp.app
  base = await testApp.listen()
  dir = await mkdtemp(join(tmpdir(), 'redbin-curl-'))
  await writeFile(join(dir, 'notes.py'), PYTHON)
  await writeFile(join(dir, 'notes.txt'), CRLF)
  await writeFile(join(dir, 'main.go'), 'package main\n\nfunc main() {}\n')
})

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Runs curl with -i in the temp dir and parses the answer. */
async function curlI(...args: string[]) {
  return parseCurlResponse(await curl(['-i', ...args], dir))
}

const stored = (id: string) => storedPaste(app, id)

describe('curl', () => {
  it('curl -T notes.py URL/ (a PUT /notes.py) creates a paste titled notes.py in Python', async () => {
    const res = await curlI('-T', 'notes.py', `${base}/`)
    expect(res.status).toBe(201)
    expect(res.body).toMatch(/^http:\/\/redbin\.test\/[A-Za-z0-9_-]{10}\n$/)
    expect(res.headers.location).toBe(res.body.trim())
    expect(res.headers['x-delete-token']).toBeTruthy()
    expect(res.headers['x-expires']).toBeUndefined()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'notes.py', language: 'python', content: PYTHON })
  })

  it('curl -T file with options in the query string', async () => {
    const res = await curlI('-T', 'main.go', `${base}/?expires=1h&visibility=public&title=Server`)
    expect(res.status).toBe(201)
    expect(res.headers['x-expires']).toBeTruthy()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'Server', language: 'go', visibility: 'public' })
  })

  it('curl -T keeps CRLF, tabs and a missing final newline byte for byte', async () => {
    const res = await curlI('-T', 'notes.txt', `${base}/`)
    expect(res.status).toBe(201)
    const id = idFromUrl(res.body)
    expect((await stored(id)).content).toBe(CRLF)
    const raw = await curl([`${base}/${id}/raw`])
    expect(raw).toBe(CRLF)
  })

  it('curl --data-binary @file URL/ (urlencoded, no content field) gets a 400 showing the right commands', async () => {
    const res = await curlI('--data-binary', '@notes.py', `${base}/`)
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/^text\/plain/)
    expect(res.body).toContain('curl -T notes.txt http://redbin.test/')
    expect(res.body).toContain("curl --data-binary @notes.txt -H 'Content-Type: text/plain' http://redbin.test/")
    expect(res.body).toContain('curl -F content=@notes.txt http://redbin.test/')
  })

  it("curl --data-binary @file -H 'Content-Type: text/plain' URL/ creates the paste as sent", async () => {
    const res = await curlI('--data-binary', '@notes.txt', '-H', 'Content-Type: text/plain', `${base}/?language=plaintext&title=crlf`)
    expect(res.status).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ content: CRLF, title: 'crlf', language: 'plaintext' })
  })

  it('curl -F content=@file URL/ takes the file name as the title', async () => {
    const res = await curlI('-F', 'content=@notes.py', `${base}/`)
    expect(res.status).toBe(201)
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'notes.py', language: 'python', content: PYTHON })
  })

  it('curl -F with more fields and query options', async () => {
    const res = await curlI('-F', 'content=@notes.py', '-F', 'title=Mine', '-F', 'visibility=public', `${base}/?expires=10m&burn=1`)
    expect(res.status).toBe(201)
    expect(res.headers['x-expires']).toBeTruthy()
    expect(await stored(idFromUrl(res.body))).toMatchObject({ title: 'Mine', visibility: 'unlisted', burn: true })
  })

  it('curl -d content=... URL/ (a plain form) works', async () => {
    const res = await curlI('-d', 'content=hello from curl', '-d', 'expires=never', `${base}/`)
    expect(res.status).toBe(201)
    expect((await stored(idFromUrl(res.body))).content).toBe('hello from curl')
  })

  it('curl --data-urlencode content@file keeps CRLF, tabs and a missing final newline byte for byte', async () => {
    const res = await curlI('--data-urlencode', 'content@notes.txt', `${base}/`)
    expect(res.status).toBe(201)
    expect(await curl([`${base}/${idFromUrl(res.body)}/raw`])).toBe(CRLF)
  })

  it('curl -d with CRLF in the content, encoded or not, keeps it', async () => {
    const encoded = await curlI('-d', 'content=a%0D%0Ab%0D%0A', `${base}/`)
    expect(encoded.status).toBe(201)
    expect(await curl([`${base}/${idFromUrl(encoded.body)}/raw`])).toBe('a\r\nb\r\n')
    const literal = await curlI('-d', 'content=a\r\nb', `${base}/`)
    expect(literal.status).toBe(201)
    expect(await curl([`${base}/${idFromUrl(literal.body)}/raw`])).toBe('a\r\nb')
  })

  it('curl -F "content=<file" (a text field, no filename) keeps its CRLF', async () => {
    const res = await curlI('-F', 'content=<notes.txt', `${base}/`)
    expect(res.status).toBe(201)
    expect(await curl([`${base}/${idFromUrl(res.body)}/raw`])).toBe(CRLF)
  })

  it('a form sent with a browser\'s Accept is a textarea: its CRLF becomes LF', async () => {
    const res = await curlI('-H', 'Accept: text/html,*/*', '--data-urlencode', 'content@notes.txt', `${base}/`)
    expect(res.status).toBe(303)
    expect(await curl([`${base}${res.headers.location ?? ''}/raw`])).toBe(CRLF.replace(/\r\n/g, '\n'))
  })

  it('curl gets the URL, not a redirect (Accept: */*), and a browser-like Accept gets a 303', async () => {
    const browser = await curlI('-H', 'Accept: text/html,*/*', '-d', 'content=x', `${base}/`)
    expect(browser.status).toBe(303)
    expect(browser.headers['set-cookie']).toMatch(/HttpOnly/i)
  })

  it('curl -I on a raw URL does not burn a burn paste; curl on it does', async () => {
    const created = await curlI('-T', 'notes.txt', `${base}/?burn=1`)
    const id = idFromUrl(created.body)
    const head = await curlI('-I', `${base}/${id}/raw`)
    expect(head.status).toBe(200)
    expect(head.headers['cache-control']).toBe('no-store')
    expect(await curl([`${base}/${id}/raw`])).toBe(CRLF)
    const again = await curlI(`${base}/${id}/raw`)
    expect(again.status).toBe(404)
  })

  it('curl -H "Authorization: Bearer <token>" -X DELETE deletes through the API', async () => {
    const created = await curlI('-T', 'notes.txt', `${base}/`)
    const id = idFromUrl(created.body)
    const token = created.headers['x-delete-token'] ?? ''
    const del = await curlI('-X', 'DELETE', '-H', `Authorization: Bearer ${token}`, `${base}/api/pastes/${id}`)
    expect(del.status).toBe(204)
    expect((await curlI(`${base}/${id}/raw`)).status).toBe(404)
  })

  it('curl -d token=... URL/<id>/delete deletes through the form route', async () => {
    const created = await curlI('-T', 'notes.txt', `${base}/`)
    const id = idFromUrl(created.body)
    const del = await curlI('-d', `token=${created.headers['x-delete-token'] ?? ''}`, `${base}/${id}/delete`)
    expect(del.status).toBe(200)
    expect(del.body).toBe('deleted\n')
  })

  it('a large upload through curl -T is refused with 413 while being read', async () => {
    const big = join(dir, 'big.txt')
    await writeFile(big, 'x'.repeat(1024 * 1024 + 1))
    const res = await curlI('-T', 'big.txt', `${base}/`)
    expect(res.status).toBe(413)
  })
})
