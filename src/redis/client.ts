import type { Socket } from 'node:net'
import { Cluster, Command, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

export interface ClientSettings {
  /** Per-command deadline in ms: a command that Redis does not answer in time fails. */
  commandTimeoutMs?: number
}

/**
 * Client options that fail fast. During an outage a request must get an error within about a
 * second, never hang and never queue without bound:
 * - the offline queue is off once connected, so commands issued while disconnected are rejected
 *   at once instead of piling up in memory;
 * - each command gets one retry on a reconnect and a hard timeout;
 * - reconnects continue forever with a capped back-off, so the app heals when Redis returns.
 *
 * Auto-pipelining stays off. ioredis runs one auto-pipeline per connection at a time and
 * answers each of its commands only when the whole batch is back: under page views a request
 * waited for up to 50 others' pages, and the batch queued behind it lived long enough to be
 * promoted, so the heap grew by ~35 MB/s of garbage. Measured on one core at 50 connections:
 * page views went from 11k to 14k req/s and p99 from 15-19 ms to 9-10 ms with it off, and
 * scavenges from 4 ms to 0.7 ms. Commands issued together are still written before any reply
 * is awaited: one round trip, and coalesceWrites sends a turn's commands in one write.
 */
export function failFastOptions(settings: ClientSettings = {}): RedisOptions {
  return {
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs ?? 1000,
    connectTimeout: 2000,
    enableOfflineQueue: false,
    enableAutoPipelining: false,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    lazyConnect: true,
  }
}

/**
 * Connects to `target`: a redis:// or rediss:// URL, or a unix socket path. Resolves once the
 * connection is ready, so that the offline queue is never needed.
 */
export async function connectRedis(target: string, settings: ClientSettings = {}): Promise<Redis> {
  const options = failFastOptions(settings)
  const client = /^rediss?:\/\//.test(target)
    ? new Redis(target, options)
    : new Redis({ ...options, path: target })
  // An 'error' listener keeps ioredis from printing every reconnect attempt as unhandled.
  client.on('error', () => {})
  coalesceWrites(client)
  await client.connect()
  return client
}

/**
 * Sends the commands issued in one turn of the event loop in one write, at the end of the turn
 * (setImmediate), once every request that turn brought has issued its reads. Each reply is still
 * handed over as soon as it arrives, unlike ioredis' auto-pipelining. Each write to a socket is
 * a system call that also delivers the bytes to Redis and wakes it: a write per command cost 15%
 * of the server's CPU on page views, and a write per request (uncorking in a microtask, when the
 * code that issued them has run) still made page views that read from Redis 1.2-1.4 × as costly
 * as with a write per turn. Measured on one core at 50 connections, alternating runs, views of
 * 8,000 pages of 19 KB: 150-178 µs of server CPU per view uncorking in a microtask, 120-130 µs at
 * the end of the turn; the list (two round trips after each other) 313-339 µs and 283-326 µs. A
 * command issued later in the turn waits for its end, not for other work: the poll phase does
 * not block while an immediate is pending.
 *
 * The turn's commands are joined into one string (see joinWrites), not left as chunks of a
 * corked socket, which Node hands to writev one by one.
 */
export function coalesceWrites(client: Redis): void {
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    // The connection's socket: ioredis replaces it on every reconnect.
    const socket = client.stream as JoinedSocket | undefined
    if (socket !== undefined && socket[JOINED] === undefined) joinWrites(socket)
    // Written by ioredis to that socket, now (not through a pipeline): its large Buffers may go as they are.
    if (stream === undefined && socket?.[JOINED] === true && carriesLargeBuffer(command)) (command as PartsCommand)[IN_PARTS] = true
    return send(command, stream)
  }
}

const JOINED = Symbol('redbin.joinedWrites')
type JoinedSocket = Socket & { [JOINED]?: true }

/**
 * A command with a Buffer argument of at least this size is written in parts, its Buffers as
 * they are, rather than copied with the rest of the command into one Buffer, as ioredis does
 * (MixedBuffers): a 1 MiB create sends its bytes and then its ~4 MB page, and each copy is
 * paste-sized memory that malloc keeps after the copy is freed.
 */
const PARTS_FROM_BYTES = 64 * 1024
const IN_PARTS = Symbol('redbin.inParts')
type PartsCommand = Command & { [IN_PARTS]?: true }
/** What toWritable returns for such a command, and only joinWrites' write takes. */
class WritableParts extends Array<string | Buffer> {}

/** Asked of every command, page views' included: a loop, with no closure to allocate. */
function carriesLargeBuffer(command: Command): boolean {
  for (const arg of command.args) if (Buffer.isBuffer(arg) && arg.length >= PARTS_FROM_BYTES) return true
  return false
}

// Every command's toWritable: a command marked by coalesceWrites becomes its RESP parts, strings
// joined, Buffers as they are; any other is left to ioredis. Scripts' commands (EVAL/EVALSHA)
// call this through their class's own toWritable, after choosing their name and first argument.
const joinedWritable = Command.prototype.toWritable
Command.prototype.toWritable = function toWritable(this: PartsCommand, socket: object) {
  if (this[IN_PARTS] !== true) return joinedWritable.call(this, socket)
  const parts = new WritableParts()
  let text = `*${this.args.length + 1}\r\n$${Buffer.byteLength(this.name)}\r\n${this.name}\r\n`
  for (const arg of this.args) {
    if (Buffer.isBuffer(arg)) {
      parts.push(`${text}$${arg.length}\r\n`, arg)
      text = '\r\n'
    } else {
      const value = String(arg)
      text += `$${Buffer.byteLength(value)}\r\n${value}\r\n`
    }
  }
  parts.push(text)
  return parts as unknown as Buffer
}

/**
 * Holds what is written to `socket` until the end of the turn, then writes it at once: the
 * commands ioredis wrote as strings joined into one string, a Buffer (a command with a binary
 * argument, such as a paste's bytes) as it is, between them, so that large bodies are never
 * copied here. A corked socket sent the same bytes in one system call too, but as a writev of
 * one chunk per command, each converted on its own: measured with 20 commands per turn to a
 * local socket, 0.84-1.11 µs of CPU per command corked, 0.15-0.40 joined. `end()` writes what
 * is held first; once the socket is destroyed, what is held is dropped: when ioredis sees the
 * connection close it sends those commands again on its next connection (its one retry,
 * maxRetriesPerRequest) or fails them, as it does with any command left unanswered.
 */
function joinWrites(socket: JoinedSocket): void {
  socket[JOINED] = true
  const write = socket.write.bind(socket) as (chunk: string | Buffer) => boolean
  const end = socket.end.bind(socket)
  let held: (string | Buffer)[] = []
  const flush = () => {
    const chunks = held
    if (chunks.length === 0) return
    held = []
    if (socket.destroyed || socket.writableEnded) return
    if (chunks.length === 1) {
      write(chunks[0]!)
      return
    }
    socket.cork()
    let text = ''
    for (const chunk of chunks) {
      if (typeof chunk === 'string') {
        text += chunk
        continue
      }
      if (text !== '') write(text)
      text = ''
      write(chunk)
    }
    if (text !== '') write(text)
    socket.uncork()
  }
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    const parts = chunk instanceof WritableParts
    if (!parts && (rest.length > 0 || (typeof chunk !== 'string' && !Buffer.isBuffer(chunk)))) {
      flush()
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest)
    }
    if (held.length === 0) setImmediate(flush)
    if (parts) held.push(...chunk)
    else held.push(chunk as string | Buffer)
    return !socket.writableNeedDrain
  }) as Socket['write']
  socket.end = ((...args: Parameters<Socket['end']>) => {
    flush()
    return end(...args)
  }) as Socket['end']
}

export interface ClusterNode {
  host: string
  port: number
}

/**
 * Cluster options with the same fail-fast behaviour as a single connection:
 * - each node connection gets failFastOptions' command timeout and single retry; ioredis never
 *   reconnects a lost node by itself, it refreshes the slot map and follows MOVED instead;
 * - the cluster-wide offline queue is off, so nothing piles up while the cluster is unreachable;
 * - a command for a slot whose master is down is retried while the slot map is refreshed,
 *   at most `maxRedirections` times `retryDelayOnFailover` (≈ 0.8 s), then fails; commands
 *   for slots of the other masters are not affected;
 * - the slot map is refreshed every few seconds as well, so a master that comes back (or a
 *   replica promoted in its place) is found even when no single command hits a MOVED;
 * - when every node is gone, the cluster reconnects forever with a capped back-off;
 * - reads and writes go to masters only (`scaleReads: 'master'`): a replica may lag, and the
 *   model's scripts must see their own writes.
 */
export function clusterOptions(settings: ClientSettings = {}): ClusterOptions {
  const {
    retryStrategy: _perNode,
    enableOfflineQueue: _queue,
    enableAutoPipelining,
    lazyConnect: _lazy,
    ...redisOptions
  } = failFastOptions(settings)
  return {
    redisOptions,
    enableAutoPipelining,
    enableOfflineQueue: false,
    lazyConnect: true,
    scaleReads: 'master',
    maxRedirections: 8,
    retryDelayOnFailover: 100,
    slotsRefreshInterval: 5000,
    clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2000),
  }
}

/**
 * Connects to a Redis Cluster through any of `nodes` (the rest are discovered). Resolves once
 * the slot map is known and the cluster reports itself ok.
 */
export async function connectCluster(nodes: readonly ClusterNode[], settings: ClientSettings = {}): Promise<Cluster> {
  const cluster = new Cluster(nodes.map(({ host, port }) => ({ host, port })), clusterOptions(settings))
  cluster.on('error', () => {})
  // Every node's connection, including nodes found later, as it is created.
  cluster.on('+node', (node: Redis) => coalesceWrites(node))
  try {
    await cluster.connect()
  } catch (err) {
    cluster.disconnect()
    throw err
  }
  return cluster
}
