import { isWildcard } from './address.js'
import { FreeSet } from './free-set.js'

/** The pools of one address family for one protocol: its wildcard and its specific addresses. */
export interface FamilyPools {
  wildcard: Pool | undefined
  specific: Pool[]
}

/**
 * The ports of one (IP, protocol). A pool is the {@link FreeSet} of the range's ports it could be
 * given now — not held by it, not held by a conflicting address, not bound by the OS — so its
 * `has`, `set`, `clear`, `next` and `takeNext` are about free indices (index i is port begin + i);
 * beside that it keeps a flat bitmap of the range's ports it holds (not written while
 * {@link heldIsTaken}), plus a set for ports asked for explicitly outside the range. One object,
 * so the hot path follows no pointer from pool to set. A few KB: three bitmaps of
 * (end - begin + 1) bits (free, held, ring entries), their summaries and a 1 KB ring.
 */
export class Pool extends FreeSet {
  // `declare` fields: see SummaryBitmap.
  declare readonly ip: string
  declare readonly wildcard: boolean
  declare readonly family: FamilyPools
  declare readonly begin: number
  declare readonly end: number
  /** Bit i: port begin + i is held. Not kept while {@link heldIsTaken}. */
  declare private readonly held: Uint32Array
  declare readonly outside: Set<number>
  /**
   * No other pool's ports conflict with this one's: a wildcard with no specific address of its
   * family. Its ports then need no bookkeeping elsewhere. Changed only by {@link makeExclusive}
   * and {@link share} (a field, not a getter: one load on the hot path).
   */
  declare exclusive: boolean
  /**
   * While the pool is exclusive and the OS is not consulted, a port of the range is held exactly
   * when it is not free, so the free bits say it and `held` is not written (the hot path then
   * touches one bitmap); {@link share} writes `held` out when that stops.
   */
  declare private heldIsTaken: boolean
  declare private readonly synced: boolean

  /**
   * `synced`: whether the OS's bound ports count (they then clear free bits too). `ringCapacity`:
   * see {@link FreeSet}.
   */
  constructor(ip: string, family: FamilyPools, begin: number, end: number, synced = false, ringCapacity?: number) {
    super(end - begin + 1, ringCapacity)
    this.ip = ip
    this.wildcard = isWildcard(ip)
    this.family = family
    this.begin = begin
    this.end = end
    this.held = new Uint32Array(this.l0.length)
    this.outside = new Set()
    this.synced = synced
    this.exclusive = false
    this.heldIsTaken = false
  }

  /** Makes a new pool, which holds nothing, exclusive. */
  makeExclusive(): void {
    this.exclusive = true
    this.heldIsTaken = !this.synced
  }

  /** Another pool now conflicts with this one: it is no longer exclusive. */
  share(): void {
    this.exclusive = false
    if (!this.heldIsTaken) return
    this.held.set(this.takenWords())
    this.heldIsTaken = false
  }

  /** The indices of the range that are not free, as bitmap words. */
  private takenWords(): Uint32Array {
    const words = this.l0.map((word) => ~word)
    const tail = this.size & 31
    if (tail !== 0) words[words.length - 1] = (words[words.length - 1] as number) & ((1 << tail) - 1)
    return words
  }

  holds(port: number): boolean {
    const i = port - this.begin
    if (i < 0 || port > this.end) return this.outside.has(port)
    if (this.heldIsTaken) return !this.has(i)
    return (((this.held[i >>> 5] as number) >>> (i & 31)) & 1) === 1
  }

  /** Marks `port` held (and, in the range, no longer free). */
  hold(port: number): void {
    const i = port - this.begin
    if (i < 0 || port > this.end) {
      this.outside.add(port)
      return
    }
    if (!this.heldIsTaken) this.held[i >>> 5] = (this.held[i >>> 5] as number) | (1 << (i & 31))
    this.clear(i)
  }

  /**
   * Stops holding `port`; false when it was not held. Its free bit is the caller's to set, except
   * while {@link heldIsTaken} (not held is free there; callers use {@link release} then).
   */
  unhold(port: number): boolean {
    const i = port - this.begin
    if (i < 0 || port > this.end) return this.outside.delete(port)
    if (!this.heldIsTaken) return this.dropHeld(i)
    if (this.has(i)) return false
    this.set(i) // not held is free, here
    return true
  }

  /**
   * Stops holding `port` and marks it free, when nothing else decides that: the pool is
   * {@link exclusive} and no socket of the OS is bound to the port. Releasing a port it does not
   * hold is a no-op.
   */
  release(port: number): void {
    const i = port - this.begin
    if (i < 0 || port > this.end) this.outside.delete(port)
    else if (this.heldIsTaken || this.dropHeld(i)) this.set(i) // held-is-taken: a no-op when it is free
  }

  /** Clears index `i`'s held bit; false when it was not set. */
  private dropHeld(i: number): boolean {
    const bit = 1 << (i & 31)
    const word = this.held[i >>> 5] as number
    if ((word & bit) === 0) return false
    this.held[i >>> 5] = word & ~bit
    return true
  }

  /** Holds the next free port after the last one handed out, wrapping, and returns its index; -1 when none. */
  holdNext(): number {
    const i = this.takeNext()
    if (i >= 0 && !this.heldIsTaken) this.held[i >>> 5] = (this.held[i >>> 5] as number) | (1 << (i & 31))
    return i
  }

  /** Whether another address of the family holds `port` in a way that conflicts with this one. */
  heldByOther(port: number): boolean {
    const family = this.family
    if (this.wildcard) return heldBySpecific(family, port)
    return family.wildcard?.holds(port) ?? false
  }

  /** Bytes taken by its bitmaps and ring (the "few KB per (IP, protocol)"). */
  override get bytes(): number {
    return super.bytes + this.held.byteLength
  }

  /** Every held port inside the range, in order. */
  heldInRange(): number[] {
    const ports: number[] = []
    const held = this.heldIsTaken ? this.takenWords() : this.held
    for (let w = 0; w < held.length; w++) {
      for (let word = held[w] as number; word !== 0; word &= word - 1) {
        ports.push(this.begin + (w << 5) + (31 - Math.clz32(word & -word)))
      }
    }
    return ports
  }
}

/**
 * Whether a specific address of the family holds `port` (what its wildcard conflicts with). A
 * look at each of them: there are few, and a count per port (a map) cost more than the look, its
 * deletes and rehashing dominating a busy specific address.
 */
export function heldBySpecific(family: FamilyPools, port: number): boolean {
  for (const pool of family.specific) if (pool.holds(port)) return true
  return false
}
