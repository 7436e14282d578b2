import { SummaryBitmap } from './bitmap.js'

/** How many entries a {@link FreeSet}'s ring holds. */
export const RING_CAPACITY = 512

/**
 * A set of free indices (the bitmap it extends: bit i set means index i is free) with a cursor:
 * {@link takeNext} takes the first free index after the last one it took, wrapping, the very
 * first being 0.
 *
 * Finding that index in the bitmap on every request costs the same however it is done when free
 * indices are few (a range 99% full): a chain of dependent loads and a branch that cannot be
 * predicted. So the set also keeps a ring: an ascending array of indices that holds every free
 * index of a window [lo, hi] of the range (plus indices taken since they were added: those are
 * skipped and, when they add up, compacted away), and the position of the first entry after the
 * cursor. Taking is then reading the next entry. Freeing an index that is still an entry (the
 * usual case: it was handed out from the ring) only sets its bit; a free index inside the window
 * that is not an entry is inserted in order. When the walk runs past the window, the ring is
 * refilled from the bitmap with the next free indices (at most {@link RING_CAPACITY}); when every
 * free index fits (a nearly full range), the window is the whole range and is never refilled.
 * Memory: `RING_CAPACITY` × 2 bytes and one bit per index, beside the bitmap.
 */
export class FreeSet extends SummaryBitmap {
  // `declare` fields: see SummaryBitmap.
  /** The last index {@link takeNext} took; starts at the end, so the first is 0. */
  declare cursor: number
  declare private readonly ring: Uint16Array
  /** Bit i: index i is an entry of the ring. */
  declare private readonly member: Uint32Array
  declare private length: number
  /** The first entry greater than the cursor (`length` when there is none), between operations. */
  declare private pos: number
  /** The window: every free index from `lo` to `hi` is an entry (none when `hi` < `lo`). */
  declare private lo: number
  declare private hi: number
  /** Taken entries passed by walks since the last compaction. */
  declare private skipped: number

  constructor(size: number, ringCapacity = RING_CAPACITY) {
    if (size > 65536) throw new RangeError(`a free set holds at most 65536 indices (its ring is 16-bit), not ${size}`)
    super(size, true)
    this.cursor = size - 1
    this.ring = new Uint16Array(Math.max(1, Math.min(ringCapacity, size)))
    this.member = new Uint32Array(this.l0.length)
    this.length = 0
    this.pos = 0
    this.lo = 0
    this.hi = -1
    this.skipped = 0
  }

  // The hot methods (set, takeNext, walk) are written out and kept small, with the rare work in
  // methods of their own, so that V8 inlines them into their callers.

  /** Bytes taken by its bitmap, summaries and ring. */
  get bytes(): number {
    return this.l0.byteLength + this.l1.byteLength + this.l2.byteLength + this.ring.byteLength + this.member.byteLength
  }

  /** Marks `index` free. */
  override set(index: number): void {
    const l0 = this.l0
    const w0 = index >>> 5
    const bit = 1 << (index & 31)
    const before = l0[w0] as number
    if ((before & bit) !== 0) return
    l0[w0] = before | bit
    // the summary usually still marks the word (clearing its last bit did not unmark it)
    if (before === 0 && (((this.l1[w0 >>> 5] as number) >>> (w0 & 31)) & 1) === 0) this.markWord(w0)
    if (((this.member[w0] as number) & bit) === 0) this.freedOffRing(index)
  }

  /** Takes the first free index after the cursor, wrapping, and moves the cursor to it; -1 when none is free. */
  takeNext(): number {
    const found = this.walk()
    return found >= 0 ? found : this.takeBeyond()
  }

  /** Moves the cursor to `index` (after a block was taken there). */
  moveCursor(index: number): void {
    this.cursor = index
    // the walk needs every free index after the cursor up to `hi` in the ring
    if (index + 1 < this.lo) this.forget()
    this.pos = this.firstAbove(index)
  }

  /** Takes the first free entry from `pos` on; -1 at the end of the ring. */
  private walk(): number {
    const ring = this.ring
    const l0 = this.l0
    const length = this.length
    let pos = this.pos
    while (pos < length) {
      const index = ring[pos++] as number
      const word = l0[index >>> 5] as number
      if (((word >>> (index & 31)) & 1) === 1) {
        l0[index >>> 5] = word & ~(1 << (index & 31))
        this.cursor = index
        this.pos = pos
        return index
      }
      this.skipped++
    }
    this.pos = pos
    return -1
  }

  /** No entry after the cursor is free: look past the window, then wrap to 0. */
  private takeBeyond(): number {
    if (this.skipped > this.length) this.compact()
    const from = Math.max(this.hi, this.cursor) + 1
    if (from < this.size) {
      this.refill(from)
      if (this.length > 0) return this.walk() // its first entry: the cursor moves into the new window
    }
    // nothing is free after the cursor
    if (this.lo === 0 && this.hi >= this.cursor) {
      // the ring holds every free index up to the cursor
      this.pos = 0
      const found = this.walk()
      // none at all: the cursor stays, and so must `pos` (taken entries after it may be freed)
      if (found < 0) this.pos = this.firstAbove(this.cursor)
      return found
    }
    this.refill(0)
    return this.walk()
  }

  /**
   * Makes the ring the first free indices from `from` on (as many as fit), with `pos` 0 and the
   * window from `from` to just before the first free index that did not fit.
   */
  private refill(from: number): void {
    this.forget()
    const ring = this.ring
    const member = this.member
    let length = 0
    let index = this.next(from)
    while (index >= 0 && length < ring.length) {
      ring[length++] = index
      member[index >>> 5] = (member[index >>> 5] as number) | (1 << (index & 31))
      index = index + 1 < this.size ? this.next(index + 1) : -1
    }
    this.length = length
    this.pos = 0
    this.lo = from
    // stopped by a full ring: the window ends before the next free index
    this.hi = index < 0 ? this.size - 1 : index - 1
    this.skipped = 0
  }

  /** `index`, not an entry, became free: an index inside the window goes into the ring, in order. */
  private freedOffRing(index: number): void {
    if (index < this.lo || index > this.hi) return
    if (this.length === this.ring.length && !this.makeRoom(index)) return
    const at = this.firstAbove(index)
    this.ring.copyWithin(at + 1, at, this.length)
    this.ring[at] = index
    this.length++
    this.member[index >>> 5] = (this.member[index >>> 5] as number) | (1 << (index & 31))
    // entries before `pos` are at most the cursor: an index at most the cursor lands before it
    if (index <= this.cursor) this.pos++
  }

  /**
   * Makes room for `index` in a full ring: drops the entries taken since, else narrows the window
   * to end before its last entry (dropped) or before `index`. False when `index` is then outside.
   */
  private makeRoom(index: number): boolean {
    this.compact()
    if (this.length < this.ring.length) return true
    const last = this.ring[this.length - 1] as number
    if (index > last) {
      this.hi = index - 1
      return false
    }
    this.length--
    this.unmark(last)
    this.hi = last - 1
    if (this.pos > this.length) this.pos = this.length
    return true
  }

  /** Empties the ring and its window. */
  private forget(): void {
    for (let k = 0; k < this.length; k++) this.unmark(this.ring[k] as number)
    this.length = 0
    this.pos = 0
    this.lo = 0
    this.hi = -1
    this.skipped = 0
  }

  /** Removes the entries that are no longer free. */
  private compact(): void {
    const ring = this.ring
    const l0 = this.l0
    let kept = 0
    for (let k = 0; k < this.length; k++) {
      const index = ring[k] as number
      if ((((l0[index >>> 5] as number) >>> (index & 31)) & 1) === 1) ring[kept++] = index
      else this.unmark(index)
    }
    this.length = kept
    this.pos = this.firstAbove(this.cursor)
    this.skipped = 0
  }

  /** `index` is no longer an entry. */
  private unmark(index: number): void {
    this.member[index >>> 5] = (this.member[index >>> 5] as number) & ~(1 << (index & 31))
  }

  /** The first entry greater than `index`, or `length`. */
  private firstAbove(index: number): number {
    const ring = this.ring
    let lo = 0
    let hi = this.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((ring[mid] as number) <= index) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
