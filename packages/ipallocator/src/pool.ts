import type { IPFamily } from '@cnm/ip'
import { BitmapPool } from './bitmap-pool.js'
import { SparsePool } from './sparse-pool.js'

/**
 * The allocation state of one network: a range of addresses [first, last], those handed out, and
 * the round-robin cursor (the last address `next()` handed out).
 */
export interface Pool {
  readonly family: IPFamily
  readonly first: bigint
  readonly last: bigint
  /** Number of addresses handed out. */
  readonly count: number
  /** The last address `next()` handed out, or undefined before the first. */
  cursor: bigint | undefined
  /** Hands out the first free address after the cursor, wrapping; undefined when none is free. */
  next(): string | undefined
  /** Marks an address in [first, last] as handed out; false when it already was. */
  take(value: bigint): boolean
  /** Marks every address of [from, to] (inside [first, last]) as handed out; false when one already was. */
  takeRun(from: bigint, to: bigint): boolean
  /** Frees an address given as text; false when the text is not one this pool holds. */
  releaseText(ip: string): boolean
  has(value: bigint): boolean
  /** Handed-out addresses, ascending, as inclusive [first, last] runs. */
  runs(): Iterable<[bigint, bigint]>
}

/** Ranges below this size use a bitmap; larger ones (IPv6) store only what is allocated. */
export const BITMAP_LIMIT = 2n ** 32n

/** A pool for [first, last]: a bitmap for up to 2³²−1 addresses, a sparse set beyond. */
export function createPool(family: IPFamily, first: bigint, last: bigint): Pool {
  return last - first + 1n < BITMAP_LIMIT ? new BitmapPool(family, first, last) : new SparsePool(family, first, last)
}
