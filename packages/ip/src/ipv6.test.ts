import { describe, expect, it } from 'vitest'
import { ERR_INVALID_ADDRESS } from './errors.js'
import { bigIntToIPv6, ipv6ToBigInt, tryIPv6ToBigInt } from './ipv6.js'

describe('IPv6 values', () => {
  it('converts 2a00:1450::1 and its neighbours', () => {
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
    ['::FFFF:c0a8:1', 0xffffc0a80001n],
    ['::1.2.3.4', 0x01020304n],
    ['1:2:3:4:5:6:1.2.3.4', 0x00010002000300040005000601020304n],
    ['1::5:6:1.2.3.4', 0x00010000000000000005000601020304n],
    ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
    ['::2:3:4:5:6:7:8', 0x00000002000300040005000600070008n],
    ['1:2:3:4:5:6:7:8', 0x00010002000300040005000600070008n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255', (1n << 128n) - 1n],
  ])('parses %s', (text, value) => {
    expect(tryIPv6ToBigInt(text)).toBe(value)
    expect(ipv6ToBigInt(text)).toBe(value)
  })

  it.each([
    '',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    '::1::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '12345::',
    '00000::',
    'g::',
    ':1::',
    '::1:',
    '1:',
    'fe80::1%eth0',
    '[::1]',
    ' ::1',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '::1.2.3',
    '::256.0.0.1',
    '::01.2.3.4',
    '::a.2.3.4',
    '::1.2.3.4.5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4::',
    '127.0.0.1',
    '::/0',
  ])('refuses %j', (text) => {
    expect(tryIPv6ToBigInt(text)).toBe(-1n)
    expect(() => ipv6ToBigInt(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })

  it.each([
    [0n, '::'],
    [1n, '::1'],
    [0x20010db8000000000001000000000001n, '2001:db8::1:0:0:1'],
    [0x20010db8000000010001000100010001n, '2001:db8:0:1:1:1:1:1'],
    [0x20010db8000000000001000000000000n, '2001:db8:0:0:1::'],
    [0x00010000000100000001000000010000n, '1:0:1:0:1:0:1:0'],
    [0xffffc0a80001n, '::ffff:192.168.0.1'],
    [0xffff00000000n, '::ffff:0.0.0.0'],
    [0x0a000001n, '::a00:1'],
    [0x0001ffff0a000001n, '::1:ffff:a00:1'],
  ])('formats %s as %s (RFC 5952)', (value, text) => {
    expect(bigIntToIPv6(value)).toBe(text)
  })

  it('refuses values outside 0 … 2¹²⁸−1', () => {
    for (const value of [-1n, 1n << 128n, 5 as unknown as bigint]) {
      expect(() => bigIntToIPv6(value)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    }
  })
})
