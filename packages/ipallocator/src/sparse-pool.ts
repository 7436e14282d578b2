import { bigIntToIPv6, type IPFamily, tryIPv6ToBigInt } from '@cnm/ip'
import type { Pool } from './pool.js'
import { SparseBitSet } from './sparse-bitset.js'

/** A pool of 2³² addresses or more (IPv6 /96 and larger) that stores only what is allocated. */
export class SparsePool implements Pool {
  readonly family: IPFamily
  readonly first: bigint
  readonly last: bigint
  private readonly set = new SparseBitSet()
  private readonly size: bigint
  private lastOffset = -1n

  constructor(family: IPFamily, first: bigint, last: bigint) {
    this.family = family
    this.first = first
    this.last = last
    this.size = last - first + 1n
  }

  get count(): number {
    return this.set.count
  }

  get cursor(): bigint | undefined {
    return this.lastOffset < 0n ? undefined : this.first + this.lastOffset
  }

  set cursor(value: bigint | undefined) {
    this.lastOffset = value === undefined ? -1n : value - this.first
  }

  next(): string | undefined {
    const from = this.lastOffset + 1n < this.size ? this.lastOffset + 1n : 0n
    let offset = this.set.nextClear(from, this.size)
    if (offset < 0n && from > 0n) offset = this.set.nextClear(0n, this.size)
    if (offset < 0n) return undefined
    this.set.add(offset)
    this.lastOffset = offset
    return bigIntToIPv6(this.first + offset)
  }

  take(value: bigint): boolean {
    return this.set.add(value - this.first)
  }

  takeRun(from: bigint, to: bigint): boolean {
    let fresh = true
    for (let value = from; value <= to; value++) fresh = this.set.add(value - this.first) && fresh
    return fresh
  }

  releaseText(ip: string): boolean {
    const value = tryIPv6ToBigInt(ip)
    return value >= this.first && value <= this.last && this.set.delete(value - this.first)
  }

  has(value: bigint): boolean {
    return this.set.has(value - this.first)
  }

  *runs(): Generator<[bigint, bigint]> {
    for (const [a, b] of this.set.runs()) yield [this.first + a, this.first + b]
  }
}
