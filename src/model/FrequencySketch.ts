/**
 * How often each key was asked for lately, approximately, in a fixed amount of memory: the
 * count-min sketch of TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly Efficient Cache
 * Admission Policy", 2017). Four rows of small counters (at most 15); a key's estimate is the
 * least of its four counters, so it can only be too high, by keys that share all four. Every
 * `sample` increments, all counters are halved, so that what was popular long ago fades.
 * The cache that asks it sets `sample` (ageEvery) to 10 × the entries it holds, as Caffeine does,
 * or to the width if that is more.
 *
 * Written here rather than taken from a package: the cache asks it on every lookup, so it must
 * cost a hash of a short string and four array reads, and npm's sketches (bloom-filters'
 * CountMinSketch, count-min-sketch) hash with several seeded hashes per key and never age.
 */
export class FrequencySketch {
  private readonly counters: Uint8Array
  private readonly mask: number
  private sample: number
  private additions = 0

  /** `width`: counters per row, rounded up to a power of two (about 2 × the keys to tell apart). */
  constructor(width: number) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, width)))
    this.counters = new Uint8Array(4 * size)
    this.mask = size - 1
    this.sample = 10 * size
  }

  /**
   * Halves the counts every `increments` from now on (10 × width until told), but never more
   * often than every width increments: halving touches every counter, so that bounds its cost
   * to four counters per increment.
   */
  ageEvery(increments: number) {
    this.sample = Math.max(this.mask + 1, increments)
    if (this.additions >= this.sample) this.age()
  }

  /** Counts one request for `key`. */
  increment(key: string) {
    this.incrementHashed(hash(key))
  }

  /** About how often `key` was requested lately (never less than the truth, up to 15). */
  estimate(key: string): number {
    return this.estimateHashed(hash(key))
  }

  /**
   * Whether `candidate` was requested more often lately than `victim` (compared before this
   * request is counted); then counts the request for `candidate`. One hash of each key.
   */
  outnumbers(candidate: string, victim: string): boolean {
    const h = hash(candidate)
    const more = this.estimateHashed(h) > this.estimate(victim)
    this.incrementHashed(h)
    return more
  }

  private incrementHashed(h: number) {
    const step = rehash(h)
    const size = this.mask + 1
    for (let row = 0, i = h; row < 4; row++, i += step) {
      const at = row * size + (i & this.mask)
      if (this.counters[at]! < 15) this.counters[at]!++
    }
    if (++this.additions >= this.sample) this.age()
  }

  private estimateHashed(h: number): number {
    const step = rehash(h)
    const size = this.mask + 1
    let least = 15
    for (let row = 0, i = h; row < 4; row++, i += step) least = Math.min(least, this.counters[row * size + (i & this.mask)]!)
    return least
  }

  private age() {
    for (let i = 0; i < this.counters.length; i++) this.counters[i]! >>= 1
    this.additions >>>= 1
  }
}

/** FNV-1a over the string's UTF-16 code units. */
function hash(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A second, odd hash from the first (murmur3's finaliser), to step between the rows' counters. */
function rehash(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 1
}
