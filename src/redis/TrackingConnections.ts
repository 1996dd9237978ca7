// The connection pair of Redis server-assisted client-side caching (CLIENT TRACKING). It lives in
// src/redis because it is about connections (duplicating the client, reconnects, what Redis
// sends where), not about records: it knows keys only as Redis names them. What is cached, and
// how a read and an invalidation meet, is the model's (src/model/RecordCache.ts); app.ts wires
// the two together.
import { EventEmitter } from 'node:events'
import type { Redis } from 'ioredis'
import { coalesceWrites } from './client.js'

const INVALIDATE_CHANNEL = '__redis__:invalidate'
/** After a failed set-up on two live connections (say CLIENT TRACKING refused), try again this late. */
const RETRY_SETUP_MS = 1000

export interface TrackingEvents {
  /** Redis says these keys changed (or expired, or were evicted); null: the whole database was flushed. */
  invalidate: [keys: string[] | null]
  /** Tracking is established: reads through `reader` are tracked, and their invalidations arrive. */
  up: []
  /** Invalidations may be lost from now on: whatever was read through `reader` may be stale. */
  down: []
}

/**
 * Two dedicated connections duplicated from the app's client. `invalidations` subscribes to
 * `__redis__:invalidate` and `reader` runs `CLIENT TRACKING ON REDIRECT <its id>` (ioredis speaks
 * RESP2, where invalidations can only come on another connection). Default mode, not BCAST:
 * Redis remembers only the keys `reader` read, and tells once per read.
 *
 * "up" only once both are connected and tracking points at the current subscriber; any close,
 * end, reconnect or error of either is "down" at once (an invalidation may be lost from then
 * on: the kill of either connection, a Redis restart), and each time both are ready again the
 * set-up runs again (a new subscriber has a new CLIENT ID, and a new reader is not tracked).
 */
export class TrackingConnections extends EventEmitter<TrackingEvents> {
  readonly reader: Redis
  /** The subscriber of invalidation messages (tests pause its socket to hold messages back). */
  readonly invalidations: Redis
  private isUp = false
  /** Bumped on every loss: a set-up that started before one must not declare "up". */
  private generation = 0
  /** Bumped on every loss of `invalidations` only: its subscription goes with its connection. */
  private subscriberGeneration = 0
  /** The CLIENT ID of `invalidations` while it is subscribed on its current connection. */
  private subscribedId: number | null = null
  private retry: NodeJS.Timeout | undefined
  private closing = false

  constructor(client: Redis) {
    super()
    // Never retried, never queued: a command that straddles a reconnect would be sent on a new,
    // untracked connection. Resubscribing is ours to do, after CLIENT ID (not allowed once subscribed).
    const options = { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, autoResubscribe: false }
    this.invalidations = client.duplicate(options)
    this.reader = client.duplicate(options)
    // The tracked read and its PEXPIRETIME go in one write.
    coalesceWrites(this.reader)
    // messageBuffer: the payload is an array of keys (or null for a flush), which 'message'
    // would join with commas.
    this.invalidations.on('messageBuffer', (channel: Buffer, keys: Buffer[] | null) => {
      if (channel.toString() === INVALIDATE_CHANNEL) this.emit('invalidate', keys && keys.map((k) => k.toString()))
    })
    for (const connection of [this.invalidations, this.reader]) {
      for (const event of ['close', 'end', 'reconnecting', 'error']) {
        connection.on(event, () => this.lost(connection))
      }
      connection.on('ready', () => void this.establish())
    }
  }

  get up(): boolean {
    return this.isUp
  }

  /** Connects both; resolves once tracking is up, or once the first attempt has failed. */
  async start(): Promise<void> {
    await Promise.allSettled([this.invalidations.connect(), this.reader.connect()])
    await this.establish()
  }

  async close(): Promise<void> {
    this.closing = true
    clearTimeout(this.retry)
    this.lost(this.reader)
    await Promise.all([this.invalidations, this.reader].map((c) => c.quit().catch(() => c.disconnect())))
  }

  private lost(connection: Redis) {
    this.generation++
    if (connection === this.invalidations) {
      this.subscriberGeneration++
      this.subscribedId = null
    }
    if (this.isUp) {
      this.isUp = false
      this.emit('down')
    }
  }

  private async establish(): Promise<void> {
    clearTimeout(this.retry)
    if (this.closing || this.isUp || this.invalidations.status !== 'ready' || this.reader.status !== 'ready') return
    const generation = this.generation
    const subscriberGeneration = this.subscriberGeneration
    try {
      if (this.subscribedId === null) {
        const id = Number(await this.invalidations.client('ID'))
        await this.invalidations.subscribe(INVALIDATE_CHANNEL)
        // Still the same connection: it stays subscribed, even if the reader was lost meanwhile.
        if (subscriberGeneration === this.subscriberGeneration) this.subscribedId = id
      }
      if (generation !== this.generation || this.subscribedId === null) return
      // OFF first: a reader that stayed connected still redirects to the previous subscriber.
      await this.reader.client('TRACKING', 'OFF')
      await this.reader.client('TRACKING', 'ON', 'REDIRECT', this.subscribedId)
      if (generation !== this.generation || this.isUp || this.closing) return
      this.isUp = true
      this.emit('up')
    } catch {
      // A loss in between has its own 'ready' to come; two live connections get another try.
      if (!this.closing && generation === this.generation) this.retry = setTimeout(() => void this.establish(), RETRY_SETUP_MS).unref()
    }
  }
}
