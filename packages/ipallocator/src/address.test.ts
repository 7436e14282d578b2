import { describe, expect, it } from 'vitest'
import {
  addressToBigInt,
  bigIntToAddress,
  canonicalAddress,
  formatAddress,
  isIPv4,
  isIPv6,
  parseAddress,
} from './address.js'
import { ERR_INVALID_ADDRESS } from './errors.js'
import { ipv4ToNumber, numberToIPv4, parseIPv4 } from './ipv4.js'
import { bigIntToIPv6, ipv6ToBigInt, parseIPv6 } from './ipv6.js'

describe('IPv4 conversions', () => {
  it('converts 127.0.0.1 to 0x7f000001 and back (seed TestConversion)', () => {
    expect(ipv4ToNumber('127.0.0.1')).toBe(0x7f000001)
    expect(numberToIPv4(0x7f000001)).toBe('127.0.0.1')
    expect(addressToBigInt('127.0.0.1')).toBe(0x7f000001n)
    expect(bigIntToAddress(0x7f000001n, 4)).toBe('127.0.0.1')
  })

  it('handles the extremes', () => {
    expect(ipv4ToNumber('0.0.0.0')).toBe(0)
    expect(ipv4ToNumber('255.255.255.255')).toBe(0xffffffff)
    expect(numberToIPv4(0xffffffff)).toBe('255.255.255.255')
    expect(numberToIPv4(0)).toBe('0.0.0.0')
  })

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.-4',
    '01.2.3.4',
    '1.2.3.04',
    '1..3.4',
    '.1.2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
    '1.2.3.4/32',
    '1.2.3.a',
    '1000.2.3.4',
  ])('refuses %j', (text) => {
    expect(parseIPv4(text)).toBe(-1)
    expect(() => ipv4ToNumber(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })

  it('refuses values outside 0 … 2³²−1', () => {
    for (const value of [-1, 2 ** 32, 1.5, Number.NaN]) {
      expect(() => numberToIPv4(value)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    }
  })
})

describe('IPv6 conversions', () => {
  it('converts 2a00:1450::1 and its neighbours (seed TestConversionIPv6)', () => {
    const value = ipv6ToBigInt('2a00:1450::1')
    expect(value).toBe(0x2a001450000000000000000000000001n)
    expect(bigIntToIPv6(value)).toBe('2a00:1450::1')
    expect(bigIntToIPv6(value + 1n)).toBe('2a00:1450::2')
    expect(bigIntToIPv6(value + 0x10000n)).toBe('2a00:1450::1:1')
  })

  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['1::', 1n << 112n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', (1n << 128n) - 1n],
    ['2001:DB8::A', (0x20010db8n << 96n) | 0xan],
    ['2001:0db8:0000:0000:0000:0000:0000:000a', (0x20010db8n << 96n) | 0xan],
    ['::ffff:192.168.0.1', 0xffffc0a80001n],
    ['::1.2.3.4', 0x01020304n],
    ['1:2:3:4:5:6:1.2.3.4', 0x00010002000300040005000601020304n],
    ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
    ['::2:3:4:5:6:7:8', 0x00000002000300040005000600070008n],
  ])('parses %s', (text, value) => {
    expect(parseIPv6(text)).toBe(value)
  })

  it.each([
    '',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    '12345::',
    'g::',
    ':1::',
    '::1:',
    'fe80::1%eth0',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '::256.0.0.1',
    '1:2:3:4:5:6:7:1.2.3.4',
    '127.0.0.1',
  ])('refuses %j', (text) => {
    expect(parseIPv6(text)).toBe(-1n)
    expect(() => ipv6ToBigInt(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })

  it.each([
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8:0:0:1:0:0:0', '2001:db8:0:0:1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['2A00:1450:0000::0001', '2a00:1450::1'],
    ['::ffff:c0a8:1', '::ffff:192.168.0.1'],
  ])('formats %s canonically as %s (RFC 5952)', (text, canonical) => {
    expect(canonicalAddress(text)).toBe(canonical)
  })

  it('refuses values outside 0 … 2¹²⁸−1', () => {
    expect(() => bigIntToIPv6(-1n)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    expect(() => bigIntToIPv6(1n << 128n)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })
})

describe('family-neutral helpers', () => {
  it('parses either family', () => {
    expect(parseAddress('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n })
    expect(parseAddress('::a')).toEqual({ family: 6, value: 10n })
    expect(formatAddress(4, 0x0a000001n)).toBe('10.0.0.1')
    expect(formatAddress(6, 10n)).toBe('::a')
  })

  it('rejects what is neither, with a code', () => {
    for (const text of ['', 'localhost', '10.0.0.1/8', '10.0.0.256']) {
      expect(() => parseAddress(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    }
    expect(() => parseAddress(42 as unknown as string)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })

  it('checks the range of bigIntToAddress per family', () => {
    expect(() => bigIntToAddress(1n << 32n, 4)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    expect(bigIntToAddress(1n << 32n, 6)).toBe('::1:0:0')
  })

  it('tells the families apart', () => {
    expect(isIPv4('1.2.3.4')).toBe(true)
    expect(isIPv4('::1')).toBe(false)
    expect(isIPv6('::1')).toBe(true)
    expect(isIPv6('1.2.3.4')).toBe(false)
    expect(canonicalAddress('10.1.2.3')).toBe('10.1.2.3')
  })

  it('round-trips every canonical IPv6 form it produces', () => {
    for (let i = 0; i < 2000; i++) {
      let value = 0n
      for (let g = 0; g < 8; g++)
        value = (value << 16n) | BigInt([0, 0, 1, 0xffff, i & 0xfff][(i * 7 + g * 3) % 5] as number)
      const text = bigIntToIPv6(value)
      expect(ipv6ToBigInt(text)).toBe(value)
      expect(canonicalAddress(text)).toBe(text)
    }
  })
})
