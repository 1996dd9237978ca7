import type { Store } from '../model/index.js'
import { PasteInputError } from './errors.js'

/**
 * Creates per client per minute, counted in Redis so that every app process shares one count.
 * A fixed one-minute window per client: INCR, and the first hit of a window sets its expiry.
 */
export class CreateRateLimiter {
  constructor(
    private readonly store: Store,
    private readonly perMinute: number,
  ) {}

  /** Throws a 429 PasteInputError when `client` is over the limit. */
  async check(client: string): Promise<void> {
    if (this.perMinute === 0) return
    const key = `${this.store.prefix}ratelimit:create:{${client}}`
    const replies = await this.store.redis.multi().incr(key).expire(key, 60, 'NX').ttl(key).exec()
    const count = Number(replies?.[0]?.[1] ?? 0)
    if (count > this.perMinute) {
      const retryAfter = Math.max(1, Number(replies?.[2]?.[1] ?? 60))
      throw new PasteInputError(429, null, `Too many pastes: at most ${this.perMinute} a minute. Try again in ${retryAfter} s.`, retryAfter)
    }
  }
}
