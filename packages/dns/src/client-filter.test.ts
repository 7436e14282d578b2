import { parseCIDR } from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import { makeClientFilter } from './client-filter.js'

const subnets = [parseCIDR('10.1.0.0/24'), parseCIDR('fd00:1::/64')]
const own = [
  { address: '10.1.0.1', family: 4 as const },
  { address: 'fd00:1::1', family: 6 as const },
]

describe('makeClientFilter', () => {
  it('allows the subnets only, never the server itself', () => {
    const f = makeClientFilter(subnets, own, false)
    expect(f.allows('10.1.0.2')).toBe(true)
    expect(f.allows('fd00:1::2')).toBe(true)
    expect(f.allows('10.1.0.1')).toBe(false)
    expect(f.allows('fd00:1:0:0::1')).toBe(false)
    expect(f.allows('10.1.1.2')).toBe(false)
    expect(f.allows('127.0.0.1')).toBe(false)
    expect(f.allows('fe80::1%eth0')).toBe(false)
    expect(f.allows(undefined)).toBe(false)
  })

  it('allows anyone without subnets, or with anyClient', () => {
    for (const f of [makeClientFilter([], own, false), makeClientFilter(subnets, own, true)]) {
      expect(f.allows('127.0.0.1')).toBe(true)
      expect(f.allows('10.1.0.1')).toBe(true)
      expect(f.rules(4)).toHaveLength(0)
      expect(f.rules(6)).toHaveLength(0)
    }
  })

  it("encodes the native loop's rules: allowed prefixes, the server's addresses, nobody of a family without subnets", () => {
    const f = makeClientFilter(subnets, own, false)
    expect(f.rules(4).toString('hex')).toBe(['01180a010000', '00200a010001'].join(''))
    expect(f.rules(6).toString('hex')).toBe(
      ['0140fd000001000000000000000000000000', '0080fd000001000000000000000000000001'].join(''),
    )
    const v4only = makeClientFilter([parseCIDR('10.1.0.0/24')], own, false)
    expect(v4only.rules(6).toString('hex')).toBe(
      ['0080fd000001000000000000000000000001', `0000${'00'.repeat(16)}`].join(''),
    )
  })
})
