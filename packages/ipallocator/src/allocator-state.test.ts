import { describe, expect, it } from 'vitest'
import type { IPAllocatorState } from './allocator-state.js'
import {
  ERR_BAD_SUBNET,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  ERR_INVALID_STATE,
  ERR_IP_ALREADY_ALLOCATED,
  ERR_IP_OUT_OF_RANGE,
  ERR_NETWORK_ALREADY_REGISTERED,
} from './errors.js'
import { IPAllocator } from './ip-allocator.js'

const code = (c: string): unknown => expect.objectContaining({ code: c })

function roundTrip(allocator: IPAllocator): IPAllocator {
  return IPAllocator.fromJSON(JSON.parse(JSON.stringify(allocator)) as IPAllocatorState)
}

describe('toJSON / fromJSON', () => {
  it('writes networks, sub-ranges, cursors and runs of allocated addresses', () => {
    const allocator = new IPAllocator()
    for (let i = 0; i < 5; i++) allocator.requestIP('192.168.0.1/24')
    allocator.releaseIP('192.168.0.0/24', '192.168.0.3')
    allocator.requestIP('192.168.0.0/24', '192.168.0.200')
    allocator.registerSubnet('10.0.0.0/16', '10.0.1.0/24')
    allocator.requestIP('2001:db8::/64', '2001:db8::1:0:0:5')
    expect(allocator.toJSON()).toEqual({
      version: 1,
      pools: [
        {
          network: '192.168.0.0/24',
          last: '192.168.0.5',
          allocated: ['192.168.0.1-192.168.0.2', '192.168.0.4-192.168.0.5', '192.168.0.200'],
        },
        { network: '10.0.0.0/16', subnet: '10.0.1.0/24', allocated: [] },
        { network: '2001:db8::/64', allocated: ['2001:db8::1:0:0:5'] },
      ],
    })
  })

  it('restores exactly what was held, and where round-robin resumes', () => {
    const allocator = new IPAllocator()
    for (let i = 0; i < 6; i++) allocator.requestIP('127.0.0.1/29')
    for (const ip of ['127.0.0.4', '127.0.0.3']) allocator.releaseIP('127.0.0.1/29', ip)
    allocator.registerSubnet('192.168.0.1/24', '192.168.0.8/29')
    allocator.requestIP('192.168.0.1/24')
    for (let i = 0; i < 9; i++) allocator.requestIP('2a00:1450::1/64')
    allocator.releaseIP('2a00:1450::1/64', '2a00:1450::9')

    const restored = roundTrip(allocator)
    expect(restored.toJSON()).toEqual(allocator.toJSON())
    for (const a of [allocator, restored]) {
      expect(a.requestIP('127.0.0.1/29')).toBe('127.0.0.3')
      expect(a.requestIP('192.168.0.1/24')).toBe('192.168.0.10')
      expect(a.requestIP('2a00:1450::1/64')).toBe('2a00:1450::a')
      expect(() => a.requestIP('127.0.0.1/29', '127.0.0.6')).toThrow(code(ERR_IP_ALREADY_ALLOCATED))
      expect(() => a.registerSubnet('192.168.0.0/24', '192.168.0.0/25')).toThrow(code(ERR_NETWORK_ALREADY_REGISTERED))
    }
  })

  it('round-trips a full /16 as a single run', () => {
    const allocator = new IPAllocator()
    for (let i = 0; i < 65534; i++) allocator.requestIP('172.20.0.0/16')
    const state = allocator.toJSON()
    expect(state.pools[0]?.allocated).toEqual(['172.20.0.1-172.20.255.254'])
    expect(JSON.stringify(roundTrip(allocator))).toBe(JSON.stringify(state))
  })

  it('round-trips an empty allocator', () => {
    expect(roundTrip(new IPAllocator()).toJSON()).toEqual({ version: 1, pools: [] })
  })

  it.each([
    [null, ERR_INVALID_STATE],
    [{}, ERR_INVALID_STATE],
    [{ version: 2, pools: [] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24' }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', allocated: ['10.0.0.1-'] }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', allocated: ['10.0.0.5-10.0.0.1'] }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', allocated: ['::1'] }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', allocated: [7] }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', subnet: 5, allocated: [] }] }, ERR_INVALID_STATE],
    [{ version: 1, pools: [{ network: '10.0.0.0', allocated: [] }] }, ERR_INVALID_CIDR],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', subnet: '10.0.0.0/16', allocated: [] }] }, ERR_BAD_SUBNET],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', allocated: ['10.0.0.0'] }] }, ERR_IP_OUT_OF_RANGE],
    [
      { version: 1, pools: [{ network: '10.0.0.0/24', allocated: ['10.0.0.1-10.0.0.9', '10.0.0.9'] }] },
      ERR_IP_ALREADY_ALLOCATED,
    ],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', last: '10.0.1.1', allocated: [] }] }, ERR_IP_OUT_OF_RANGE],
    [{ version: 1, pools: [{ network: '10.0.0.0/24', last: 'x', allocated: [] }] }, ERR_INVALID_ADDRESS],
    [
      {
        version: 1,
        pools: [
          { network: '10.0.0.0/24', allocated: [] },
          { network: '10.0.0.1/24', allocated: [] },
        ],
      },
      ERR_NETWORK_ALREADY_REGISTERED,
    ],
  ])('refuses a bad state %j', (state, expected) => {
    expect(() => IPAllocator.fromJSON(state as unknown as IPAllocatorState)).toThrow(code(expected))
  })
})
