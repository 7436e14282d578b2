import { describe, expect, it } from 'vitest'
import { ERR_INVALID_ADDRESS } from './errors.js'
import { ipv4ToNumber, numberToIPv4, tryIPv4ToNumber } from './ipv4.js'

describe('IPv4 numbers', () => {
  it('converts 127.0.0.1 to 0x7f000001 and back', () => {
    expect(ipv4ToNumber('127.0.0.1')).toBe(0x7f000001)
    expect(numberToIPv4(0x7f000001)).toBe('127.0.0.1')
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
    '1.2.3.00',
    '1..3.4',
    '.1.2.3',
    '1.2.3.4.',
    ' 1.2.3.4',
    '1.2.3.4 ',
    '1.2.3.4/32',
    '1.2.3.a',
    '1000.2.3.4',
    '0x1.2.3.4',
    '１.2.3.4',
  ])('refuses %j', (text) => {
    expect(tryIPv4ToNumber(text)).toBe(-1)
    expect(() => ipv4ToNumber(text)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS, kind: 'invalid' }))
  })

  it('refuses values outside 0 … 2³²−1 and non-integers', () => {
    for (const value of [-1, 2 ** 32, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
      expect(() => numberToIPv4(value)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    }
  })

  it('refuses a non-string with a code', () => {
    expect(() => ipv4ToNumber(7 as unknown as string)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })
})
