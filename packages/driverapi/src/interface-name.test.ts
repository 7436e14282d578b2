import { describe, expect, it } from 'vitest'
import { ERR_INVALID_INTERFACE_NAME } from './errors.js'
import { ERR_INTERFACE_EXISTS, parseInterfaceName, pickInterfaceName } from './interface-name.js'

describe('parseInterfaceName', () => {
  it('takes the names the kernel takes, and nothing for an absent option', () => {
    expect(parseInterfaceName(undefined)).toBeUndefined()
    for (const n of ['eth0', 'net1', 'a', 'x'.repeat(15), 'eth0.100', 'wlan-0_a']) expect(parseInterfaceName(n)).toBe(n)
  })
  it.each(['', 'x'.repeat(16), '.', '..', 'a/b', 'eth0:1', 'a b', 'a\tb', 'a\u0001', 42, null])(
    'refuses %j with a typed invalid error',
    (bad) => {
      expect(() => parseInterfaceName(bad)).toThrow(
        expect.objectContaining({ code: ERR_INVALID_INTERFACE_NAME, kind: 'invalid' }),
      )
    },
  )
})

describe('pickInterfaceName', () => {
  it('gives the name asked for when it is free', () => {
    expect(pickInterfaceName(['lo', 'eth0'], 'net1', 'ns')).toBe('net1')
  })
  it('refuses a name the namespace has with a conflict naming it', () => {
    expect(() => pickInterfaceName(['lo', 'eth0'], 'eth0', 'namespace /run/x')).toThrow(
      expect.objectContaining({
        code: ERR_INTERFACE_EXISTS,
        kind: 'conflict',
        message: expect.stringMatching(/eth0.*\/run\/x/u),
      }),
    )
  })
  it('gives the first free ethN when none is asked for', () => {
    expect(pickInterfaceName(['lo', 'eth0', 'eth2'], undefined, 'ns')).toBe('eth1')
    expect(pickInterfaceName([], undefined, 'ns')).toBe('eth0')
  })
})
