import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import helmet, { type HelmetOptions } from 'helmet'

/**
 * Runs helmet's middleware once against a recording response and returns the headers it set.
 * Our policy has no per-request parts (no nonces), so every response gets the same set.
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader: () => {},
  } as unknown as ServerResponse
  let failure: unknown
  helmet(options)({} as IncomingMessage, recorder, (err?: unknown) => {
    failure = err
  })
  if (failure) throw failure
  return headers
}

/**
 * helmet's security headers (from helmetHeaders) on every response. @fastify/helmet rebuilds
 * helmet's middleware, and re-parses the CSP, on every request: about 4% of a paste view's CPU
 * in our profile. The error path (errors.ts, clientErrors.ts) adds the same set to answers
 * that no hook sees.
 */
export const securityHeadersPlugin = fp<{ headers: Readonly<Record<string, string>> }>(
  async (app: FastifyInstance, { headers }) => {
    app.addHook('onRequest', (_request, reply, done) => {
      reply.headers(headers)
      done()
    })
  },
  { name: 'redbin-security-headers' },
)
