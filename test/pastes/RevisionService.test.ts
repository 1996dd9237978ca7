// RevisionService answers "busy" (the route's 503) when the worker's queue is full, instead of
// failing or computing a diff on the event loop.
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { Store } from '../../src/model/index.js'
import { CodeRenderer } from '../../src/pastes/CodeRenderer.js'
import { PageRenderer } from '../../src/pastes/PageRenderer.js'
import { PasteService } from '../../src/pastes/PasteService.js'
import { RevisionService } from '../../src/pastes/RevisionService.js'
import { useTestRedis } from '../helpers/redis.js'

const db = useTestRedis()
const config = loadConfig({})
const pages = new PageRenderer('http://redbin.test', false)
const code = new CodeRenderer({ highlightMaxBytes: 1024 })
const full = new CodeRenderer({ highlightMaxBytes: 1024, maxQueue: 0 })

// Creates wait for their pages (5 s at most), so no render is in flight when the pools close.
afterAll(() => Promise.all([code.close(), full.close()]))

describe('RevisionService', () => {
  it('is busy, not broken, when the worker queue is full', async () => {
    const store = new Store(db.redis, { prefix: `${db.prefix}busy:` })
    const pastes = new PasteService(store, pages, code, config)
    const { paste: a } = await pastes.createPaste({ content: 'one\n' }, 5000)
    const { paste: b } = await pastes.createPaste({ content: 'two\n' }, 5000)
    const revisions = new RevisionService(store, pages, full, config)
    expect(await revisions.diff({ id: a.id }, { id: b.id }, 'html')).toEqual({ kind: 'busy' })
    expect((await new RevisionService(store, pages, code, config).diff({ id: a.id }, { id: b.id }, 'patch')).kind).toBe('diff')
  })
})
