import { describe, expect, it } from 'vitest'
import { macvlanLinkInfo, parseKindData, vlanLinkInfo } from './link-kinds.js'

describe('macvlan and VLAN link info', () => {
  it('encodes and decodes every macvlan mode', () => {
    for (const mode of ['private', 'vepa', 'bridge', 'passthru', 'source'] as const) {
      expect(parseKindData(macvlanLinkInfo(mode))).toEqual({ kind: 'macvlan', macvlanMode: mode, vlanId: undefined })
    }
  })

  it('encodes a VLAN id as a nested u16, and refuses one out of range', () => {
    const info = vlanLinkInfo(4094)
    expect(parseKindData(info)).toEqual({ kind: 'vlan', macvlanMode: undefined, vlanId: 4094 })
    // IFLA_INFO_KIND "vlan\0" (4+5, padded to 12), then IFLA_INFO_DATA (nested) with IFLA_VLAN_ID (u16).
    expect(info.readUInt16LE(12 + 2)).toBe(0x8002)
    expect(() => vlanLinkInfo(0)).toThrow(RangeError)
    expect(() => vlanLinkInfo(4095)).toThrow(RangeError)
  })

  it('decodes nothing from nothing', () => {
    expect(parseKindData(undefined)).toEqual({ kind: undefined, macvlanMode: undefined, vlanId: undefined })
  })
})
