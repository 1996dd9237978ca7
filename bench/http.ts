// The bench's own HTTP calls (seeding, metrics, the probe's big creates), on node:http with a
// keep-alive agent that drops idle sockets after 20 s: well before a server closes them
// (Fastify: 72 s), so a POST, which is never retried, never lands on a socket the server has
// just closed.
import { Agent, type IncomingHttpHeaders, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 20_000 })

export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  text(): string
}

type Options = { headers?: Record<string, string>; body?: string | Buffer; timeoutMs?: number }

/** One request; a GET, HEAD or DELETE that meets a socket the server just closed is sent again once. */
export async function http(method: string, url: string, options: Options = {}): Promise<HttpResponse> {
  try {
    return await once(method, url, options)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (!['GET', 'HEAD', 'DELETE'].includes(method) || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw err
    return once(method, url, options)
  }
}

function once(method: string, url: string, options: Options): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest
    const body = options.body === undefined ? undefined : Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body)
    const req = send(target, {
      method,
      agent: target.protocol === 'https:' ? undefined : agent,
      headers: { ...options.headers, ...(body ? { 'content-length': String(body.length) } : {}) },
      timeout: options.timeoutMs ?? 60_000,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const data = Buffer.concat(chunks)
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, text: () => data.toString() })
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within ${(options.timeoutMs ?? 60_000) / 1000} s`)))
    req.on('error', reject)
    req.end(body)
  })
}
