import { connect as connectTcp, type Socket } from 'node:net'
import { connect as connectTls, type ConnectionOptions } from 'node:tls'
import type { HashReads } from '../model/Store.js'

/** Where and how HashReader connects: the app client's own settings (ioredis' `options`). */
export interface HashReaderTarget {
  host?: string
  port?: number
  /** A Unix socket, instead of host and port. */
  path?: string | null
  username?: string
  password?: string
  db?: number
  tls?: ConnectionOptions
}

/** An error reply from Redis to one command (the connection stays up). */
export class HashReplyError extends Error {
  override readonly name = 'HashReplyError'
}

type Values = (Buffer | null)[]
/** A reply as parsed: bulk strings as Buffers, integers as numbers, arrays nested as they come. */
type Reply = Reply[] | Buffer | string | number | null | HashReplyError

export interface HashReaderOptions {
  /** A command without a reply for this long (up to twice as long) fails, with all in flight, and the connection is renewed. */
  timeoutMs?: number
  /** Connection and protocol errors; the reader recovers on its own. */
  onError?: (err: Error) => void
  /**
   * Within this many ms of a write, the next commands wait for the window to end and go out
   * together (0: at the end of each turn of the event loop). A command after a quiet spell goes
   * at the end of its turn, as before.
   */
  batchMs?: number
}

/** What the reader has sent: commands, and the writes that carried them. */
export interface HashReaderStats {
  commands: number
  writes: number
}

/** The connection's name in CLIENT LIST. */
export const HASH_READER_NAME = 'redbin-hash-reader'

/**
 * What a settled command leaves in `waiting`. Under steady page views the queue seldom empties
 * (the next batch goes out before the last reply of this one is in), so a command's resolve and
 * reject stayed there until `head` reached 1024: ~50 ms, each holding its promise and, through
 * it, the reply's page Buffers (and the 64 KB socket reads they are views of). That outlived two
 * scavenges, so V8 promoted them, and promoted bytes and external memory since the last full
 * collection count against the same limit: a mark-compact of the whole heap every 0.5-1 s,
 * ~35-50 ms of marking each on this one core. Measured on one core, 50 connections over 7,947
 * pages (docs/performance.md, Where it stands, a sixteenth machine): 12-16 mark-compacts in 8 s
 * before, 1-2 after; 48.8-50.4 µs of server CPU per view against 56.2-57.4, alternating.
 */
const SETTLED = () => {}

/** How long a lost connection waits before the next try, in ms. */
const RETRY_MS = 1000
const CR = 13

/**
 * A second connection to a single Redis for the hottest path's commands: HMGET, for page views
 * read past the page cache (CachedRead), and EVALSHA, for the view counts they send together.
 * Through ioredis such a read cost ~19 µs of client CPU per command, against ~10 here,
 * measured alone (200,000 HMGETs of an 11 KB field, 50 in flight, client on one core and Redis
 * on the other): ioredis builds a Command with its own promise, timers and flags for each, and
 * its parser copies every reply that crosses two socket reads into a pool that is never reused.
 * Here a command is a string appended to the turn's write and two callbacks in a queue; a reply
 * is parsed where it lies, a value that crosses reads is copied once into a Buffer of its size.
 *
 * Nothing else goes through it: writes, other scripts (and loading this one: NOSCRIPT fails it),
 * tracked reads and clusters stay with ioredis. While it is not connected (`ready` false)
 * callers go through ioredis; a lost connection, or one that leaves a command unanswered for
 * `timeoutMs`, fails the commands in flight and is tried again after RETRY_MS.
 */
export class HashReader implements HashReads {
  private socket: Socket | null = null
  private connected = false
  private closed = false
  private retry: NodeJS.Timeout | null = null
  /** Replies still owed by the handshake (AUTH, SELECT) before commands may go. */
  private handshake = 0
  /** The turn's commands, written together at its end. */
  private out = ''
  private flushing = false
  private readonly flush = () => this.write()
  /** When the last write went out (performance.now()). */
  private wroteAt = -Infinity
  private readonly batchMs: number
  readonly stats: HashReaderStats = { commands: 0, writes: 0 }
  /** Resolve and reject of each command in flight, in order, from `head`. */
  private waiting: ((value: never) => void)[] = []
  private head = 0
  /** The RESP form of each field list, by identity (callers pass constant lists). */
  private readonly encoded = new WeakMap<readonly string[], string>()
  // The parser's state between socket reads: the arrays being filled, innermost last, and how
  // many elements each has so far.
  private fragment: Buffer | null = null
  private arrays: Reply[][] = []
  private filledTo: number[] = []
  private bulk: Buffer | null = null
  private filled = 0
  private skip = 0
  // The timeout's state: replies so far, as of the last check, and whether one was owed then.
  private replies = 0
  private repliesAtCheck = 0
  private owedAtCheck = false
  private readonly watch: NodeJS.Timeout
  private readonly onError: (err: Error) => void

  constructor(private readonly target: HashReaderTarget, { timeoutMs = 1000, onError = () => {}, batchMs = 0 }: HashReaderOptions = {}) {
    this.onError = onError
    this.batchMs = batchMs
    this.watch = setInterval(() => this.check(timeoutMs), timeoutMs)
    this.watch.unref()
    this.open()
  }

  /** Whether commands can be sent now. */
  get ready(): boolean {
    return this.connected && this.handshake === 0
  }

  /** The fields of the hash at `key`, as Buffers (null for a missing field, all null for no hash). */
  hmget(key: string, fields: readonly string[]): Promise<Values> {
    if (!this.ready) return Promise.reject(new Error('HashReader: not connected'))
    let tail = this.encoded.get(fields)
    if (tail === undefined) {
      tail = fields.map(bulk).join('')
      this.encoded.set(fields, tail)
    }
    return this.request<Values>(`*${fields.length + 2}\r\n$5\r\nHMGET\r\n${bulk(key)}${tail}`)
  }

  /**
   * EVALSHA of a script Redis already has (else it fails with Redis' NOSCRIPT error: the caller
   * loads it some other way), with `numberOfKeys` keys first in `keysAndArgs`. Its reply as
   * parsed: Buffers, numbers, null, and arrays of them.
   */
  evalsha(sha: string, numberOfKeys: number, keysAndArgs: readonly (string | number)[]): Promise<unknown> {
    if (!this.ready) return Promise.reject(new Error('HashReader: not connected'))
    let command = `*${keysAndArgs.length + 3}\r\n$7\r\nEVALSHA\r\n${bulk(sha)}${bulk(String(numberOfKeys))}`
    for (const arg of keysAndArgs) command += bulk(String(arg))
    return this.request<unknown>(command)
  }

  /** Sends `command` with the turn's others; settles with its reply (a refusal rejects). */
  private request<T>(command: string): Promise<T> {
    this.send(command)
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(resolve as (value: never) => void, reject as (value: never) => void)
    })
  }

  /** Stops for good: commands in flight fail. */
  close(): void {
    this.closed = true
    clearInterval(this.watch)
    if (this.retry) clearTimeout(this.retry)
    this.lost(new Error('HashReader: closed'))
  }

  /** A command owed at the last check, and no reply since: the connection is stuck. */
  private check(timeoutMs: number) {
    const owed = this.head < this.waiting.length
    if (owed && this.owedAtCheck && this.replies === this.repliesAtCheck) this.fail(new Error(`HashReader: no reply from Redis in ${timeoutMs} ms`))
    this.owedAtCheck = this.head < this.waiting.length
    this.repliesAtCheck = this.replies
  }

  private open() {
    const { host = '127.0.0.1', port = 6379, path, tls } = this.target
    const socket = path ? connectTcp(path) : tls ? connectTls({ host, port, ...tls }) : connectTcp(port, host)
    this.socket = socket
    socket.setNoDelay(true)
    socket.on(tls ? 'secureConnect' : 'connect', () => {
      this.connected = true
      const { username, password, db } = this.target
      if (password) this.command(username ? ['AUTH', username, password] : ['AUTH', password])
      if (db) this.command(['SELECT', String(db)])
      // So that operators (and the tests) can tell it apart in CLIENT LIST.
      this.command(['CLIENT', 'SETNAME', HASH_READER_NAME])
    })
    // Only the current socket's bytes are parsed: a reply of a connection given up on must
    // never be taken for the answer to a command sent on the next one.
    socket.on('data', (chunk: Buffer) => {
      if (this.socket === socket) this.read(socket, chunk)
    })
    socket.on('error', (err) => this.onError(err))
    socket.on('close', () => {
      if (this.socket === socket) this.lost(new Error('HashReader: connection lost'))
    })
  }

  private command(args: string[]) {
    this.handshake++
    this.send(`*${args.length}\r\n${args.map(bulk).join('')}`)
  }

  /**
   * Queues `command` for the next write: at the end of this turn, or, within `batchMs` of the
   * last write, when that window ends. Why the window: each write to Redis wakes it, and that
   * wake-up, paid by the writer on loopback, was a large part of what a view read past the page
   * cache cost the server more than one served from memory (docs/performance.md). Under
   * views of more pages than the cache holds, a write per turn carried 2.6 reads on average;
   * with a window of 1 ms, 13, and a view cost 10-20% less server CPU.
   */
  private send(command: string) {
    this.out += command
    this.stats.commands++
    if (this.flushing) return
    this.flushing = true
    const wait = this.wroteAt + this.batchMs - performance.now()
    if (wait > 0) setTimeout(this.flush, wait)
    else setImmediate(this.flush)
  }

  private write() {
    this.flushing = false
    if (this.out === '' || this.socket === null) return
    this.socket.write(this.out)
    this.out = ''
    this.stats.writes++
    if (this.batchMs > 0) this.wroteAt = performance.now()
  }

  /** Something went wrong on the connection (a refused handshake, a stuck Redis, a protocol error): say so, and give it up. */
  private fail(err: Error) {
    this.onError(err)
    this.lost(err)
  }

  /** The connection is gone: what was in flight fails, and a new one is tried later. */
  private lost(err: Error) {
    const socket = this.socket
    this.socket = null
    this.connected = false
    this.handshake = 0
    this.out = ''
    this.fragment = this.bulk = null
    this.arrays = []
    this.filledTo = []
    this.skip = 0
    socket?.destroy()
    const waiting = this.waiting
    const head = this.head
    this.waiting = []
    this.head = 0
    for (let i = head + 1; i < waiting.length; i += 2) waiting[i]!(err as never)
    if (!this.closed && this.retry === null) {
      this.retry = setTimeout(() => {
        this.retry = null
        if (!this.closed) this.open()
      }, RETRY_MS)
      this.retry.unref()
    }
  }

  private read(socket: Socket, chunk: Buffer) {
    if (this.fragment !== null) {
      chunk = Buffer.concat([this.fragment, chunk])
      this.fragment = null
    }
    let at = 0
    // Until the chunk is read, or the connection is given up on (a refused handshake, a reply nobody asked for).
    while (at < chunk.length && this.socket === socket) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at)
        at += n
        this.skip -= n
        continue
      }
      if (this.bulk !== null) {
        const n = Math.min(this.bulk.length - this.filled, chunk.length - at)
        chunk.copy(this.bulk, this.filled, at, at + n)
        this.filled += n
        at += n
        if (this.filled === this.bulk.length) {
          const value = this.bulk
          this.bulk = null
          this.skip = 2
          this.element(value)
        }
        continue
      }
      const eol = chunk.indexOf(CR, at)
      if (eol === -1 || eol + 1 >= chunk.length) {
        this.fragment = chunk.subarray(at)
        return
      }
      const type = chunk[at]
      const line = chunk.toString('latin1', at + 1, eol)
      at = eol + 2
      if (type === 36) { // $: a bulk string, or nil
        const length = Number(line)
        if (length < 0) this.element(null)
        else if (at + length + 2 <= chunk.length) {
          this.element(chunk.subarray(at, at + length))
          at += length + 2
        } else {
          this.bulk = Buffer.allocUnsafe(length)
          this.filled = 0
        }
      } else if (type === 42) { // *: an array (HMGET's reply; a script's, nested)
        const length = Number(line)
        if (length > 0) {
          this.arrays.push(new Array<Reply>(length))
          this.filledTo.push(0)
        } else this.element(length < 0 ? null : [])
      } else if (type === 58) this.element(Number(line)) // :
      else if (type === 43) this.element(line) // +, the handshake's
      else if (type === 45) this.element(new HashReplyError(line)) // -
      else return this.fail(new Error(`HashReader: unexpected reply type ${type}`))
    }
  }

  /** A value read: the next element of the innermost array being filled, else a whole reply. */
  private element(value: Reply) {
    const { arrays, filledTo } = this
    let depth = arrays.length
    while (depth > 0) {
      const array = arrays[depth - 1]!
      const at = filledTo[depth - 1]!
      array[at] = value
      if (at + 1 < array.length) {
        filledTo[depth - 1] = at + 1
        return
      }
      // Complete: it is itself the next element of the array around it, if any.
      arrays.pop()
      filledTo.pop()
      value = array
      depth--
    }
    this.reply(value)
  }

  private reply(value: Reply) {
    this.replies++
    if (this.handshake > 0) {
      this.handshake--
      if (value instanceof Error) this.fail(value)
      return
    }
    const { waiting, head: at } = this
    if (at >= waiting.length) {
      // A reply with no command waiting: from here on, replies could be matched to the wrong
      // commands, so the connection is given up on.
      return this.fail(new Error('HashReader: a reply nobody asked for'))
    }
    const settle = value instanceof HashReplyError ? waiting[at + 1] : waiting[at]
    // Let go of both at once (SETTLED says why).
    waiting[at] = waiting[at + 1] = SETTLED
    this.head = at + 2
    if (this.head === waiting.length) {
      waiting.length = 0
      this.head = 0
    } else if (this.head >= 1024) {
      waiting.splice(0, this.head)
      this.head = 0
    }
    settle!(value as never)
  }
}

/** One RESP bulk string. */
function bulk(value: string): string {
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`
}
