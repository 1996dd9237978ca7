// HTTP/1.1 over a bare socket, for what an HTTP client cannot send (broken framing, pipelined
// requests) and to read answers strictly: every byte the server sends must belong to a response
// framed as the requests it answers require (a HEAD's answer has no body). A stray byte is what
// desynchronises a keep-alive client or a proxy.
import { connect } from 'node:net'

export interface RawResponse {
  status: number
  /** Lower-cased names; a repeated header's values joined with ", ". */
  headers: Record<string, string>
  body: Buffer
}


/**
 * Writes `request` (all at once, or its parts a millisecond apart, so that each is a write,
 * and most often a read, of its own) and collects
 * everything the server sends until it closes the connection or `idleMs` pass without a byte
 * (then the client closes).
 */
export async function exchange(port: number, request: Buffer | string | (Buffer | string)[], idleMs = 400): Promise<{ bytes: Buffer; closedByServer: boolean }> {
  const parts = Array.isArray(request) ? request : [request]
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    let closedByServer = true
    let idle: NodeJS.Timeout | undefined
    const restartIdle = () => {
      clearTimeout(idle)
      idle = setTimeout(() => {
        closedByServer = false
        socket.destroy()
      }, idleMs)
    }
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1))
        if (socket.destroyed) return
        socket.write(part)
      }
      restartIdle()
    })
    socket.on('data', (chunk) => {
      chunks.push(chunk)
      restartIdle()
    })
    // A reset after the server has answered (it closes on a rejected request) still counts.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err)
    })
    socket.on('close', () => {
      clearTimeout(idle)
      resolve({ bytes: Buffer.concat(chunks), closedByServer })
    })
  })
}

/** Thrown when bytes do not frame as responses to the requests sent. */
export class FramingError extends Error {
  override name = 'FramingError'
}

/**
 * Splits `bytes` into the responses to requests of `methods`, in order (interim 1xx answers
 * included). Throws FramingError
 * on bytes that are not a response where one must start, a body on a HEAD's answer being the
 * typical case. Fewer responses than methods is fine (the server may close early); bytes left
 * over once every request is answered are not.
 */
export function parseResponses(bytes: Buffer, methods: readonly string[]): RawResponse[] {
  const responses: RawResponse[] = []
  let at = 0
  for (let i = 0; i < methods.length; ) {
    const method = methods[i] as string
    if (at >= bytes.length) break
    const end = bytes.indexOf('\r\n\r\n', at)
    if (end < 0) throw new FramingError(`an incomplete response head at byte ${at}: ${JSON.stringify(bytes.subarray(at, at + 80).toString('latin1'))}`)
    const [statusLine = '', ...lines] = bytes.subarray(at, end).toString('latin1').split('\r\n')
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)
    if (!status) throw new FramingError(`expected a status line at byte ${at}, got ${JSON.stringify(statusLine.slice(0, 80))}`)
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon <= 0) throw new FramingError(`a malformed header line: ${JSON.stringify(line.slice(0, 80))}`)
      const name = line.slice(0, colon).trim().toLowerCase()
      const value = line.slice(colon + 1).trim()
      headers[name] = Object.hasOwn(headers, name) ? `${headers[name]}, ${value}` : value
    }
    at = end + 4
    const code = Number(status[1])
    // An interim answer (100 Continue) comes before the real one to the same request.
    if (code < 200) {
      responses.push({ status: code, headers, body: Buffer.alloc(0) })
      continue
    }
    let body: Buffer = Buffer.alloc(0)
    if (method !== 'HEAD' && code !== 204 && code !== 304) {
      if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
        const parts: Buffer[] = []
        for (;;) {
          const lineEnd = bytes.indexOf('\r\n', at)
          if (lineEnd < 0) throw new FramingError('a chunked body cut short')
          const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16)
          if (!Number.isInteger(size)) throw new FramingError('a malformed chunk size')
          at = lineEnd + 2
          if (size === 0) {
            const trailerEnd = bytes.indexOf('\r\n', at)
            if (trailerEnd !== at) throw new FramingError('trailers after a chunked body')
            at += 2
            break
          }
          parts.push(bytes.subarray(at, at + size))
          at += size + 2
        }
        body = Buffer.concat(parts)
      } else if (headers['content-length'] !== undefined) {
        const length = Number(headers['content-length'])
        if (!Number.isInteger(length) || length < 0) throw new FramingError(`a bad content-length: ${headers['content-length']}`)
        if (at + length > bytes.length) throw new FramingError(`a body of ${length} bytes cut short at ${bytes.length - at}`)
        body = bytes.subarray(at, at + length)
        at += length
      } else {
        // No length: the body runs to the end of the connection, which must then close.
        body = bytes.subarray(at)
        at = bytes.length
      }
    }
    responses.push({ status: code, headers, body })
    i++
  }
  if (at < bytes.length) {
    throw new FramingError(`${bytes.length - at} bytes after the last response: ${JSON.stringify(bytes.subarray(at, at + 80).toString('latin1'))}`)
  }
  return responses
}
