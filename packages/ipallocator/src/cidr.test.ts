import * as ip from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import { canonicalCIDR, containsAddress, hostRange, networkRange, nthHost, parseCIDR } from './cidr.js'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, ERR_IP_OUT_OF_RANGE } from './errors.js'

// parseCIDR, canonicalCIDR and containsAddress are @cnm/ip's (tested there, with every refusal):
// here only that this package re-exports those very functions and that their errors carry the
// codes this package exports.
describe('the re-exports from @cnm/ip', () => {
  it('are the same functions', () => {
    expect(parseCIDR).toBe(ip.parseCIDR)
    expect(canonicalCIDR).toBe(ip.canonicalCIDR)
    expect(containsAddress).toBe(ip.containsAddress)
  })

  it("fail with this package's codes", () => {
    expect(() => parseCIDR('10.0.0.0/33')).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
    expect(() => containsAddress('192.168.0.1/24', 'x')).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
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
