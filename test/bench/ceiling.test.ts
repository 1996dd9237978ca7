// The ceiling serves, for each id, the response the app serves: the page and the raw text the app
// sent, byte for byte, with the app's headers. A real Redis, the app listening, and the real
// bench/ceiling.js in a process of its own.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { http } from '../../bench/http.js'
import { fetchBodies, writeCeilingFiles, type CeilingBodies } from '../../bench/seed.js'
import { buildTestApp, closeAppsAfterAll, type TestApp } from '../helpers/app.js'
import { freePort, useTestRedis } from '../helpers/redis.js'

const db = useTestRedis()
const track = closeAppsAfterAll()

/** A response's headers but for those Node's http server writes for any response. */
function ownHeaders(headers: IncomingHttpHeaders) {
  const { date: _date, connection: _connection, 'keep-alive': _keepAlive, 'content-length': _length, ...own } = headers
  return own
}

describe('bench: the ceiling', () => {
  let app: TestApp
  let ceiling: ChildProcess
  let ceilingUrl: string
  let bodies: CeilingBodies
  const ids: string[] = []
  const dir = mkdtempSync(join(tmpdir(), 'redbin-ceiling-'))

  beforeAll(async () => {
    app = track(await buildTestApp(db))
    for (const [content, language] of [['plain words\r\nand a second line\n', 'plaintext'], ['const answer = 42\nconsole.log(answer)\n', 'javascript']]) {
      const res = await app.app.inject({ method: 'POST', url: '/api/pastes', payload: { content, language } })
      expect(res.statusCode, res.body).toBe(201)
      ids.push(res.json<{ id: string }>().id)
    }
    await app.listen()
    bodies = await fetchBodies(app.url, ids)
    const files = writeCeilingFiles(dir, bodies)
    const port = await freePort()
    ceilingUrl = `http://127.0.0.1:${port}`
    ceiling = spawn(process.execPath, [join(import.meta.dirname, '../../bench/ceiling.js')], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...files },
      stdio: 'inherit',
    })
    for (let tries = 0; ; tries++) {
      const up = await http('GET', `${ceilingUrl}/healthz`).then((r) => r.status === 200, () => false)
      if (up) break
      if (tries > 100 || ceiling.exitCode !== null) throw new Error('bench/ceiling.js did not start')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })

  afterAll(() => {
    ceiling?.kill()
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves each page as the app sent it, with the app\'s headers', async () => {
    for (const id of ids) {
      const [page, raw] = bodies.index[id]!
      const [fromCeiling, fromApp] = await Promise.all([http('GET', `${ceilingUrl}/${id}`), http('GET', `${app.url}/${id}`)])
      expect(fromCeiling.status).toBe(200)
      expect(fromCeiling.body.equals(bodies.bytes.subarray(page, raw))).toBe(true)
      expect(fromCeiling.text()).toContain('<span class="num">1</span> view<')
      // The app's page now counts this view too: the bytes differ there, not the headers.
      expect(fromApp.text()).toContain('<span class="num">2</span> views<')
      expect(ownHeaders(fromCeiling.headers)).toEqual(ownHeaders(fromApp.headers))
      expect(fromCeiling.headers['content-security-policy']).toContain("script-src 'self'")
      expect(fromCeiling.headers['content-length']).toBe(String(raw - page))
    }
  })

  it('serves each raw text as the app does: the same bytes, the same headers (its ETag too)', async () => {
    for (const id of ids) {
      const [fromCeiling, fromApp] = await Promise.all([http('GET', `${ceilingUrl}/${id}/raw`), http('GET', `${app.url}/${id}/raw`)])
      expect(fromCeiling.status).toBe(200)
      expect(fromCeiling.body.equals(fromApp.body)).toBe(true)
      expect(ownHeaders(fromCeiling.headers)).toEqual(ownHeaders(fromApp.headers))
      expect(fromCeiling.headers.etag).toBe(`"${id}-r1"`)
    }
  })

  it('keeps each set of headers once: the pages share theirs, each raw text has its own ETag', () => {
    const [first, second] = ids.map((id) => bodies.index[id]!)
    expect(first![3]).toBe(second![3])
    expect(first![4]).not.toBe(second![4])
    expect(bodies.headers).toHaveLength(3)
  })
})
