import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FreeSet, RING_CAPACITY } from './free-set.js'

/** The plain version: an array of booleans and a cursor, searched one index at a time. */
class Model {
  readonly free: boolean[]
  cursor: number

  constructor(readonly size: number) {
    this.free = new Array<boolean>(size).fill(true)
    this.cursor = size - 1
  }

  takeNext(): number {
    for (let k = 1; k <= this.size; k++) {
      const i = (this.cursor + k) % this.size
      if (this.free[i]) {
        this.free[i] = false
        this.cursor = i
        return i
      }
    }
    return -1
  }
}

type Op = { kind: 'set' | 'clear' | 'move'; at: number } | { kind: 'take'; times: number } | { kind: 'drain' }

/** The ring's invariants, read through its private fields (plain checks: this runs after every take). */
function expectConsistent(set: FreeSet): void {
  const inner = set as unknown as {
    ring: Uint16Array
    member: Uint32Array
    length: number
    pos: number
    lo: number
    hi: number
  }
  const entries = Array.from(inner.ring.subarray(0, inner.length))
  const problems: string[] = []
  for (let k = 1; k < entries.length; k++) {
    if ((entries[k - 1] as number) >= (entries[k] as number)) problems.push(`entries out of order at ${k}`)
  }
  const isEntry = new Set(entries)
  for (let i = 0; i < set.size; i++) {
    const member = (((inner.member[i >>> 5] as number) >>> (i & 31)) & 1) === 1
    if (member !== isEntry.has(i)) problems.push(`member bit of ${i}`)
    if (set.has(i) && i >= inner.lo && i <= inner.hi && !member) problems.push(`free ${i} in the window, not an entry`)
  }
  for (const i of entries) if (i < inner.lo || i > inner.hi) problems.push(`entry ${i} outside the window`)
  // the walk starts at the first entry after the cursor, and sees every free index up to `hi`
  const pos = entries.filter((i) => i <= set.cursor).length
  if (inner.pos !== pos) problems.push(`pos ${inner.pos}, the first entry after the cursor is ${pos}`)
  if (inner.hi >= inner.lo && inner.lo > set.cursor + 1) problems.push(`window starts at ${inner.lo}, after the cursor`)
  expect(problems).toEqual([])
}

describe('FreeSet', () => {
  it('takes indices in order after the cursor, wrapping, the first being 0', () => {
    const set = new FreeSet(5)
    expect([set.takeNext(), set.takeNext(), set.takeNext()]).toEqual([0, 1, 2])
    set.set(0)
    expect(set.takeNext()).toBe(3)
    expect(set.takeNext()).toBe(4)
    expect(set.takeNext()).toBe(0)
    expect(set.takeNext()).toBe(-1)
    set.set(2)
    expect(set.takeNext()).toBe(2)
    expect(set.cursor).toBe(2)
  })

  it('cycles through the free indices of a range 99% full, in order', () => {
    const size = 16383
    const set = new FreeSet(size)
    for (let i = 0; i < size; i++) expect(set.takeNext()).toBe(i)
    expect(set.takeNext()).toBe(-1)
    const free = [3, 700, 701, 9000, 16382]
    for (const i of free) set.set(i)
    const taken: number[] = []
    for (let k = 0; k < 3 * free.length; k++) {
      const i = set.takeNext()
      taken.push(i)
      set.set(i) // released at once, as in the benchmark
    }
    expect(taken).toEqual([...free, ...free, ...free])
  })

  it('finds an index freed right after the cursor when the window has moved on', () => {
    // ring of one: the window after a refill ends before the next free index that did not fit
    const set = new FreeSet(10, 1)
    for (let i = 0; i < 10; i++) set.takeNext()
    for (const i of [2, 3, 6]) set.set(i)
    set.moveCursor(1)
    expect(set.takeNext()).toBe(2)
    set.clear(3) // the entries after the cursor are taken: the next walk runs past the window
    expect(set.takeNext()).toBe(6)
    set.set(4) // between the cursor's old window and the next one
    set.moveCursor(3)
    expect(set.takeNext()).toBe(4)
  })

  it('keeps the order when a full ring of free entries gets an index in its window', () => {
    const set = new FreeSet(10, 1)
    for (let i = 0; i < 10; i++) set.takeNext()
    set.set(5)
    set.set(8)
    expect(set.takeNext()).toBe(5) // ring [5], window up to 7
    set.set(5)
    set.set(7) // ring full of free entries and 7 > 5: the window ends before 7
    expect(set.takeNext()).toBe(7)
    expect(set.takeNext()).toBe(8)
    expect(set.takeNext()).toBe(5)
    set.set(9)
    set.set(6)
    set.set(2)
    expect([set.takeNext(), set.takeNext(), set.takeNext(), set.takeNext()]).toEqual([6, 9, 2, -1])
  })

  it('after a take that finds nothing, still sees a taken entry after the cursor freed again', () => {
    // the ring covers the whole range; every entry is taken
    const set = new FreeSet(25)
    for (let i = 0; i < 25; i++) set.takeNext()
    set.set(12)
    expect(set.takeNext()).toBe(12)
    set.set(24)
    set.clear(24) // an entry after the cursor, taken again
    expect(set.takeNext()).toBe(-1)
    set.set(24)
    set.set(10)
    expect(set.takeNext()).toBe(24) // not 10: 24 comes first after the cursor (12)
    expectConsistent(set)
  })

  it('agrees with the plain model through sets, clears, takes and cursor moves (property)', () => {
    const scenario = fc
      .record({
        size: fc.oneof(fc.integer({ min: 1, max: 24 }), fc.integer({ min: 1, max: 150 })),
        capacity: fc.constantFrom(1, 1, 2, 2, 3, 5, 8, RING_CAPACITY),
      })
      .chain(({ size, capacity }) => {
        const at = fc.nat({ max: size - 1 })
        const op: fc.Arbitrary<Op> = fc.oneof(
          { weight: 4, arbitrary: fc.record({ kind: fc.constant('set' as const), at }) },
          { weight: 2, arbitrary: fc.record({ kind: fc.constant('clear' as const), at }) },
          { weight: 1, arbitrary: fc.record({ kind: fc.constant('move' as const), at }) },
          {
            weight: 5,
            arbitrary: fc.record({ kind: fc.constant('take' as const), times: fc.integer({ min: 1, max: 40 }) }),
          },
          { weight: 1, arbitrary: fc.constant({ kind: 'drain' as const }) },
        )
        return fc.tuple(fc.constant(size), fc.constant(capacity), fc.array(op, { maxLength: 120 }))
      })
    fc.assert(
      fc.property(scenario, ([size, capacity, ops]) => {
        const set = new FreeSet(size, capacity)
        const model = new Model(size)
        for (const op of ops) {
          if (op.kind === 'take') {
            for (let t = 0; t < op.times; t++) {
              expect(set.takeNext()).toBe(model.takeNext())
              expectConsistent(set)
            }
            expect(set.cursor).toBe(model.cursor)
          } else if (op.kind === 'drain') {
            // until nothing is left, and once more
            for (let found = 0; found >= 0; ) {
              found = set.takeNext()
              expect(found).toBe(model.takeNext())
            }
            expectConsistent(set)
            expect(set.takeNext()).toBe(model.takeNext())
          } else if (op.kind === 'set') {
            set.set(op.at)
            model.free[op.at] = true
          } else if (op.kind === 'clear') {
            set.clear(op.at)
            model.free[op.at] = false
          } else {
            set.moveCursor(op.at)
            model.cursor = op.at
          }
          expectConsistent(set)
        }
        for (let i = 0; i < size; i++) expect(set.has(i), `index ${i}`).toBe(model.free[i])
      }),
      { numRuns: 1000 },
    )
  })

  it('refuses more indices than its 16-bit ring can name', () => {
    expect(new FreeSet(65536).size).toBe(65536)
    expect(() => new FreeSet(65537)).toThrow(RangeError)
  })

  it('holds a few KB beside the bitmap', () => {
    // the default range: 16 383 indices
    expect(new FreeSet(16383).bytes).toBeLessThan(5200)
  })
})
