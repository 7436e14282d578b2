import { isWildcard } from './address.js'
import { SummaryBitmap } from './bitmap.js'

/** The pools of one address family for one protocol: its wildcard and its specific addresses. */
export interface FamilyPools {
  wildcard: Pool | undefined
  specific: Pool[]
  /** How many specific addresses hold each port (the wildcard conflicts with every one of them). */
  holders: Map<number, number>
}

/**
 * The ports of one (IP, protocol): a flat bitmap of the range's ports it holds (plus a set for
 * ports asked for explicitly outside the range), and a summary bitmap of the range's ports it could
 * be given now: not held by it, not held by a conflicting address, not bound by the OS. A few KB:
 * two bitmaps of (end - begin + 1) bits. Index i is port begin + i.
 */
export class Pool {
  // `declare` fields: see SummaryBitmap.
  declare readonly ip: string
  declare readonly wildcard: boolean
  declare readonly family: FamilyPools
  declare readonly begin: number
  declare readonly end: number
  declare readonly free: SummaryBitmap
  declare readonly held: Uint32Array
  declare readonly outside: Set<number>
  /** Index of the last port handed out as "any"; starts at the end so the first is `begin`. */
  declare cursor: number

  constructor(ip: string, family: FamilyPools, begin: number, end: number) {
    this.ip = ip
    this.wildcard = isWildcard(ip)
    this.family = family
    this.begin = begin
    this.end = end
    this.free = new SummaryBitmap(end - begin + 1, true)
    this.held = new Uint32Array(this.free.l0.length)
    this.outside = new Set()
    this.cursor = end - begin
  }

  holds(port: number): boolean {
    const i = port - this.begin
    if (i < 0 || port > this.end) return this.outside.has(port)
    return (((this.held[i >>> 5] as number) >>> (i & 31)) & 1) === 1
  }

  /** Marks `port` held (and, in the range, no longer free). */
  hold(port: number): void {
    const i = port - this.begin
    if (i < 0 || port > this.end) {
      this.outside.add(port)
      return
    }
    this.held[i >>> 5] = (this.held[i >>> 5] as number) | (1 << (i & 31))
    this.free.clear(i)
  }

  /** Stops holding `port`; false when it was not held. Its free bit is the caller's to set. */
  unhold(port: number): boolean {
    const i = port - this.begin
    if (i < 0 || port > this.end) return this.outside.delete(port)
    const bit = 1 << (i & 31)
    const word = this.held[i >>> 5] as number
    if ((word & bit) === 0) return false
    this.held[i >>> 5] = word & ~bit
    return true
  }

  /** Holds the next free port after the cursor, wrapping, and returns its index; -1 when none. */
  holdNext(): number {
    const from = this.cursor + 1 === this.free.size ? 0 : this.cursor + 1
    const i = this.free.nextWrapping(from)
    if (i < 0) return -1
    this.cursor = i
    this.held[i >>> 5] = (this.held[i >>> 5] as number) | (1 << (i & 31))
    this.free.clear(i)
    return i
  }

  /** Whether another address of the family holds `port` in a way that conflicts with this one. */
  heldByOther(port: number): boolean {
    const family = this.family
    if (this.wildcard) return family.specific.length !== 0 && family.holders.has(port)
    return family.wildcard?.holds(port) ?? false
  }

  /** Every held port inside the range, in order. */
  heldInRange(): number[] {
    const ports: number[] = []
    for (let w = 0; w < this.held.length; w++) {
      for (let word = this.held[w] as number; word !== 0; word &= word - 1) {
        ports.push(this.begin + (w << 5) + (31 - Math.clz32(word & -word)))
      }
    }
    return ports
  }
}
