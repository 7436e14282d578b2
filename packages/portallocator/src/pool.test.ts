import { describe, expect, it } from 'vitest'
import { type FamilyPools, Pool } from './pool.js'

function family(): FamilyPools {
  return { wildcard: undefined, specific: [], holders: new Map() }
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
    expect(pool.free.has(1500 - 1000)).toBe(false)
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
    pool.free.set(0)
    expect(pool.holdNext()).toBe(3)
    expect(pool.holdNext()).toBe(0)
    expect(pool.holdNext()).toBe(-1)
  })

  it('takes a few KB per (IP, protocol)', () => {
    const bytes = (pool: Pool): number =>
      pool.held.byteLength + pool.free.l0.byteLength + pool.free.l1.byteLength + pool.free.l2.byteLength
    expect(bytes(new Pool('0.0.0.0', family(), 49153, 65535))).toBeLessThan(4300) // the default range
    expect(bytes(new Pool('0.0.0.0', family(), 32768, 60999))).toBeLessThan(7300) // Linux's usual range
    expect(bytes(new Pool('0.0.0.0', family(), 1, 65535))).toBeLessThan(16_700) // every port
  })

  it('sees conflicts through its family: wildcard against specific holders and the reverse', () => {
    const fam = family()
    const wildcard = new Pool('0.0.0.0', fam, 10, 20)
    const specific = new Pool('10.0.0.1', fam, 10, 20)
    fam.wildcard = wildcard
    fam.specific.push(specific)
    fam.holders.set(15, 1)
    wildcard.hold(12)
    expect(wildcard.heldByOther(15)).toBe(true)
    expect(wildcard.heldByOther(12)).toBe(false)
    expect(specific.heldByOther(12)).toBe(true)
    expect(specific.heldByOther(15)).toBe(false)
  })
})
