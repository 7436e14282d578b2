import { describe, expect, it } from 'vitest'
import {
  ERR_BAD_SUBNET,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  ERR_IP_ALREADY_ALLOCATED,
  ERR_IP_OUT_OF_RANGE,
  ERR_NETWORK_ALREADY_REGISTERED,
  ERR_NO_AVAILABLE_IPS,
  IPAllocatorError,
} from './errors.js'
import { IPAllocator } from './ip-allocator.js'

const code = (c: string): unknown => expect.objectContaining({ code: c })

function requestMany(allocator: IPAllocator, network: string, n: number): string[] {
  return Array.from({ length: n }, () => allocator.requestIP(network))
}

describe('IPAllocator: the seed test cases', () => {
  it('TestRequestNewIps: 192.168.0.1/24 gives .1 … .9, release .9, the next is .10', () => {
    const allocator = new IPAllocator()
    const network = '192.168.0.1/24'
    expect(requestMany(allocator, network, 9)).toEqual(Array.from({ length: 9 }, (_, i) => `192.168.0.${i + 1}`))
    allocator.releaseIP(network, '192.168.0.9')
    expect(allocator.requestIP(network)).toBe('192.168.0.10')
  })

  it('TestRequestNewIpV6: 2a00:1450::1/64 gives ::1 … ::9, release ::9, the next is ::a', () => {
    const allocator = new IPAllocator()
    const network = '2a00:1450::1/64'
    expect(requestMany(allocator, network, 9)).toEqual(Array.from({ length: 9 }, (_, i) => `2a00:1450::${i + 1}`))
    allocator.releaseIP(network, '2a00:1450::9')
    expect(allocator.requestIP(network)).toBe('2a00:1450::a')
  })

  it('TestReleaseIp(V6): a request then its release', () => {
    const allocator = new IPAllocator()
    for (const network of ['192.168.0.1/24', '2a00:1450::1/64']) {
      const ip = allocator.requestIP(network)
      expect(() => allocator.releaseIP(network, ip)).not.toThrow()
    }
  })

  it('TestGetReleasedIp(V6): a released address comes back only after the cursor wraps', () => {
    for (const network of ['192.168.0.1/24', '2a00:1450::1/120']) {
      const allocator = new IPAllocator()
      const ip = allocator.requestIP(network)
      allocator.releaseIP(network, ip)
      for (let i = 0; i < 253; i++) {
        expect(allocator.requestIP(network)).not.toBe(ip)
        allocator.releaseIP(network, ip)
      }
      expect(allocator.requestIP(network)).toBe(ip)
    }
  })

  it('TestRequestSpecificIp: a given address, twice, and one out of range', () => {
    const allocator = new IPAllocator()
    const network = '192.168.0.1/27'
    expect(allocator.requestIP(network, '192.168.0.5')).toBe('192.168.0.5')
    expect(() => allocator.requestIP(network, '192.168.0.5')).toThrow(code(ERR_IP_ALREADY_ALLOCATED))
    expect(() => allocator.requestIP(network, '192.168.0.42')).toThrow(code(ERR_IP_OUT_OF_RANGE))
  })

  it('TestRequestSpecificIpV6', () => {
    const allocator = new IPAllocator()
    const network = '2a00:1450::1/64'
    expect(allocator.requestIP(network, '2a00:1450::5')).toBe('2a00:1450::5')
    expect(() => allocator.requestIP(network, '2a00:1450::5')).toThrow(code(ERR_IP_ALREADY_ALLOCATED))
    expect(() => allocator.requestIP(network, '2a00:1500::1')).toThrow(code(ERR_IP_OUT_OF_RANGE))
  })

  it('TestIPAllocator: 127.0.0.1/29 gives .1 … .6, then none; release .4 .3 .5, the next are .3 .4 .5', () => {
    const allocator = new IPAllocator()
    const network = '127.0.0.1/29'
    expect(requestMany(allocator, network, 6)).toEqual(Array.from({ length: 6 }, (_, i) => `127.0.0.${i + 1}`))
    expect(() => allocator.requestIP(network)).toThrow(code(ERR_NO_AVAILABLE_IPS))
    for (const ip of ['127.0.0.4', '127.0.0.3', '127.0.0.5']) allocator.releaseIP(network, ip)
    expect(requestMany(allocator, network, 3)).toEqual(['127.0.0.3', '127.0.0.4', '127.0.0.5'])
    expect(() => allocator.requestIP(network)).toThrow(code(ERR_NO_AVAILABLE_IPS))
  })

  it('TestAllocateFirstIP: the network address is never handed out', () => {
    const allocator = new IPAllocator()
    expect(allocator.requestIP('192.168.0.0/24')).toBe('192.168.0.1')
  })

  it('TestAllocateAllIps: exhaustion, reuse, and a cursor on the only free address', () => {
    const allocator = new IPAllocator()
    const network = '192.168.0.1/24'
    const all = requestMany(allocator, network, 254)
    expect(all[0]).toBe('192.168.0.1')
    expect(all[253]).toBe('192.168.0.254')
    expect(() => allocator.requestIP(network)).toThrow(code(ERR_NO_AVAILABLE_IPS))
    allocator.releaseIP(network, '192.168.0.1')
    expect(allocator.requestIP(network)).toBe('192.168.0.1')
    expect(() => allocator.requestIP(network)).toThrow(code(ERR_NO_AVAILABLE_IPS))
    // #1: the cursor is the only free address (first of the range)
    allocator.releaseIP(network, '192.168.0.1')
    expect(allocator.requestIP(network)).toBe('192.168.0.1')
    // #2 and #3: last and middle of the range (setLastTo: release, take back, release)
    for (const ip of ['192.168.0.254', '192.168.0.7']) {
      allocator.releaseIP(network, ip)
      expect(allocator.requestIP(network)).toBe(ip)
      allocator.releaseIP(network, ip)
      expect(allocator.requestIP(network)).toBe(ip)
    }
  })

  it('TestAllocateDifferentSubnets: pools are independent', () => {
    const allocator = new IPAllocator()
    const got = [
      allocator.requestIP('192.168.0.1/24'),
      allocator.requestIP('192.168.0.1/24'),
      allocator.requestIP('127.0.0.1/24'),
      allocator.requestIP('127.0.0.1/24'),
      allocator.requestIP('2a00:1450::1/64'),
      allocator.requestIP('2a00:1450::1/64'),
      allocator.requestIP('2a00:1450::1/64'),
      allocator.requestIP('2a00:1632::1/64'),
      allocator.requestIP('2a00:1632::1/64'),
    ]
    expect(got).toEqual([
      '192.168.0.1',
      '192.168.0.2',
      '127.0.0.1',
      '127.0.0.2',
      '2a00:1450::1',
      '2a00:1450::2',
      '2a00:1450::3',
      '2a00:1632::1',
      '2a00:1632::2',
    ])
  })

  it('TestRegisterBadTwice: a network is registered once', () => {
    const allocator = new IPAllocator()
    allocator.registerSubnet('192.168.1.1/24', '192.168.1.8/29')
    expect(() => allocator.registerSubnet('192.168.1.1/24', '192.168.1.16/29')).toThrow(
      code(ERR_NETWORK_ALREADY_REGISTERED),
    )
  })

  it('TestRegisterBadRange: the subnet must lie inside the network', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.registerSubnet('192.168.1.1/24', '192.168.1.1/16')).toThrow(code(ERR_BAD_SUBNET))
  })

  it('TestAllocateFromRange: 192.168.0.8/29 in 192.168.0.1/24 gives .9 … .14', () => {
    const allocator = new IPAllocator()
    const network = '192.168.0.1/24'
    allocator.registerSubnet(network, '192.168.0.8/29')
    const expected = ['192.168.0.9', '192.168.0.10', '192.168.0.11', '192.168.0.12', '192.168.0.13', '192.168.0.14']
    expect(requestMany(allocator, network, 6)).toEqual(expected)
    expect(() => allocator.requestIP(network)).toThrow(code(ERR_NO_AVAILABLE_IPS))
    for (const ip of expected) {
      allocator.releaseIP(network, ip)
      expect(allocator.requestIP(network)).toBe(ip)
    }
  })
})

describe('IPAllocator: fixes over the seed', () => {
  it('keys pools by the canonical network', () => {
    const allocator = new IPAllocator()
    expect(allocator.requestIP('192.168.0.1/24')).toBe('192.168.0.1')
    expect(allocator.requestIP('192.168.0.0/24')).toBe('192.168.0.2')
    expect(allocator.requestIP('192.168.0.77/24')).toBe('192.168.0.3')
    expect(allocator.requestIP('2A00:1450:0:0::1/64')).toBe('2a00:1450::1')
    expect(allocator.requestIP('2a00:1450::/64')).toBe('2a00:1450::2')
    expect(() => allocator.registerSubnet('192.168.0.200/24', '192.168.0.0/25')).toThrow(
      code(ERR_NETWORK_ALREADY_REGISTERED),
    )
  })

  it('returns given addresses in canonical form, without prefix', () => {
    const allocator = new IPAllocator()
    expect(allocator.requestIP('2001:db8::/64', '2001:0DB8:0:0::00A0')).toBe('2001:db8::a0')
    expect(() => allocator.requestIP('2001:db8::/64', '2001:db8::a0')).toThrow(code(ERR_IP_ALREADY_ALLOCATED))
  })

  it('does not move the cursor for a given address', () => {
    const allocator = new IPAllocator()
    const network = '10.0.0.0/24'
    expect(allocator.requestIP(network, '10.0.0.50')).toBe('10.0.0.50')
    expect(allocator.requestIP(network)).toBe('10.0.0.1')
    expect(allocator.requestIP(network, '10.0.0.2')).toBe('10.0.0.2')
    expect(allocator.requestIP(network)).toBe('10.0.0.3')
  })

  it('refuses malformed networks and addresses with typed errors, changing nothing', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.requestIP('192.168.0.1')).toThrow(code(ERR_INVALID_CIDR))
    expect(() => allocator.requestIP('192.168.0.1/33')).toThrow(code(ERR_INVALID_CIDR))
    expect(() => allocator.registerSubnet('10.0.0.0/8', '10.0.0.0')).toThrow(code(ERR_INVALID_CIDR))
    expect(() => allocator.requestIP('10.0.0.0/8', '10.0.0.300')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.requestIP('10.0.0.0/8', '')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.releaseIP('10.0.0.0/8', 'nope')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.releaseIP('nope', '10.0.0.1')).toThrow(code(ERR_INVALID_CIDR))
    expect(allocator.toJSON().pools).toEqual([])
  })

  it('refuses an address of the other family', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.requestIP('10.0.0.0/8', '::1')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.requestIP('2001:db8::/64', '10.0.0.1')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.requestIP('10.0.0.0/8', '::ffff:10.0.0.1')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.releaseIP('10.0.0.0/8', '::1')).toThrow(code(ERR_INVALID_ADDRESS))
    expect(() => allocator.registerSubnet('10.0.0.0/8', '2001:db8::/64')).toThrow(code(ERR_BAD_SUBNET))
  })

  it('leaves no pool behind after a failed request, so registerSubnet still works', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.requestIP('10.0.0.0/24', '10.0.1.1')).toThrow(code(ERR_IP_OUT_OF_RANGE))
    expect(() => allocator.requestIP('10.0.0.0/24', '10.0.0.0')).toThrow(code(ERR_IP_OUT_OF_RANGE))
    expect(() => allocator.requestIP('10.0.0.0/24', '10.0.0.255')).toThrow(code(ERR_IP_OUT_OF_RANGE))
    allocator.registerSubnet('10.0.0.0/24', '10.0.0.128/25')
    expect(allocator.requestIP('10.0.0.0/24')).toBe('10.0.0.129')
  })

  it('requires registerSubnet before the first request', () => {
    const allocator = new IPAllocator()
    allocator.requestIP('10.0.0.0/24')
    expect(() => allocator.registerSubnet('10.0.0.0/24', '10.0.0.0/25')).toThrow(code(ERR_NETWORK_ALREADY_REGISTERED))
  })

  it('treats unknown releases as no-ops', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.releaseIP('10.0.0.0/24', '10.0.0.1')).not.toThrow()
    allocator.requestIP('10.0.0.0/24')
    expect(() => allocator.releaseIP('10.0.0.0/24', '10.0.0.99')).not.toThrow()
    expect(() => allocator.releaseIP('10.0.0.0/24', '10.9.9.9')).not.toThrow()
    expect(() => allocator.releaseIP('10.0.0.0/24', '10.0.0.0')).not.toThrow()
    expect(allocator.requestIP('10.0.0.0/24')).toBe('10.0.0.2')
  })

  it('messages name the network and keep the seed wording', () => {
    const allocator = new IPAllocator()
    allocator.requestIP('10.0.0.0/30', '10.0.0.1')
    allocator.requestIP('10.0.0.0/30', '10.0.0.2')
    const cases: [() => unknown, string][] = [
      [() => allocator.requestIP('10.0.0.1/30'), 'no available ip addresses on network'],
      [() => allocator.requestIP('10.0.0.0/30', '10.0.0.1'), 'ip already allocated'],
      [() => allocator.requestIP('10.0.0.0/30', '10.0.0.3'), 'requested ip is out of range 10.0.0.1-10.0.0.2'],
      [() => allocator.registerSubnet('10.0.0.0/30', '10.0.0.0/30'), 'network already registered'],
      [() => allocator.registerSubnet('10.1.0.0/24', '10.1.0.0/23'), 'network does not contain specified subnet'],
    ]
    for (const [run, text] of cases) {
      try {
        run()
        expect.unreachable()
      } catch (err) {
        expect(err).toBeInstanceOf(IPAllocatorError)
        expect((err as Error).message).toContain(text)
        expect((err as Error).message).toMatch(/10\.[01]\.0\.0\/(30|24)/)
      }
    }
  })

  it('unregisterNetwork forgets a pool', () => {
    const allocator = new IPAllocator()
    allocator.requestIP('10.0.0.0/24')
    allocator.unregisterNetwork('10.0.0.9/24')
    allocator.unregisterNetwork('10.9.0.0/24')
    allocator.registerSubnet('10.0.0.0/24', '10.0.0.16/28')
    expect(allocator.requestIP('10.0.0.0/24')).toBe('10.0.0.17')
  })
})

describe('IPAllocator: /31, /32 and sub-ranges', () => {
  it('hands out both addresses of a /31 and /127 (RFC 3021, RFC 6164)', () => {
    const allocator = new IPAllocator()
    expect(requestMany(allocator, '10.0.0.1/31', 2)).toEqual(['10.0.0.0', '10.0.0.1'])
    expect(() => allocator.requestIP('10.0.0.0/31')).toThrow(code(ERR_NO_AVAILABLE_IPS))
    expect(requestMany(allocator, '2001:db8::/127', 2)).toEqual(['2001:db8::', '2001:db8::1'])
  })

  it('hands out the single address of a /32 and /128', () => {
    const allocator = new IPAllocator()
    expect(allocator.requestIP('10.0.0.7/32')).toBe('10.0.0.7')
    expect(() => allocator.requestIP('10.0.0.7/32')).toThrow(code(ERR_NO_AVAILABLE_IPS))
    allocator.releaseIP('10.0.0.7/32', '10.0.0.7')
    expect(allocator.requestIP('10.0.0.7/32', '10.0.0.7')).toBe('10.0.0.7')
    expect(allocator.requestIP('2001:db8::7/128')).toBe('2001:db8::7')
  })

  it('limits a sub-range to the subnet minus its first and last address', () => {
    const allocator = new IPAllocator()
    allocator.registerSubnet('10.0.0.0/24', '10.0.0.128/25')
    expect(() => allocator.requestIP('10.0.0.0/24', '10.0.0.128')).toThrow(code(ERR_IP_OUT_OF_RANGE))
    expect(() => allocator.requestIP('10.0.0.0/24', '10.0.0.255')).toThrow(code(ERR_IP_OUT_OF_RANGE))
    expect(allocator.requestIP('10.0.0.0/24', '10.0.0.254')).toBe('10.0.0.254')
    expect(allocator.requestIP('10.0.0.0/24')).toBe('10.0.0.129')
  })

  it('accepts a /32 or /31 sub-range inside the host range, and the whole network', () => {
    const allocator = new IPAllocator()
    allocator.registerSubnet('10.0.0.0/24', '10.0.0.9/32')
    expect(allocator.requestIP('10.0.0.0/24')).toBe('10.0.0.9')
    expect(() => allocator.requestIP('10.0.0.0/24')).toThrow(code(ERR_NO_AVAILABLE_IPS))
    allocator.registerSubnet('10.0.1.0/24', '10.0.1.4/31')
    expect(requestMany(allocator, '10.0.1.0/24', 2)).toEqual(['10.0.1.4', '10.0.1.5'])
    allocator.registerSubnet('10.0.2.0/24', '10.0.2.0/24')
    expect(allocator.requestIP('10.0.2.0/24')).toBe('10.0.2.1')
    allocator.registerSubnet('2001:db8::/64', '2001:db8::100/120')
    expect(allocator.requestIP('2001:db8::/64')).toBe('2001:db8::101')
  })

  it('refuses sub-ranges that reach the network or broadcast address', () => {
    const allocator = new IPAllocator()
    expect(() => allocator.registerSubnet('10.0.0.0/24', '10.0.0.0/31')).toThrow(code(ERR_BAD_SUBNET))
    expect(() => allocator.registerSubnet('10.0.0.0/24', '10.0.0.255/32')).toThrow(code(ERR_BAD_SUBNET))
    expect(() => allocator.registerSubnet('10.0.0.0/24', '10.0.1.0/25')).toThrow(code(ERR_BAD_SUBNET))
  })
})

describe('IPAllocator: scale', () => {
  it('finds the one free address of a full /8 at once', () => {
    const allocator = IPAllocator.fromJSON({
      version: 1,
      pools: [{ network: '10.0.0.0/8', last: '10.255.255.254', allocated: ['10.0.0.1-10.255.255.254'] }],
    })
    expect(() => allocator.requestIP('10.0.0.0/8')).toThrow(code(ERR_NO_AVAILABLE_IPS))
    for (const ip of ['10.200.1.1', '10.0.0.1', '10.255.255.254', '10.128.0.0']) {
      allocator.releaseIP('10.0.0.0/8', ip)
      const started = performance.now()
      expect(allocator.requestIP('10.0.0.0/8')).toBe(ip)
      expect(performance.now() - started).toBeLessThan(50)
    }
  })

  it('works anywhere in an IPv6 /64 and in a /0', () => {
    const allocator = new IPAllocator()
    expect(allocator.requestIP('2001:db8::/64', '2001:db8::ffff:ffff:ffff:fffe')).toBe('2001:db8::ffff:ffff:ffff:fffe')
    expect(() => allocator.requestIP('2001:db8::/64', '2001:db8::ffff:ffff:ffff:ffff')).toThrow(
      code(ERR_IP_OUT_OF_RANGE),
    )
    expect(allocator.requestIP('2001:db8::/64', '2001:db8::2')).toBe('2001:db8::2')
    expect(requestMany(allocator, '2001:db8::/64', 3)).toEqual(['2001:db8::1', '2001:db8::3', '2001:db8::4'])
    expect(allocator.requestIP('::/0')).toBe('::1')
    expect(allocator.requestIP('0.0.0.0/0')).toBe('0.0.0.1')
    expect(allocator.requestIP('0.0.0.0/0', '255.255.255.254')).toBe('255.255.255.254')
  })
})
