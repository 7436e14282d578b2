import { describe, expect, it } from 'vitest'
import { parseAddress } from './address.js'
import {
  canonicalCIDR,
  containsAddress,
  containsPrefix,
  hostBounds,
  networksOverlap,
  parseCIDR,
  prefixOf,
  tryParseCIDR,
} from './cidr.js'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, InvalidCIDRError } from './errors.js'

describe('parseCIDR', () => {
  it('keeps the address as written and the network', () => {
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

  it('reads an IPv4-mapped prefix as IPv6', () => {
    expect(parseCIDR('::ffff:10.0.0.0/104')).toMatchObject({ family: 6, cidr: '::ffff:10.0.0.0/104' })
  })

  it.each([
    '',
    '10.0.0.0',
    '10.0.0.0/',
    '10.0.0.0/33',
    '10.0.0.0/-1',
    '10.0.0.0/+1',
    '10.0.0.0/024',
    '10.0.0.0/00',
    '10.0.0.0/2 4',
    '10.0.0.0/24/1',
    '10.0.0.0/1000',
    '10.0.0/24',
    '::/129',
    'fe80::1%eth0/64',
    '/24',
    'a/b',
    ' 10.0.0.0/8',
  ])('refuses %j with ERR_INVALID_CIDR naming it', (text) => {
    expect(tryParseCIDR(text)).toBeUndefined()
    let caught: unknown
    try {
      parseCIDR(text)
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(InvalidCIDRError)
    expect(caught).toMatchObject({ code: ERR_INVALID_CIDR, kind: 'invalid', name: 'InvalidCIDRError' })
    expect((caught as Error).message).toContain(JSON.stringify(text))
  })

  it('refuses non-strings with ERR_INVALID_CIDR', () => {
    expect(tryParseCIDR(24)).toBeUndefined()
    expect(() => parseCIDR(undefined as unknown as string)).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
  })

  it('canonicalizes', () => {
    expect(canonicalCIDR('192.168.0.1/24')).toBe('192.168.0.0/24')
    expect(canonicalCIDR('2001:DB8::1/48')).toBe('2001:db8::/48')
  })
})

describe('prefixOf', () => {
  it('makes a prefix of an address value', () => {
    expect(prefixOf(parseAddress('10.1.2.3'), 8)).toEqual(parseCIDR('10.1.2.3/8'))
    expect(prefixOf(parseAddress('fd00::1'), 64).cidr).toBe('fd00::/64')
  })

  it.each([33, -1, 1.5, Number.NaN])('refuses length %s for IPv4', (length) => {
    expect(() => prefixOf(parseAddress('10.0.0.0'), length)).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CIDR }),
    )
  })
})

describe('containment and overlap', () => {
  it('contains the addresses of the network, of its family only', () => {
    const net = parseCIDR('10.0.0.1/24')
    expect(containsAddress(net, parseAddress('10.0.0.0'))).toBe(true)
    expect(containsAddress(net, parseAddress('10.0.0.255'))).toBe(true)
    expect(containsAddress(net, parseAddress('10.0.1.0'))).toBe(false)
    expect(containsAddress(net, parseAddress('::ffff:10.0.0.1'))).toBe(false)
    expect(containsAddress('::ffff:0:0/96', '::ffff:10.0.0.1')).toBe(true)
    expect(containsAddress('2001:db8::/32', '2001:db8:ffff::1')).toBe(true)
  })

  it('parses text first, with the codes of the parsers', () => {
    expect(() => containsAddress('10.0.0.0', '10.0.0.1')).toThrow(expect.objectContaining({ code: ERR_INVALID_CIDR }))
    expect(() => containsAddress('10.0.0.0/8', '10.0.0')).toThrow(
      expect.objectContaining({ code: ERR_INVALID_ADDRESS }),
    )
  })

  it('contains prefixes', () => {
    expect(containsPrefix('10.0.0.0/8', '10.1.0.0/16')).toBe(true)
    expect(containsPrefix('10.0.0.0/8', '10.0.0.0/8')).toBe(true)
    expect(containsPrefix('10.1.0.0/16', '10.0.0.0/8')).toBe(false)
    expect(containsPrefix('10.0.0.0/8', '11.0.0.0/16')).toBe(false)
    expect(containsPrefix('::/0', '10.0.0.0/8')).toBe(false)
  })

  it('overlaps networks that share an address', () => {
    expect(networksOverlap('172.16.0.1/24', '172.16.0.128/25')).toBe(true)
    expect(networksOverlap('172.16.0.0/25', '172.16.0.128/25')).toBe(false)
    expect(networksOverlap('0.0.0.0/0', '10.0.0.0/8')).toBe(true)
    expect(networksOverlap('::ffff:10.0.0.0/104', '10.0.0.0/8')).toBe(false)
    expect(networksOverlap(parseCIDR('fd00::/8'), parseCIDR('fd12::/16'))).toBe(true)
  })

  it('has hosts between network and broadcast, and all of a /31 or /32', () => {
    expect(hostBounds(parseCIDR('10.0.0.0/24'))).toEqual({ first: 0x0a000001n, last: 0x0a0000fen })
    expect(hostBounds(parseCIDR('10.0.0.0/31'))).toEqual({ first: 0x0a000000n, last: 0x0a000001n })
    expect(hostBounds(parseCIDR('10.0.0.7/32'))).toEqual({ first: 0x0a000007n, last: 0x0a000007n })
    expect(hostBounds(parseCIDR('fd00::/127'))).toEqual({ first: 0xfdn << 120n, last: (0xfdn << 120n) + 1n })
  })
})
