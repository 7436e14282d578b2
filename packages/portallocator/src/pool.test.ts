import { describe, expect, it } from 'vitest'
import { type FamilyPools, Pool } from './pool.js'

function family(): FamilyPools {
  return { wildcard: undefined, specific: [] }
}

describe('Pool', () => {
  it('holds ports inside and outside the range', () => {
    const pool = new Pool('10.0.0.1', family(), 1000, 1999)
    for (const port of [1, 999, 1000, 1500, 1999, 2000, 65535]) {
      expect(pool.holds(port)).toBe(false)
      pool.hold(port)
      expect(pool.holds(port)).toBe(true)
    }
    expect(pool.heldInRange()).toEqual([1000, 1500, 1999])
    expect(pool.has(1500 - 1000)).toBe(false)
    expect(pool.unhold(1500)).toBe(true)
    expect(pool.unhold(1500)).toBe(false)
    expect(pool.unhold(65535)).toBe(true)
    expect(pool.unhold(4242)).toBe(false)
    expect(pool.holds(1500)).toBe(false)
    expect(pool.heldInRange()).toEqual([1000, 1999])
  })

  it('hands out the next free index after the cursor, wrapping, starting at the first', () => {
    const pool = new Pool('0.0.0.0', family(), 10, 13)
    expect(pool.wildcard).toBe(true)
    expect([pool.holdNext(), pool.holdNext(), pool.holdNext()]).toEqual([0, 1, 2])
    expect(pool.unhold(10)).toBe(true)
    pool.set(0)
    expect(pool.holdNext()).toBe(3)
    expect(pool.holdNext()).toBe(0)
    expect(pool.holdNext()).toBe(-1)
  })

  it('while exclusive without the OS, holds exactly its taken ports, and writes them out when shared', () => {
    const pool = new Pool('0.0.0.0', family(), 10, 49) // 40 ports: the last bitmap word is partial
    pool.makeExclusive()
    expect(pool.exclusive).toBe(true)
    expect(pool.holdNext()).toBe(0)
    pool.hold(12)
    pool.hold(49)
    pool.hold(5) // outside the range
    expect([pool.holds(10), pool.holds(11), pool.holds(12), pool.holds(49), pool.holds(5)]).toEqual([
      true,
      false,
      true,
      true,
      true,
    ])
    expect(pool.heldInRange()).toEqual([10, 12, 49])
    expect(pool.unhold(12)).toBe(true)
    expect(pool.has(2)).toBe(true) // not held is free, here
    expect(pool.unhold(12)).toBe(false)
    pool.release(49)
    pool.release(49)
    expect(pool.holds(49)).toBe(false)
    pool.share()
    expect(pool.exclusive).toBe(false)
    expect(pool.heldInRange()).toEqual([10])
    expect([pool.holds(10), pool.holds(11), pool.holds(5)]).toEqual([true, false, true])
    expect(pool.unhold(10)).toBe(true)
    expect(pool.has(0)).toBe(false) // shared: the caller decides whether it is free
  })

  it('keeps its held ports apart from its free ones when the OS is consulted', () => {
    const pool = new Pool('0.0.0.0', family(), 10, 19, true)
    pool.makeExclusive()
    pool.clear(3) // bound by the OS
    expect(pool.holds(13)).toBe(false)
    expect(pool.holdNext()).toBe(0)
    expect(pool.heldInRange()).toEqual([10])
  })

  it('takes a few KB per (IP, protocol)', () => {
    // three bitmaps of the range (free, held, ring entries), their summaries and a 1 KB ring
    expect(new Pool('0.0.0.0', family(), 49153, 65535).bytes).toBeLessThan(7300) // the default range
    expect(new Pool('0.0.0.0', family(), 32768, 60999).bytes).toBeLessThan(11_800) // Linux's usual range
    expect(new Pool('0.0.0.0', family(), 1, 65535).bytes).toBeLessThan(25_900) // every port
  })

  it('sees conflicts through its family: wildcard against specific holders and the reverse', () => {
    const fam = family()
    const wildcard = new Pool('0.0.0.0', fam, 10, 20)
    const specific = new Pool('10.0.0.1', fam, 10, 20)
    fam.wildcard = wildcard
    fam.specific.push(specific)
    specific.hold(15)
    specific.hold(25) // outside the range
    wildcard.hold(12)
    expect(wildcard.heldByOther(15)).toBe(true)
    expect(wildcard.heldByOther(25)).toBe(true)
    expect(wildcard.heldByOther(12)).toBe(false)
    expect(specific.heldByOther(12)).toBe(true)
    expect(specific.heldByOther(15)).toBe(false)
  })
})
