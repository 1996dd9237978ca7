// The ceiling: bare Fastify on the same Node, under the same confinement as the app, serving
// for each id the very response the app serves for it: its bytes, as Buffers, as the app sends
// them, with the app's headers. Whatever the app does beyond this (Redis, templates, counting,
// validation) is the gap between a scenario's req/s and the ceiling's. Plain JavaScript so that
// it runs with node itself, with no loader in the measured process.
//
// Why every id's own bytes, not one typical page for all: the ids in rotation are of many sizes,
// and their mean page (~12.5 KB) is larger than the seed test's page of median size (~7.7 KB).
// Why Buffers, not strings: a page as a string cost the ceiling its encoding to UTF-8 and its
// length counted, on every response, which the app (Buffers from Redis or its cache) never pays.
// Measured side by side on one core (docs/performance.md, 2026-12-06, a tenth machine): one
// median page as a string, 63-75 µs per response; every id's page as strings, 78-88; as
// Buffers, 55-59.
// Why the app's headers: the eleven security headers (the CSP among them), the cache-control and
// the raw text's ETag are part of the responses the app must send; with only the content type,
// the ceiling sent 2 headers to the app's 14 and cost ~8% less per page (an eleventh machine:
// 35.7 against 38.6 µs, median of three rounds of alternating 1 s windows).
//
//   GET  /:id           the id's page (CEILING_BODIES_FILE, CEILING_INDEX_FILE: seed.ts' fetchBodies)
//   GET  /:id/raw       the id's raw text (both with the headers the app sent with them)
//   POST /api/pastes    parses the JSON body, answers 201 with a small JSON object
//   GET  /healthz, /metrics (event-loop delay p99 and RSS, named as redbin's)
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'

const bytes = readFileSync(process.env.CEILING_BODIES_FILE ?? '')
/** @type {{ index: Record<string, [number, number, number, number, number]>, headers: Record<string, string | string[]>[] }} */
const { index, headers } = JSON.parse(readFileSync(process.env.CEILING_INDEX_FILE ?? '', 'utf8'))
/** @typedef {{ body: Buffer, headers: Record<string, string | string[]> }} Response */
/** @type {Map<string, Response>} */
const pages = new Map()
/** @type {Map<string, Response>} */
const raws = new Map()
/** The bytes at [start, end) of the file, with the `set`th of the headers. @returns {Response} */
const response = (/** @type {number} */ start, /** @type {number} */ end, /** @type {number} */ set) =>
  ({ body: bytes.subarray(start, end), headers: /** @type {Record<string, string | string[]>} */ (headers[set]) })
for (const [id, [page, raw, end, pageHeaders, rawHeaders]] of Object.entries(index)) {
  pages.set(id, response(page, raw, pageHeaders))
  raws.set(id, response(raw, end, rawHeaders))
}
const loopDelay = monitorEventLoopDelay({ resolution: 5 })
loopDelay.enable()

const app = Fastify({ logger: false })
app.get('/healthz', async () => ({ status: 'ok' }))
app.get('/metrics', async (_request, reply) => {
  const text = [
    `redbin_event_loop_delay_seconds{quantile="0.99"} ${loopDelay.percentile(99) / 1e9}`,
    `redbin_event_loop_delay_max_seconds ${loopDelay.max / 1e9}`,
    `redbin_process_resident_memory_bytes ${process.memoryUsage().rss}`,
  ].join('\n')
  loopDelay.reset()
  return reply.type('text/plain; version=0.0.4; charset=utf-8').send(`${text}\n`)
})
/** @param {Map<string, Response>} responses */
const serve = (responses) => async (/** @type {import('fastify').FastifyRequest<{ Params: { id: string } }>} */ request, /** @type {import('fastify').FastifyReply} */ reply) => {
  const response = responses.get(request.params.id)
  return response ? reply.headers(response.headers).send(response.body) : reply.code(404).send()
}
app.get('/:id', serve(pages))
app.get('/:id/raw', serve(raws))
app.post('/api/pastes', { bodyLimit: 4 * 1024 * 1024 }, async (request, reply) => {
  const body = /** @type {{ content?: string }} */ (request.body)
  return reply.code(201).send({ id: 'AAAAAAAAAA', size: body.content?.length ?? 0 })
})

const stop = () => void app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' })
