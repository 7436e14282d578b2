import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SummaryBitmap } from './bitmap.js'

/** A non-zero word is always marked in `l1` (a zero one may be, until a search passes it); `l2` is exact. */
function expectSummaries(bits: SummaryBitmap): void {
  bits.l0.forEach((word, w0) => {
    if (word !== 0) expect(((bits.l1[w0 >>> 5] as number) >>> (w0 & 31)) & 1, `l1 marks word ${w0}`).toBe(1)
  })
  bits.l1.forEach((word, w1) => {
    expect(((bits.l2[w1 >>> 5] as number) >>> (w1 & 31)) & 1, `l2 bit ${w1}`).toBe(word !== 0 ? 1 : 0)
  })
}

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

  it('leaves a cleared word marked until a search passes it', () => {
    const bits = new SummaryBitmap(4096)
    bits.set(100)
    bits.clear(100)
    expect(bits.l1[0]).toBe(1 << 3) // word 3 is zero but still marked
    bits.set(3000)
    expect(bits.next(0)).toBe(3000)
    expect(bits.l1[0]).toBe(0) // the search unmarked it
    expect(bits.l2[0]).toBe(1 << 2) // l1 word 2 (words 64-95) holds word 93, bit 3000
    bits.clear(3000)
    expect(bits.next(0)).toBe(-1)
    expect(bits.l2[0]).toBe(0)
    expectSummaries(bits)
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
          expectSummaries(bits)
        },
      ),
      { numRuns: 300 },
    )
  })
})
