import * as ip from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import * as api from './index.js'

// The parsers are @cnm/ip's (tested there); these tests pin the names this package exports.
describe('address helpers (re-exported from @cnm/ip)', () => {
  it('converts both families to numbers and back', () => {
    expect(api.ipv4ToNumber('127.0.0.1')).toBe(0x7f000001)
    expect(api.numberToIPv4(0x7f000001)).toBe('127.0.0.1')
    expect(api.addressToBigInt('127.0.0.1')).toBe(0x7f000001n)
    expect(api.bigIntToAddress(0x7f000001n, 4)).toBe('127.0.0.1')
    expect(api.ipv6ToBigInt('2a00:1450::1')).toBe(0x2a001450000000000000000000000001n)
    expect(api.bigIntToIPv6(0x2a001450000000000000000000000001n)).toBe('2a00:1450::1')
  })

  it('parses either family, with the canonical text', () => {
    expect(api.parseAddress('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n, text: '10.0.0.1' })
    expect(api.parseAddress('::A')).toEqual({ family: 6, value: 10n, text: '::a' })
    expect(api.canonicalAddress('2A00:1450:0000::0001')).toBe('2a00:1450::1')
    expect(api.canonicalAddress('::ffff:c0a8:1')).toBe('::ffff:192.168.0.1')
    expect(api.isIPv4('1.2.3.4')).toBe(true)
    expect(api.isIPv6('1.2.3.4')).toBe(false)
  })

  it('rejects bad text and values with the codes and classes of @cnm/ip', () => {
    for (const text of ['', 'localhost', '10.0.0.1/8', '10.0.0.256', '01.2.3.4', 'fe80::1%eth0']) {
      expect(() => api.parseAddress(text)).toThrow(expect.objectContaining({ code: api.ERR_INVALID_ADDRESS }))
      expect(() => api.parseAddress(text)).toThrow(ip.InvalidAddressError)
    }
    expect(() => api.bigIntToAddress(1n << 32n, 4)).toThrow(expect.objectContaining({ code: api.ERR_INVALID_ADDRESS }))
    expect(api.bigIntToAddress(1n << 32n, 6)).toBe('::1:0:0')
    expect(() => api.numberToIPv4(2 ** 32)).toThrow(expect.objectContaining({ code: api.ERR_INVALID_ADDRESS }))
    expect(() => api.bigIntToIPv6(-1n)).toThrow(expect.objectContaining({ code: api.ERR_INVALID_ADDRESS }))
  })

  it('is the same code and class as @cnm/ip', () => {
    expect(api.ERR_INVALID_ADDRESS).toBe(ip.ERR_INVALID_ADDRESS)
    expect(api.ERR_INVALID_CIDR).toBe(ip.ERR_INVALID_CIDR)
    expect(api.InvalidAddressError).toBe(ip.InvalidAddressError)
    expect(api.InvalidCIDRError).toBe(ip.InvalidCIDRError)
    expect(api.parseCIDR).toBe(ip.parseCIDR)
  })
})
