import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SparseBitSet } from './sparse-bitset.js'

describe('SparseBitSet', () => {
  it('adds, deletes and counts anywhere in 128 bits', () => {
    const set = new SparseBitSet()
    const far = (1n << 127n) + 12345n
    expect(set.add(far)).toBe(true)
    expect(set.add(far)).toBe(false)
    expect(set.has(far)).toBe(true)
    expect(set.has(far + 1n)).toBe(false)
    expect(set.add(0n)).toBe(true)
    expect(set.count).toBe(2)
    expect([...set.runs()]).toEqual([
      [0n, 0n],
      [far, far],
    ])
    expect(set.delete(far)).toBe(true)
    expect(set.delete(far)).toBe(false)
    expect(set.count).toBe(1)
  })

  it('walks runs across words and buckets', () => {
    const set = new SparseBitSet()
    const start = (1n << 32n) - 40n
    for (let i = 0n; i < 100n; i++) set.add(start + i)
    expect(set.nextClear(start, 1n << 64n)).toBe(start + 100n)
    expect(set.nextClear(0n, 1n << 64n)).toBe(0n)
    expect(set.nextClear(start + 3n, start + 100n)).toBe(-1n)
    expect([...set.runs()]).toEqual([[start, start + 99n]])
  })

  it('agrees with a Set (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('add', 'delete', 'next'), fc.bigInt({ min: 0n, max: 300n })), {
          maxLength: 300,
        }),
        (ops) => {
          const set = new SparseBitSet()
          const model = new Set<bigint>()
          for (const [op, n] of ops) {
            const offset = (1n << 32n) - 150n + n
            if (op === 'add') {
              expect(set.add(offset)).toBe(!model.has(offset))
              model.add(offset)
            } else if (op === 'delete') {
              expect(set.delete(offset)).toBe(model.has(offset))
              model.delete(offset)
            } else {
              let expected = offset
              while (model.has(expected)) expected++
              expect(set.nextClear(offset, 1n << 64n)).toBe(expected)
            }
          }
          expect(set.count).toBe(model.size)
          const fromRuns: bigint[] = []
          for (const [a, b] of set.runs()) for (let i = a; i <= b; i++) fromRuns.push(i)
          expect(fromRuns).toEqual([...model].sort((a, b) => (a < b ? -1 : 1)))
        },
      ),
    )
  })
})
