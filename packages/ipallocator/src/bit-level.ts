/** A 32-bit word with every bit set. */
export const FULL_WORD = 0xffffffff
/** Bits summarised by one bit of the level above: a group of 32 words. */
export const GROUP_BITS = 1024
const PAGE_WORDS = 2048 // 8 KiB pages, allocated on first write

/** Index of the lowest set bit of a non-zero 32-bit value. */
export function lowestBit(value: number): number {
  return 31 - Math.clz32(value & -value)
}

/**
 * One level of a bitmap: `size` bits (size < 2³²) in 32-bit words, padded with set bits to a whole
 * group of 32 words, and stored in 8 KiB pages that are allocated on first write, so untouched
 * parts of a big pool cost nothing.
 */
export class BitLevel {
  readonly size: number
  readonly wordCount: number
  private readonly pages: (Uint32Array | undefined)[]

  constructor(size: number) {
    this.size = size
    this.wordCount = Math.ceil(size / GROUP_BITS) * 32
    this.pages = new Array<Uint32Array | undefined>(Math.ceil(this.wordCount / PAGE_WORDS)).fill(undefined)
    this.setPadding()
  }

  word(index: number): number {
    const page = this.pages[index >>> 11]
    return page === undefined ? 0 : (page[index & (PAGE_WORDS - 1)] as number)
  }

  setWord(index: number, value: number): void {
    const p = index >>> 11
    let page = this.pages[p]
    if (page === undefined) {
      page = new Uint32Array(Math.min(PAGE_WORDS, this.wordCount - p * PAGE_WORDS))
      this.pages[p] = page
    }
    page[index & (PAGE_WORDS - 1)] = value
  }

  /** Whether every word of the group holding word `index` is full. */
  groupFull(index: number): boolean {
    const start = index & ~31
    for (let w = start; w < start + 32; w++) if (this.word(w) !== FULL_WORD) return false
    return true
  }

  /** First clear bit at or after `from` within from's group, or -1. Padding bits are set. */
  scanGroup(from: number): number {
    let w = from >>> 5
    const end = (w | 31) + 1
    let clear = ~this.word(w) & (-1 << (from & 31))
    while (clear === 0) {
      w++
      if (w === end) return -1
      clear = ~this.word(w)
    }
    return w * 32 + lowestBit(clear)
  }

  /** Runs of set bits below `size`, ascending, as inclusive [first, last] pairs. */
  *runs(): Generator<[number, number]> {
    let start = -1
    for (let w = 0; w < this.wordCount; w++) {
      const page = this.pages[w >>> 11]
      if (page === undefined) {
        if (start >= 0) yield [start, w * 32 - 1]
        start = -1
        w += PAGE_WORDS - 1
        continue
      }
      const word = page[w & (PAGE_WORDS - 1)] as number
      if (word === FULL_WORD) {
        if (start < 0) start = w * 32
      } else if (word === 0) {
        if (start >= 0) yield [start, w * 32 - 1]
        start = -1
      } else {
        for (let bit = 0; bit < 32; bit++) {
          const set = (word >>> bit) & 1
          if (set && start < 0) start = w * 32 + bit
          if (!set && start >= 0) {
            yield [start, w * 32 + bit - 1]
            start = -1
          }
        }
      }
    }
    if (start >= 0) yield [start, this.wordCount * 32 - 1]
  }

  /** Sets the bits from `size` to the end of the last group, so that group can read as full. */
  private setPadding(): void {
    const tail = this.size % 32
    let w = Math.floor(this.size / 32)
    if (tail !== 0) {
      this.setWord(w, (-1 << tail) >>> 0)
      w++
    }
    for (; w < this.wordCount; w++) this.setWord(w, FULL_WORD)
  }
}
