import { describe, expect, it } from 'vitest'
import { canonicalCIDR, containsAddress, hostRange, networkRange, nthHost, parseCIDR } from './cidr.js'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, ERR_IP_OUT_OF_RANGE } from './errors.js'

describe('parseCIDR', () => {
  it('returns a typed, canonical description', () => {
    expect(parseCIDR('192.168.0.1/24')).toEqual({
      family: 4,
      prefixLength: 24,
      address: '192.168.0.1',
      network: '192.168.0.0',
      last: '192.168.0.255',
      cidr: '192.168.0.0/24',
      addressValue: 0xc0a80001n,
      networkValue: 0xc0a80000n,
      lastValue: 0xc0a800ffn,
      size: 256n,
    })
    const v6 = parseCIDR('2A00:1450:0::1/64')
    expect(v6.family).toBe(6)
    expect(v6.address).toBe('2a00:1450::1')
    expect(v6.cidr).toBe('2a00:1450::/64')
    expect(v6.last).toBe('2a00:1450::ffff:ffff:ffff:ffff')
    expect(v6.size).toBe(1n << 64n)
  })

  it('accepts /0 and full-length prefixes', () => {
    expect(parseCIDR('10.1.2.3/0').cidr).toBe('0.0.0.0/0')
    expect(parseCIDR('10.1.2.3/32').cidr).toBe('10.1.2.3/32')
    expect(parseCIDR('::1/128').cidr).toBe('::1/128')
    expect(parseCIDR('ff::1/0').lastValue).toBe((1n << 128n) - 1n)
  })

  it.each([
    '',
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/024',
    '10.0.0.0/2 4',
    '10.0.0.0/24/1',
    '10.0.0/24',
    '::/129',
    'fe80::1%eth0/64',
    '/24',
    'a/b',
  ])('refuses %j with ERR_INVALID_CIDR', (text) => {
    expect(() => parseCIDR(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
  })

  it('refuses non-strings with ERR_INVALID_CIDR', () => {
    expect(() => parseCIDR(undefined as unknown as string)).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
  })

  it('canonicalizes', () => {
    expect(canonicalCIDR('192.168.0.1/24')).toBe('192.168.0.0/24')
    expect(canonicalCIDR('2001:DB8::1/48')).toBe('2001:db8::/48')
  })
})

describe('networkRange (seed TestNetworkRange)', () => {
  it.each([
    ['192.168.0.1/24', '192.168.0.0', '192.168.0.255'],
    ['10.0.0.1/8', '10.0.0.0', '10.255.255.255'],
    ['10.1.2.3/8', '10.0.0.0', '10.255.255.255'],
    ['10.1.2.3/32', '10.1.2.3', '10.1.2.3'],
    ['10.1.2.3/31', '10.1.2.2', '10.1.2.3'],
    ['10.1.2.3/26', '10.1.2.0', '10.1.2.63'],
    ['2a00:1450::1/64', '2a00:1450::', '2a00:1450::ffff:ffff:ffff:ffff'],
  ])('%s spans %s … %s', (cidr, first, last) => {
    expect(networkRange(cidr)).toEqual({ first, last })
  })

  it('gives the seed network sizes', () => {
    expect(parseCIDR('192.168.0.1/24').size).toBe(256n)
    expect(parseCIDR('10.0.0.1/8').size).toBe(16777216n)
    expect(parseCIDR('10.1.2.3/32').size).toBe(1n)
    expect(parseCIDR('10.1.2.3/31').size).toBe(2n)
    expect(parseCIDR('10.1.2.3/26').size).toBe(64n)
  })
})

describe('hostRange', () => {
  it.each([
    ['192.168.0.1/24', '192.168.0.1', '192.168.0.254'],
    ['10.0.0.0/30', '10.0.0.1', '10.0.0.2'],
    ['10.0.0.0/31', '10.0.0.0', '10.0.0.1'],
    ['10.0.0.7/32', '10.0.0.7', '10.0.0.7'],
    ['2001:db8::/64', '2001:db8::1', '2001:db8::ffff:ffff:ffff:fffe'],
    ['2001:db8::/127', '2001:db8::', '2001:db8::1'],
    ['2001:db8::5/128', '2001:db8::5', '2001:db8::5'],
  ])('%s hands out %s … %s', (cidr, first, last) => {
    expect(hostRange(cidr)).toEqual({ first, last })
  })
})

describe('nthHost', () => {
  it('counts from the first host', () => {
    expect(nthHost('172.17.0.0/16', 1)).toBe('172.17.0.1')
    expect(nthHost('172.17.0.5/16', 2)).toBe('172.17.0.2')
    expect(nthHost('172.17.0.0/16', 256n)).toBe('172.17.1.0')
    expect(nthHost('2001:db8::/64', 1)).toBe('2001:db8::1')
    expect(nthHost('10.0.0.0/31', 1)).toBe('10.0.0.0')
    expect(nthHost('10.0.0.9/32', 1)).toBe('10.0.0.9')
  })

  it('counts back from the last host with negative n', () => {
    expect(nthHost('192.168.0.0/24', -1)).toBe('192.168.0.254')
    expect(nthHost('192.168.0.0/24', -254)).toBe('192.168.0.1')
  })

  it('refuses hosts the network does not have', () => {
    for (const n of [0, 255, -255, 1.5, 0n]) {
      expect(() => nthHost('192.168.0.0/24', n)).toThrow(expect.objectContaining({ code: ERR_IP_OUT_OF_RANGE }))
    }
    expect(() => nthHost('10.0.0.9/32', 2)).toThrow(expect.objectContaining({ code: ERR_IP_OUT_OF_RANGE }))
  })
})

describe('containsAddress', () => {
  it('checks the whole network, same family', () => {
    expect(containsAddress('192.168.0.1/24', '192.168.0.0')).toBe(true)
    expect(containsAddress('192.168.0.1/24', '192.168.0.255')).toBe(true)
    expect(containsAddress('192.168.0.1/24', '192.168.1.0')).toBe(false)
    expect(containsAddress('::/0', '1.2.3.4')).toBe(false)
    expect(containsAddress('::/0', 'ffff::')).toBe(true)
  })

  it('throws for malformed text', () => {
    expect(() => containsAddress('192.168.0.1/24', 'x')).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })
})
