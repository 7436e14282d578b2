import { bigIntToIPv6, type IPFamily, numberToIPv4, tryIPv4ToNumber, tryIPv6ToBigInt } from '@cnm/ip'
import { Bitmap } from './bitmap.js'
import type { Pool } from './pool.js'

/** A pool of fewer than 2³² addresses (every IPv4 pool) at one bit per address. */
export class BitmapPool implements Pool {
  readonly family: IPFamily
  readonly first: bigint
  readonly last: bigint
  private readonly bits: Bitmap
  private readonly firstNumber: number
  private lastOffset = -1

  constructor(family: IPFamily, first: bigint, last: bigint) {
    this.family = family
    this.first = first
    this.last = last
    this.bits = new Bitmap(Number(last - first + 1n))
    this.firstNumber = family === 4 ? Number(first) : 0
  }

  get count(): number {
    return this.bits.count
  }

  get cursor(): bigint | undefined {
    return this.lastOffset < 0 ? undefined : this.first + BigInt(this.lastOffset)
  }

  set cursor(value: bigint | undefined) {
    this.lastOffset = value === undefined ? -1 : Number(value - this.first)
  }

  next(): string | undefined {
    const from = this.lastOffset + 1 < this.bits.size ? this.lastOffset + 1 : 0
    let offset = this.bits.nextClear(from)
    if (offset < 0 && from > 0) offset = this.bits.nextClear(0)
    if (offset < 0) return undefined
    this.bits.set(offset)
    this.lastOffset = offset
    return this.family === 4 ? numberToIPv4(this.firstNumber + offset) : bigIntToIPv6(this.first + BigInt(offset))
  }

  take(value: bigint): boolean {
    return this.bits.set(Number(value - this.first))
  }

  takeRun(from: bigint, to: bigint): boolean {
    let fresh = true
    const end = Number(to - this.first)
    for (let offset = Number(from - this.first); offset <= end; offset++) fresh = this.bits.set(offset) && fresh
    return fresh
  }

  releaseText(ip: string): boolean {
    let offset = -1
    if (this.family === 4) {
      const value = tryIPv4ToNumber(ip)
      if (value >= 0) offset = value - this.firstNumber
    } else {
      const value = tryIPv6ToBigInt(ip)
      if (value >= this.first && value <= this.last) offset = Number(value - this.first)
    }
    return offset >= 0 && offset < this.bits.size && this.bits.clear(offset)
  }

  has(value: bigint): boolean {
    return this.bits.has(Number(value - this.first))
  }

  *runs(): Generator<[bigint, bigint]> {
    for (const [a, b] of this.bits.runs()) yield [this.first + BigInt(a), this.first + BigInt(b)]
  }
}
