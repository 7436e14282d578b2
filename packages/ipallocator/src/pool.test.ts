import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatAddress, type IPFamily } from './address.js'
import { BitmapPool } from './bitmap-pool.js'
import { createPool, type Pool } from './pool.js'
import { SparsePool } from './sparse-pool.js'

/** The seed's algorithm, written plainly: a set of values and a linear scan after the last. */
class SeedPool {
  readonly used = new Set<bigint>()
  cursor: bigint
  constructor(
    readonly first: bigint,
    readonly last: bigint,
  ) {
    this.cursor = first - 1n
  }

  next(): bigint | undefined {
    let pos = this.cursor
    for (let i = this.first; i <= this.last; i++) {
      pos = pos + 1n > this.last ? this.first : pos + 1n
      if (!this.used.has(pos)) {
        this.used.add(pos)
        this.cursor = pos
        return pos
      }
    }
    return undefined
  }
}

type Op = { kind: 'next' } | { kind: 'take'; offset: number } | { kind: 'release'; offset: number }

const op = (size: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant<Op>({ kind: 'next' }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: size - 1 }).map<Op>((offset) => ({ kind: 'take', offset })) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: size - 1 }).map<Op>((offset) => ({ kind: 'release', offset })) },
  )

function check(make: (family: IPFamily, first: bigint, last: bigint) => Pool, family: IPFamily, base: bigint): void {
  fc.assert(
    fc.property(
      fc
        .oneof(
          { weight: 4, arbitrary: fc.integer({ min: 1, max: 40 }) },
          { weight: 1, arbitrary: fc.integer({ min: 1000, max: 2100 }) },
        )
        .chain((size) => fc.tuple(fc.constant(size), fc.array(op(size), { maxLength: 600 }))),
      ([size, ops]) => {
        const first = base
        const last = base + BigInt(size - 1)
        const pool = make(family, first, last)
        const model = new SeedPool(first, last)
        for (const o of ops) {
          if (o.kind === 'next') {
            const expected = model.next()
            expect(pool.next()).toBe(expected === undefined ? undefined : formatAddress(family, expected))
          } else if (o.kind === 'take') {
            const value = first + BigInt(o.offset)
            expect(pool.take(value)).toBe(!model.used.has(value))
            model.used.add(value)
          } else {
            const value = first + BigInt(o.offset)
            expect(pool.releaseText(formatAddress(family, value))).toBe(model.used.delete(value))
          }
          expect(pool.count).toBe(model.used.size)
        }
        expect(pool.cursor).toBe(model.cursor < first ? undefined : model.cursor)
        const held: bigint[] = []
        for (const [a, b] of pool.runs()) for (let v = a; v <= b; v++) held.push(v)
        expect(held).toEqual([...model.used].sort((a, b) => (a < b ? -1 : 1)))
      },
    ),
    { numRuns: 200 },
  )
}

describe('pools against the seed algorithm (property)', () => {
  it('BitmapPool, IPv4', () => check((f, a, b) => new BitmapPool(f, a, b), 4, 0x0a000001n))
  it('BitmapPool, IPv6', () => check((f, a, b) => new BitmapPool(f, a, b), 6, 0x20010db8n << 96n))
  it('SparsePool (small ranges exercise its wrap-around)', () =>
    check((f, a, b) => new SparsePool(f, a, b), 6, (0x20010db8n << 96n) + (1n << 32n) - 1000n))
})

describe('releaseText', () => {
  it('frees only held addresses of its own family', () => {
    for (const pool of [
      new BitmapPool(4, 0x0a000001n, 0x0a0000fen),
      new BitmapPool(6, 1n, 254n),
      new SparsePool(6, 1n, 1n << 64n),
    ]) {
      const first = formatAddress(pool.family, pool.first)
      pool.take(pool.first)
      for (const text of ['', 'x', '10.0.0.0', '10.0.0.255', '::', '::ffff', '::1:0:0:0:0', '10.0.0.1.1', '1.2.3.4']) {
        expect(pool.releaseText(text)).toBe(false)
      }
      expect(pool.releaseText(first)).toBe(true)
      expect(pool.releaseText(first)).toBe(false)
      expect(pool.count).toBe(0)
    }
  })
})

describe('createPool', () => {
  it('uses a bitmap below 2³² addresses and a sparse set from there on', () => {
    expect(createPool(4, 1n, 2n ** 32n - 2n)).toBeInstanceOf(BitmapPool)
    expect(createPool(6, 1n, 2n ** 32n - 1n)).toBeInstanceOf(BitmapPool)
    expect(createPool(6, 1n, 2n ** 32n)).toBeInstanceOf(SparsePool)
  })

  it('restores a cursor', () => {
    for (const pool of [new BitmapPool(4, 10n, 20n), new SparsePool(6, 10n, 20n)]) {
      expect(pool.cursor).toBeUndefined()
      pool.cursor = 19n
      expect(pool.next()).toBe(formatAddress(pool.family, 20n))
      expect(pool.next()).toBe(formatAddress(pool.family, 10n))
      expect(pool.takeRun(11n, 13n)).toBe(true)
      expect(pool.takeRun(13n, 14n)).toBe(false)
      expect(pool.next()).toBe(formatAddress(pool.family, 15n))
    }
  })
})
