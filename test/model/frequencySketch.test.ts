// The count-min sketch behind the record cache's admission (src/model/FrequencySketch.ts).
import { describe, expect, it } from 'vitest'
import { FrequencySketch } from '../../src/model/FrequencySketch.js'

describe('FrequencySketch', () => {
  it('estimates each key at least as often as it was counted, and mostly exactly', () => {
    const sketch = new FrequencySketch(4096)
    const keys = Array.from({ length: 1000 }, (_, i) => `1|redbin:paste:${i.toString(36).padStart(10, 'x')}`)
    keys.forEach((key, i) => {
      for (let n = 0; n < i % 5; n++) sketch.increment(key)
    })
    let exact = 0
    keys.forEach((key, i) => {
      expect(sketch.estimate(key)).toBeGreaterThanOrEqual(i % 5)
      if (sketch.estimate(key) === i % 5) exact++
    })
    expect(exact).toBeGreaterThan(950)
    expect(sketch.estimate('never counted')).toBe(0)
  })

  it('counts up to 15', () => {
    const sketch = new FrequencySketch(64)
    for (let n = 0; n < 40; n++) sketch.increment('hot')
    expect(sketch.estimate('hot')).toBe(15)
  })

  it('halves every count after 10 × width increments, so that old popularity fades', () => {
    const sketch = new FrequencySketch(16)
    for (let n = 0; n < 12; n++) sketch.increment('old')
    expect(sketch.estimate('old')).toBe(12)
    // 148 more increments of other keys reach the sample of 160.
    for (let n = 0; n < 148; n++) sketch.increment(`other ${n % 2}`)
    expect(sketch.estimate('old')).toBe(6)
  })

  it('halves every count after the increments ageEvery sets, never more often than every width increments', () => {
    const sketch = new FrequencySketch(16)
    for (let n = 0; n < 12; n++) sketch.increment('old')
    sketch.ageEvery(4)
    expect(sketch.estimate('old')).toBe(12)
    for (let n = 0; n < 3; n++) sketch.increment(`other ${n}`)
    expect(sketch.estimate('old')).toBe(12)
    sketch.increment('other 3')
    expect(sketch.estimate('old')).toBe(6)
    // Past due when set: halved at once.
    for (let n = 0; n < 12; n++) sketch.increment('other 4')
    sketch.ageEvery(20)
    sketch.ageEvery(10)
    expect(sketch.estimate('old')).toBe(3)
  })

  it('tells whether a candidate was asked for more often than a victim before counting it, then counts it', () => {
    const sketch = new FrequencySketch(4096)
    for (let n = 0; n < 2; n++) sketch.increment('victim')
    expect(sketch.outnumbers('candidate', 'victim')).toBe(false)
    expect(sketch.outnumbers('candidate', 'victim')).toBe(false)
    expect(sketch.estimate('candidate')).toBe(2)
    // Now equal: the request is compared before it counts, so only the next one outnumbers.
    expect(sketch.outnumbers('candidate', 'victim')).toBe(false)
    expect(sketch.outnumbers('candidate', 'victim')).toBe(true)
    expect(sketch.estimate('candidate')).toBe(4)
    expect(sketch.estimate('victim')).toBe(2)
  })
})
