import { describe, expect, it } from 'vitest'
import { overlapError, overlapping } from './global-overlaps.js'

describe('overlaps between global and local subnets', () => {
  const others = [
    { name: 'loc1', cidr: '10.200.5.0/24' },
    { name: 'loc6', cidr: 'fd00:5::/64' },
  ]

  it('finds the network a subnet overlaps, in its own family only', () => {
    expect(overlapping('10.200.5.128/25', others)).toEqual(others[0])
    expect(overlapping('10.200.0.0/16', others)).toEqual(others[0])
    expect(overlapping('10.200.6.0/24', others)).toBeUndefined()
    expect(overlapping('fd00:5::/80', others)).toEqual(others[1])
    expect(overlapping('fd00:6::/64', others)).toBeUndefined()
    expect(overlapping('not a cidr', others)).toBeUndefined()
  })

  it('names the other network in a 409 conflict', () => {
    const err = overlapError('g1', '10.200.5.0/24', { name: 'loc1', cidr: '10.200.5.0/24' }, 'local')
    expect(err).toMatchObject({ code: 'ERR_NETWORK_OVERLAPS', kind: 'conflict' })
    expect(err.message).toBe('network g1: subnet 10.200.5.0/24 overlaps local network loc1 (10.200.5.0/24)')
  })
})
