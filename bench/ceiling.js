// The ceiling: bare Fastify on the same Node, under the same confinement as the app, serving
// fixed bodies the size of the app's responses. Whatever the app does beyond this (Redis,
// templates, headers, validation) is the gap between a scenario's req/s and the ceiling's.
// Plain JavaScript so that it runs with node itself, with no loader in the measured process.
//
//   GET  /:id           the page body (CEILING_PAGE_FILE)
//   GET  /:id/raw       the raw body (CEILING_RAW_FILE)
//   POST /api/pastes    parses the JSON body, answers 201 with a small JSON object
//   GET  /healthz, /metrics (event-loop delay p99 and RSS, named as redbin's)
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'

const page = readFileSync(process.env.CEILING_PAGE_FILE ?? '', 'utf8')
const raw = readFileSync(process.env.CEILING_RAW_FILE ?? '', 'utf8')
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
app.get('/:id', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page))
app.get('/:id/raw', async (_request, reply) => reply.type('text/plain; charset=utf-8').send(raw))
app.post('/api/pastes', { bodyLimit: 4 * 1024 * 1024 }, async (request, reply) => {
  const body = /** @type {{ content?: string }} */ (request.body)
  return reply.code(201).send({ id: 'AAAAAAAAAA', size: body.content?.length ?? 0 })
})

const stop = () => void app.close().then(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
await app.listen({ port: Number(process.env.PORT), host: process.env.HOST ?? '127.0.0.1' })
