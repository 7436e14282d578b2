import { describe, expect, it } from 'vitest'
import { canonicalIP, familyOf, isWildcard, osBindConflicts } from './address.js'
import { ERR_INVALID_ADDRESS } from './errors.js'

describe('canonicalIP', () => {
  it.each([
    [null, '0.0.0.0'],
    [undefined, '0.0.0.0'],
    ['10.0.0.1', '10.0.0.1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:a00:1', '10.0.0.1'],
    ['::ffff:0.0.0.0', '0.0.0.0'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['fe80::1', 'fe80::1'],
  ])('%j is %s', (input, expected) => {
    expect(canonicalIP(input)).toBe(expected)
    expect(canonicalIP(input)).toBe(expected) // and again, from the cache
  })

  it.each(['', 'x', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '::1::', 'fe80::1%lo', '[::1]', '1.2.3.4 '])(
    'rejects %j with ERR_INVALID_ADDRESS naming it',
    (input) => {
      let caught: unknown
      try {
        canonicalIP(input)
      } catch (err) {
        caught = err
      }
      expect(caught).toMatchObject({ code: ERR_INVALID_ADDRESS, address: input })
      expect((caught as Error).message).toContain(JSON.stringify(input))
    },
  )

  it('writes an IPv4-compatible address one way whatever its input form', () => {
    expect(canonicalIP('::10.0.0.1')).toBe(canonicalIP('0:0:0:0:0:0:a00:1'))
  })

  it('rejects a value that is not a string', () => {
    expect(() => canonicalIP(42 as unknown as string)).toThrow(/expected a string/)
  })
})

describe('address helpers', () => {
  it('tells families and wildcards apart', () => {
    expect(familyOf('10.0.0.1')).toBe(4)
    expect(familyOf('::1')).toBe(6)
    expect(isWildcard('0.0.0.0')).toBe(true)
    expect(isWildcard('::')).toBe(true)
    expect(isWildcard('::1')).toBe(false)
  })

  it.each([
    ['10.0.0.1', '10.0.0.1', true],
    ['10.0.0.1', '10.0.0.2', false],
    ['10.0.0.1', '0.0.0.0', true],
    ['0.0.0.0', '10.0.0.1', true],
    ['0.0.0.0', '::1', false],
    ['::1', '0.0.0.0', false],
    ['::1', '::', true],
    ['::', '::1', true],
    ['::1', 'fd00::1', false],
    // a socket on :: is dual-stack unless it set IPV6_V6ONLY, which the tables do not show
    ['10.0.0.1', '::', true],
    ['0.0.0.0', '::', true],
    ['::', '10.0.0.1', true],
  ])('wanting %s while the OS has %s bound conflicts: %s', (wanted, bound, expected) => {
    expect(osBindConflicts(wanted, bound)).toBe(expected)
  })
})
