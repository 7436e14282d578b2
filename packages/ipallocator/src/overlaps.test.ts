import { describe, expect, it } from 'vitest'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, ERR_NAMESERVER_OVERLAPS, ERR_NETWORK_OVERLAPS } from './errors.js'
import { checkNameserverOverlaps, checkRouteOverlaps, networksOverlap } from './overlaps.js'

describe('networksOverlap (seed netutils TestNetworkOverlaps)', () => {
  it.each([
    // netY starts at same IP and ends within netX
    ['172.16.0.1/24', '172.16.0.1/25', true],
    ['2001:db8::1/64', '2001:db8::1/65', true],
    // netY starts within netX and ends at same IP
    ['172.16.0.1/24', '172.16.0.128/25', true],
    ['2001:db8::1/64', '2001:db8:0:0:8000::/65', true],
    // netY starts and ends within netX
    ['172.16.0.1/24', '172.16.0.64/25', true],
    ['2001:db8::1/64', '2001:db8::64/65', true],
    // netY starts at same IP and ends outside of netX
    ['172.16.0.1/24', '172.16.0.1/23', true],
    ['2001:db8::1/64', '2001:db8::1/48', true],
    // netY starts before and ends at same IP of netX
    ['172.16.1.1/24', '172.16.0.1/23', true],
    ['2001:db8:0:1::1/64', '2001:db8::1/63', true],
    // netY starts before and ends outside of netX
    ['172.16.1.1/24', '172.16.0.1/22', true],
    ['2001:db8::1/64', '2001:db8::1/48', true],
    // netY starts and ends before netX
    ['172.16.1.1/25', '172.16.0.1/24', false],
    ['2001:db8:1::1/64', '2001:db8::1/64', false],
    // netX starts and ends before netY
    ['172.16.1.1/25', '172.16.2.1/24', false],
    ['2001:db8::1/64', '2001:db8:1::1/64', false],
  ])('%s and %s overlap: %s', (x, y, expected) => {
    expect(networksOverlap(x, y)).toBe(expected)
    expect(networksOverlap(y, x)).toBe(expected)
  })

  it('never overlaps across families', () => {
    expect(networksOverlap('0.0.0.0/0', '::/0')).toBe(false)
    expect(networksOverlap('::ffff:10.0.0.0/104', '10.0.0.0/8')).toBe(false)
  })

  it('rejects malformed CIDRs', () => {
    expect(() => networksOverlap('10.0.0.0/8', '10.0.0.0')).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
  })
})

describe('checkNameserverOverlaps (seed netutils)', () => {
  it('accepts nameservers outside the network', () => {
    expect(() => checkNameserverOverlaps(['127.0.0.1/32'], '192.168.0.1/24')).not.toThrow()
    expect(() => checkNameserverOverlaps(['10.0.2.3/32', '192.168.102.1/32'], '192.168.102.2/32')).not.toThrow()
    expect(() => checkNameserverOverlaps([], '0.0.0.0/0')).not.toThrow()
  })

  it('refuses a network holding a nameserver', () => {
    expect(() => checkNameserverOverlaps(['192.168.0.1/32'], '192.168.0.1/24')).toThrow(
      expect.objectContaining({
        code: ERR_NAMESERVER_OVERLAPS,
        message: expect.stringContaining('requested network overlaps with nameserver 192.168.0.1/32'),
      }),
    )
    expect(() => checkNameserverOverlaps(['10.0.2.3/32', '192.168.102.1/32'], '10.0.2.3/32')).toThrow(
      expect.objectContaining({ code: ERR_NAMESERVER_OVERLAPS }),
    )
  })

  it('takes plain addresses as host routes', () => {
    expect(() => checkNameserverOverlaps(['8.8.8.8', '192.168.0.53'], '192.168.0.0/24')).toThrow(
      expect.objectContaining({ code: ERR_NAMESERVER_OVERLAPS }),
    )
    expect(() => checkNameserverOverlaps(['2001:db8::53'], '2001:db8::/64')).toThrow(
      expect.objectContaining({ code: ERR_NAMESERVER_OVERLAPS }),
    )
    expect(() => checkNameserverOverlaps(['8.8.8.8', '2001:db8::53'], '192.168.0.0/24')).not.toThrow()
  })

  it('parses every entry before checking', () => {
    expect(() => checkNameserverOverlaps(['192.168.0.1', 'nonsense'], '192.168.0.0/24')).toThrow(
      expect.objectContaining({ code: ERR_INVALID_ADDRESS }),
    )
    expect(() => checkNameserverOverlaps(['1.1.1.1'], 'x/24')).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CIDR }),
    )
  })
})

describe('checkRouteOverlaps (seed netutils)', () => {
  const routes = ['10.0.2.0/32', '10.0.3.0/24', '10.0.42.0/24', '172.16.42.0/24', '192.168.142.0/24']

  it('accepts a network clear of every route', () => {
    expect(() => checkRouteOverlaps(routes, '172.16.0.1/24')).not.toThrow()
  })

  it('refuses a network over a route', () => {
    expect(() => checkRouteOverlaps(routes, '10.0.2.0/24')).toThrow(
      expect.objectContaining({
        code: ERR_NETWORK_OVERLAPS,
        message: '10.0.2.0/24: requested network overlaps with existing network 10.0.2.0/32',
      }),
    )
    expect(() => checkRouteOverlaps(routes, '10.0.0.0/8')).toThrow(
      expect.objectContaining({ code: ERR_NETWORK_OVERLAPS }),
    )
  })

  it('checks IPv6 routes', () => {
    expect(() => checkRouteOverlaps(['2001:db8::/32', '10.0.0.0/8'], '2001:db8:1::/48')).toThrow(
      expect.objectContaining({ code: ERR_NETWORK_OVERLAPS }),
    )
    expect(() => checkRouteOverlaps(['2001:db8::/32'], 'fd00::/8')).not.toThrow()
  })
})
