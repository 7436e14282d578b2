import { lowestBit } from './bit-level.js'

const BUCKET_BITS = 32n
const LOW_MASK = 0xffffffffn
const WORDS_PER_BUCKET = 2 ** 27

/** Bucket key and word index of an offset. */
function split(offset: bigint): [bigint, number, number] {
  const low = Number(offset & LOW_MASK)
  return [offset >> BUCKET_BITS, low >>> 5, low & 31]
}

/**
 * A set of bigint offsets that stores only what is in it: buckets of 2³² offsets keyed by the high
 * bits, each a map from word index to a non-zero 32-bit word. Sequential allocations cost one map
 * entry per 32 addresses; scattered ones one entry each.
 */
export class SparseBitSet {
  private readonly buckets = new Map<bigint, Map<number, number>>()
  private used = 0

  get count(): number {
    return this.used
  }

  has(offset: bigint): boolean {
    const [key, w, bit] = split(offset)
    const word = this.buckets.get(key)?.get(w) ?? 0
    return ((word >>> bit) & 1) === 1
  }

  /** Adds an offset; returns false when it was already there. */
  add(offset: bigint): boolean {
    const [key, w, bit] = split(offset)
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      bucket = new Map()
      this.buckets.set(key, bucket)
    }
    const word = bucket.get(w) ?? 0
    if (((word >>> bit) & 1) === 1) return false
    bucket.set(w, (word | (1 << bit)) >>> 0)
    this.used++
    return true
  }

  /** Removes an offset; returns false when it was not there. */
  delete(offset: bigint): boolean {
    const [key, w, bit] = split(offset)
    const bucket = this.buckets.get(key)
    const word = bucket?.get(w) ?? 0
    if (bucket === undefined || ((word >>> bit) & 1) === 0) return false
    const value = (word & ~(1 << bit)) >>> 0
    if (value !== 0) bucket.set(w, value)
    else if (bucket.delete(w) && bucket.size === 0) this.buckets.delete(key)
    this.used--
    return true
  }

  /**
   * The first offset at or after `from` and below `limit` that is not in the set, or -1n. Walks
   * the words of allocated runs from `from`: a round-robin cursor passes each address once per lap.
   */
  nextClear(from: bigint, limit: bigint): bigint {
    let [key, w, bit] = split(from)
    for (;;) {
      const bucket = this.buckets.get(key)
      if (bucket === undefined) return this.within(key, w * 32 + bit, limit)
      let clear = ~(bucket.get(w) ?? 0) & (-1 << bit)
      while (clear === 0 && ++w < WORDS_PER_BUCKET) clear = ~(bucket.get(w) ?? 0)
      if (clear !== 0) return this.within(key, w * 32 + lowestBit(clear), limit)
      key++
      w = 0
      bit = 0
      if (key << BUCKET_BITS >= limit) return -1n
    }
  }

  /** Offsets in ascending order as inclusive [first, last] runs. */
  *runs(): Generator<[bigint, bigint]> {
    let start = -1n
    let end = -2n
    for (const key of [...this.buckets.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const bucket = this.buckets.get(key) as Map<number, number>
      for (const w of [...bucket.keys()].sort((a, b) => a - b)) {
        const word = bucket.get(w) as number
        for (let bit = 0; bit < 32; bit++) {
          if (((word >>> bit) & 1) === 0) continue
          const offset = (key << BUCKET_BITS) + BigInt(w * 32 + bit)
          if (offset === end + 1n) end = offset
          else {
            if (start >= 0n) yield [start, end]
            start = offset
            end = offset
          }
        }
      }
    }
    if (start >= 0n) yield [start, end]
  }

  private within(key: bigint, low: number, limit: bigint): bigint {
    const offset = (key << BUCKET_BITS) + BigInt(low)
    return offset < limit ? offset : -1n
  }
}
