import { isValidInterfaceName } from '@cnm/netlink'
import { describe, expect, it } from 'vitest'
import { defaultBridgeName, isBridgeDriverName } from './driver-name.js'

describe('bridge driver names', () => {
  it('answers to bridge and the seed alias simplebridge only', () => {
    expect(isBridgeDriverName('bridge')).toBe(true)
    expect(isBridgeDriverName('simplebridge')).toBe(true)
    expect(isBridgeDriverName('macvlan')).toBe(false)
  })

  it('names a bridge br-<12 hex>, a valid interface name', () => {
    const id = 'a'.repeat(64)
    expect(defaultBridgeName(id)).toBe('br-aaaaaaaaaaaa')
    expect(isValidInterfaceName(defaultBridgeName(id))).toBe(true)
    expect(() => defaultBridgeName('not-hex')).toThrow(TypeError)
  })
})
