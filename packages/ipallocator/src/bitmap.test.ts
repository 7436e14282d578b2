import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Bitmap } from './bitmap.js'

/** Reference: linear scan over a plain boolean array. */
function modelNextClear(bits: boolean[], from: number): number {
  for (let i = from; i < bits.length; i++) if (!bits[i]) return i
  return -1
}

describe('Bitmap', () => {
  it('sets, clears and counts', () => {
    const bitmap = new Bitmap(100)
    expect(bitmap.set(5)).toBe(true)
    expect(bitmap.set(5)).toBe(false)
    expect(bitmap.has(5)).toBe(true)
    expect(bitmap.count).toBe(1)
    expect(bitmap.clear(5)).toBe(true)
    expect(bitmap.clear(5)).toBe(false)
    expect(bitmap.count).toBe(0)
  })

  it('finds the next clear bit across words, groups and levels', () => {
    const size = 5 * 1024 * 1024 + 77
    const bitmap = new Bitmap(size)
    for (let i = 0; i < 3 * 1024 * 1024 + 5; i++) bitmap.set(i)
    expect(bitmap.nextClear(0)).toBe(3 * 1024 * 1024 + 5)
    bitmap.clear(1_000_000)
    expect(bitmap.nextClear(0)).toBe(1_000_000)
    expect(bitmap.nextClear(1_000_001)).toBe(3 * 1024 * 1024 + 5)
    expect(bitmap.nextClear(size - 1)).toBe(size - 1)
    expect(bitmap.nextClear(size)).toBe(-1)
  })

  it('reports a full bitmap, including a partial last word', () => {
    for (const size of [1, 31, 32, 33, 1023, 1024, 1025, 1024 * 1024 + 1]) {
      const bitmap = new Bitmap(size)
      for (let i = 0; i < size; i++) bitmap.set(i)
      expect(bitmap.nextClear(0)).toBe(-1)
      bitmap.clear(size - 1)
      expect(bitmap.nextClear(0)).toBe(size - 1)
      bitmap.clear(0)
      expect(bitmap.nextClear(0)).toBe(0)
      expect([...bitmap.runs()]).toEqual(size > 2 ? [[1, size - 2]] : [])
    }
  })

  it('handles the largest IPv4 pool (2³² − 2 bits) lazily', () => {
    const size = 2 ** 32 - 2
    const bitmap = new Bitmap(size)
    expect(bitmap.nextClear(size - 1)).toBe(size - 1)
    bitmap.set(size - 1)
    bitmap.set(0)
    expect(bitmap.nextClear(size - 1)).toBe(-1)
    expect(bitmap.nextClear(0)).toBe(1)
    expect([...bitmap.runs()]).toEqual([
      [0, 0],
      [size - 1, size - 1],
    ])
  })

  it('refuses sizes it cannot index', () => {
    expect(() => new Bitmap(0)).toThrow(RangeError)
    expect(() => new Bitmap(2 ** 32)).toThrow(RangeError)
  })

  it('agrees with a boolean array (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.constantFrom('set', 'clear', 'next'), fc.nat()), { maxLength: 400 }),
        (size, ops) => {
          const bitmap = new Bitmap(size)
          const model = new Array<boolean>(size).fill(false)
          for (const [op, n] of ops) {
            const i = n % size
            if (op === 'set') {
              expect(bitmap.set(i)).toBe(!model[i])
              model[i] = true
            } else if (op === 'clear') {
              expect(bitmap.clear(i)).toBe(model[i])
              model[i] = false
            } else {
              expect(bitmap.nextClear(i)).toBe(modelNextClear(model, i))
            }
          }
          expect(bitmap.count).toBe(model.filter(Boolean).length)
          const fromRuns: boolean[] = new Array<boolean>(size).fill(false)
          for (const [a, b] of bitmap.runs()) for (let i = a; i <= b; i++) fromRuns[i] = true
          expect(fromRuns).toEqual(model)
        },
      ),
    )
  })

  it('agrees with a boolean array when nearly full (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1000, max: 70_000 }), fc.array(fc.nat(), { maxLength: 50 }), (size, holes) => {
        const bitmap = new Bitmap(size)
        const model = new Array<boolean>(size).fill(true)
        for (let i = 0; i < size; i++) bitmap.set(i)
        for (const hole of holes) {
          bitmap.clear(hole % size)
          model[hole % size] = false
        }
        for (const from of [0, 1, 31, 32, 1023, 1024, 1025, size - 1, ...holes.map((h) => (h * 7) % size)]) {
          if (from < size) expect(bitmap.nextClear(from)).toBe(modelNextClear(model, from))
        }
      }),
    )
  })
})
