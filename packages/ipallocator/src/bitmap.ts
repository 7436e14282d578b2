import { BitLevel, FULL_WORD, GROUP_BITS } from './bit-level.js'

/**
 * A set of indices 0 … size−1 (size < 2³²) at one bit per index, with summary levels above it: a
 * bit of level k+1 is set when its group of 1024 bits in level k is full. Finding the next clear
 * bit therefore reads at most a few groups per level (there are at most four levels), whatever
 * the fill: O(1) even when the bitmap is nearly full. The summaries cost 1/1024 of the bitmap.
 */
export class Bitmap {
  readonly size: number
  private readonly levels: BitLevel[] = []
  private used = 0

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1 || size >= 2 ** 32) throw new RangeError(`bitmap size ${size}`)
    this.size = size
    for (let n = size; ; n = Math.ceil(n / GROUP_BITS)) {
      this.levels.push(new BitLevel(n))
      if (n <= GROUP_BITS) break
    }
  }

  /** Number of set bits. */
  get count(): number {
    return this.used
  }

  has(index: number): boolean {
    return ((this.level(0).word(index >>> 5) >>> (index & 31)) & 1) === 1
  }

  /** Sets a bit; returns false when it was already set. */
  set(index: number): boolean {
    let i = index
    for (let k = 0; k < this.levels.length; k++) {
      const level = this.level(k)
      const w = i >>> 5
      const old = level.word(w)
      const bit = 1 << (i & 31)
      if ((old & bit) !== 0) return k > 0
      const value = (old | bit) >>> 0
      level.setWord(w, value)
      if (k === 0) this.used++
      if (value !== FULL_WORD || !level.groupFull(w)) break
      i = i >>> 10
    }
    return true
  }

  /** Clears a bit; returns false when it was already clear. */
  clear(index: number): boolean {
    let i = index
    for (let k = 0; k < this.levels.length; k++) {
      const level = this.level(k)
      const w = i >>> 5
      const old = level.word(w)
      const bit = 1 << (i & 31)
      if ((old & bit) === 0) return k > 0
      level.setWord(w, (old & ~bit) >>> 0)
      if (k === 0) this.used--
      if (old !== FULL_WORD) break
      i = i >>> 10
    }
    return true
  }

  /** The first clear index at or after `from`, or -1 when every bit from there on is set. */
  nextClear(from: number): number {
    return from >= this.size ? -1 : this.find(0, from)
  }

  /** Runs of set indices, ascending, as inclusive [first, last] pairs. */
  *runs(): Generator<[number, number]> {
    for (const [first, last] of this.level(0).runs()) {
      if (first >= this.size) return
      yield [first, Math.min(last, this.size - 1)]
    }
  }

  private find(k: number, from: number): number {
    const level = this.level(k)
    const hit = level.scanGroup(from)
    if (hit >= 0 || k + 1 === this.levels.length) return hit
    const nextGroup = (from >>> 10) + 1
    if (nextGroup >= this.level(k + 1).size) return -1
    const group = this.find(k + 1, nextGroup)
    return group < 0 ? -1 : level.scanGroup(group * GROUP_BITS)
  }

  private level(k: number): BitLevel {
    return this.levels[k] as BitLevel
  }
}
