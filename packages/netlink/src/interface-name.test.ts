import { describe, expect, it } from 'vitest'
import { ERR_INVALID_INTERFACE_NAME } from './errors.js'
import { isValidInterfaceName, validateInterfaceName } from './interface-name.js'

describe('validateInterfaceName', () => {
  it.each(['eth0', 'br-0123456789ab', 'veth1a2b3c4d5e6', 'a', 'x'.repeat(15)])('accepts %s', (name) => {
    expect(() => validateInterfaceName(name)).not.toThrow()
    expect(isValidInterfaceName(name)).toBe(true)
  })

  it.each([
    ['', 'empty'],
    ['x'.repeat(16), '16 bytes'],
    ['é'.repeat(8), '16 bytes'],
    ['a/b', '"/"'],
    ['a b', 'whitespace'],
    ['a\tb', 'whitespace'],
    ['.', 'reserved'],
    ['..', 'reserved'],
    ['eth0:1', '":"'],
  ])('rejects %j (%s) with a typed error naming it', (name, why) => {
    try {
      validateInterfaceName(name)
      expect.unreachable()
    } catch (err) {
      expect((err as { code: string }).code).toBe(ERR_INVALID_INTERFACE_NAME)
      expect((err as Error).message).toContain(JSON.stringify(name))
      expect((err as Error).message).toContain(why)
    }
  })

  it('rejects non-strings', () => {
    expect(isValidInterfaceName(42)).toBe(false)
    expect(isValidInterfaceName(undefined)).toBe(false)
  })
})
