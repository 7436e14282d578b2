import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SummaryBitmap } from './bitmap.js'

describe('SummaryBitmap', () => {
  it('starts empty, or full with exactly `size` bits set', () => {
    for (const size of [1, 31, 32, 33, 1024, 1025, 28232, 65535]) {
      const empty = new SummaryBitmap(size)
      expect(empty.next(0)).toBe(-1)
      const full = new SummaryBitmap(size, true)
      expect(full.next(0)).toBe(0)
      expect(full.next(size - 1)).toBe(size - 1)
      expect(full.next(size)).toBe(-1)
      expect(full.has(size)).toBe(false)
    }
  })

  it('finds the next set bit across words and summary levels', () => {
    const bits = new SummaryBitmap(65535)
    bits.set(65534)
    expect(bits.next(0)).toBe(65534)
    bits.set(1024)
    expect(bits.next(0)).toBe(1024)
    expect(bits.next(1025)).toBe(65534)
    bits.clear(65534)
    expect(bits.next(1025)).toBe(-1)
    expect(bits.nextWrapping(1025)).toBe(1024)
    bits.clear(1024)
    expect(bits.nextWrapping(5)).toBe(-1)
  })

  it('stays cheap when nearly full: one free bit is found from anywhere', () => {
    const bits = new SummaryBitmap(65535, true)
    for (let i = 0; i < 65535; i++) bits.clear(i)
    bits.set(40000)
    expect(bits.nextWrapping(40001)).toBe(40000)
    expect(bits.nextWrapping(0)).toBe(40000)
  })

  it('agrees with an array of booleans (property)', () => {
    const op = fc.tuple(fc.constantFrom('set', 'clear', 'next', 'wrap'), fc.nat())
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.boolean(),
        fc.array(op, { maxLength: 300 }),
        (size, filled, ops) => {
          const bits = new SummaryBitmap(size, filled)
          const model = new Array<boolean>(size).fill(filled)
          for (const [kind, raw] of ops) {
            const i = raw % size
            if (kind === 'set') {
              bits.set(i)
              model[i] = true
            } else if (kind === 'clear') {
              bits.clear(i)
              model[i] = false
            } else if (kind === 'next') {
              expect(bits.next(i)).toBe(model.indexOf(true, i))
            } else {
              const after = model.indexOf(true, i)
              expect(bits.nextWrapping(i)).toBe(after >= 0 ? after : model.indexOf(true))
            }
            expect(bits.has(i)).toBe(model[i])
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
