import { describe, expect, it } from 'vitest'
import { cidrOverlaps, isUnspecified, parseCIDR, parseIP, tryParseIP } from './address.js'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR } from './errors.js'

describe('parseIP', () => {
  it.each([
    ['10.0.0.1', 4, '10.0.0.1'],
    ['FD00:0:0::0001', 6, 'fd00::1'],
    ['::ffff:10.0.0.1', 4, '10.0.0.1'],
    ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'],
    ['::', 6, '::'],
  ])('%s is IPv%i %s', (text, family, address) => {
    expect(parseIP(text, 'host IP')).toEqual({ family, address })
  })

  it.each(['10.0.0.256', 'fe80::1%eth0', '', 'localhost', '1.2.3', 42, undefined])('refuses %j', (text) => {
    expect(tryParseIP(text)).toBeUndefined()
    expect(() => parseIP(text, 'host IP')).toThrow(
      expect.objectContaining({ code: ERR_INVALID_ADDRESS, message: expect.stringContaining('host IP') }),
    )
  })

  it('knows the unspecified addresses', () => {
    expect(isUnspecified('0.0.0.0')).toBe(true)
    expect(isUnspecified('::')).toBe(true)
    expect(isUnspecified('::1')).toBe(false)
  })
})

describe('parseCIDR', () => {
  it.each([
    ['172.18.0.1/16', '172.18.0.0/16'],
    ['10.1.2.3/32', '10.1.2.3/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['FD00:1::1/64', 'fd00:1::/64'],
    ['2001:db8::ffff/112', '2001:db8::/112'],
    ['::/0', '::/0'],
  ])('%s is %s', (text, cidr) => {
    expect(parseCIDR(text).cidr).toBe(cidr)
  })

  it.each(['10.0.0.0/33', 'fd00::/129', '10.0.0.0', '10.0.0.0/', '10.0.0.0/08', '::ffff:10.0.0.0/104', 'x/8', 7])(
    'refuses %j',
    (text) => {
      expect(() => parseCIDR(text, 'subnet of network n')).toThrow(
        expect.objectContaining({ code: ERR_INVALID_CIDR, message: expect.stringContaining('subnet of network n') }),
      )
    },
  )

  it('tells overlapping subnets', () => {
    const c = (t: string) => parseCIDR(t)
    expect(cidrOverlaps(c('10.0.0.0/16'), c('10.0.5.0/24'))).toBe(true)
    expect(cidrOverlaps(c('10.0.5.0/24'), c('10.0.0.0/16'))).toBe(true)
    expect(cidrOverlaps(c('10.0.0.0/24'), c('10.0.1.0/24'))).toBe(false)
    expect(cidrOverlaps(c('fd00::/64'), c('fd00::/48'))).toBe(true)
    expect(cidrOverlaps(c('10.0.0.0/8'), c('::/0'))).toBe(false)
  })
})
