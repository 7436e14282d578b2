import { describe, expect, it } from 'vitest'
import {
  addressBits,
  addressFromValue,
  canonicalAddress,
  formatAddress,
  isIP,
  isIPv4,
  isIPv4Mapped,
  isIPv6,
  isLoopback,
  isUnspecified,
  parseAddress,
  tryParseAddress,
  unmapped,
} from './address.js'
import { ERR_INVALID_ADDRESS, InvalidAddressError } from './errors.js'

describe('parseAddress', () => {
  it('parses either family into family, value and canonical text', () => {
    expect(parseAddress('10.0.0.1')).toEqual({ family: 4, value: 0x0a000001n, text: '10.0.0.1' })
    expect(parseAddress('::a')).toEqual({ family: 6, value: 10n, text: '::a' })
    expect(parseAddress('2001:DB8:0:0:0:0:0:1')).toEqual({
      family: 6,
      value: (0x20010db8n << 96n) | 1n,
      text: '2001:db8::1',
    })
  })

  it('keeps an IPv4-mapped address as IPv6, written with its dotted quad', () => {
    for (const text of ['::ffff:10.0.0.1', '::FFFF:a00:1', '0:0:0:0:0:ffff:10.0.0.1', '::ffff:0a00:0001']) {
      expect(parseAddress(text)).toEqual({ family: 6, value: 0xffff0a000001n, text: '::ffff:10.0.0.1' })
    }
  })

  it.each(['', 'localhost', '10.0.0.1/8', '10.0.0.256', 'fe80::1%eth0', '[::1]', '::1 ', '1.2.3', '01.2.3.4'])(
    'rejects %j with ERR_INVALID_ADDRESS naming it',
    (text) => {
      expect(tryParseAddress(text)).toBeUndefined()
      let caught: unknown
      try {
        parseAddress(text)
      } catch (err) {
        caught = err
      }
      expect(caught).toBeInstanceOf(InvalidAddressError)
      expect(caught).toMatchObject({ code: ERR_INVALID_ADDRESS, kind: 'invalid', name: 'InvalidAddressError' })
      expect((caught as Error).message).toContain(JSON.stringify(text))
    },
  )

  it('rejects what is not a string', () => {
    for (const value of [42, null, undefined, {}, 10n]) {
      expect(tryParseAddress(value)).toBeUndefined()
      expect(() => parseAddress(value as string)).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
    }
  })
})

describe('predicates', () => {
  it('tells the families apart', () => {
    expect(isIPv4('1.2.3.4')).toBe(true)
    expect(isIPv4('::1')).toBe(false)
    expect(isIPv6('::1')).toBe(true)
    expect(isIPv6('::ffff:1.2.3.4')).toBe(true)
    expect(isIPv6('1.2.3.4')).toBe(false)
    expect(isIP('1.2.3.4')).toBe(true)
    expect(isIP('::')).toBe(true)
    expect(isIP('x')).toBe(false)
    expect(isIP(4)).toBe(false)
    expect(addressBits(4)).toBe(32)
    expect(addressBits(6)).toBe(128)
  })

  it('knows the loopback addresses', () => {
    for (const text of ['127.0.0.1', '127.255.0.9', '::1', '0:0::1']) expect(isLoopback(parseAddress(text))).toBe(true)
    for (const text of ['128.0.0.1', '126.255.255.255', '::', '::2', '::ffff:127.0.0.1', '::127.0.0.1']) {
      expect(isLoopback(parseAddress(text))).toBe(false)
    }
    expect(isLoopback(unmapped(parseAddress('::ffff:127.0.0.1')))).toBe(true)
  })

  it('knows the unspecified addresses', () => {
    expect(isUnspecified(parseAddress('0.0.0.0'))).toBe(true)
    expect(isUnspecified(parseAddress('0:0::0'))).toBe(true)
    expect(isUnspecified(parseAddress('::1'))).toBe(false)
    expect(isUnspecified(parseAddress('::ffff:0.0.0.0'))).toBe(false)
  })
})

describe('IPv4-mapped addresses', () => {
  it('unmaps only on request', () => {
    const mapped = parseAddress('::ffff:10.0.0.1')
    expect(isIPv4Mapped(mapped)).toBe(true)
    expect(unmapped(mapped)).toEqual({ family: 4, value: 0x0a000001n, text: '10.0.0.1' })
    expect(unmapped(parseAddress('::ffff:0.0.0.0'))).toEqual(parseAddress('0.0.0.0'))
  })

  it('leaves every other address as it is', () => {
    for (const text of ['10.0.0.1', '::1', '::10.0.0.1', '::1:ffff:a00:1', '64:ff9b::10.0.0.1']) {
      const address = parseAddress(text)
      expect(isIPv4Mapped(address)).toBe(false)
      expect(unmapped(address)).toBe(address)
    }
  })
})

describe('formatting values', () => {
  it('formats per family and checks the range', () => {
    expect(formatAddress(4, 0x0a000001n)).toBe('10.0.0.1')
    expect(formatAddress(6, 10n)).toBe('::a')
    expect(formatAddress(6, 1n << 32n)).toBe('::1:0:0')
    expect(addressFromValue(6, 0xffff0a000001n)).toEqual(parseAddress('::ffff:10.0.0.1'))
    for (const [family, value] of [
      [4, 1n << 32n],
      [4, -1n],
      [6, 1n << 128n],
      [6, -1n],
      [4, 1],
      [5, 1n],
    ] as const) {
      expect(() => formatAddress(family as 4, value as bigint)).toThrow(
        expect.objectContaining({ code: ERR_INVALID_ADDRESS }),
      )
    }
    expect(() => formatAddress(4, 1n << 32n)).toThrow('invalid IPv4 address value: 4294967296')
  })

  it('writes canonical text', () => {
    expect(canonicalAddress('10.1.2.3')).toBe('10.1.2.3')
    expect(canonicalAddress('2A00:1450:0000::0001')).toBe('2a00:1450::1')
    expect(() => canonicalAddress('10.1.2')).toThrow(expect.objectContaining({ code: ERR_INVALID_ADDRESS }))
  })
})
