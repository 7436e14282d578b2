import { describe, expect, it } from 'vitest'
import { IFLA_INFO_DATA, IFLA_INFO_KIND } from './link-info.js'
import { parseKindData } from './link-kinds.js'
import { attrString, decodeAttrs } from './nlattr.js'
import { IFLA_VXLAN_PORT, parseVxlanData, vxlanLinkInfo } from './vxlan-info.js'

describe('VXLAN link info', () => {
  it('encodes what `ip link add type vxlan` sends and reads it back', () => {
    const info = vxlanLinkInfo({
      vni: 4242,
      local: '192.0.2.10',
      link: 7,
      port: 4789,
      learning: false,
      proxy: true,
      ttl: 64,
    })
    const attrs = decodeAttrs(info)
    expect(attrString(attrs, IFLA_INFO_KIND)).toBe('vxlan')
    const data = decodeAttrs(attrs.get(IFLA_INFO_DATA)?.[0] ?? Buffer.alloc(0))
    expect(data.get(IFLA_VXLAN_PORT)?.[0]).toEqual(Buffer.from([0x12, 0xb5])) // 4789, network order
    expect(parseVxlanData(data)).toEqual({
      vni: 4242,
      local: '192.0.2.10',
      link: 7,
      port: 4789,
      learning: false,
      proxy: true,
      ttl: 64,
    })
    expect(parseKindData(info)).toMatchObject({ kind: 'vxlan', vxlan: { vni: 4242, proxy: true } })
  })

  it('takes an IPv6 local address, and leaves out what is not asked for', () => {
    const data = decodeAttrs(
      decodeAttrs(vxlanLinkInfo({ vni: 1, local: 'fd00::1', port: 8472, learning: true, proxy: false })).get(
        IFLA_INFO_DATA,
      )?.[0] ?? Buffer.alloc(0),
    )
    expect(parseVxlanData(data)).toEqual({
      vni: 1,
      local: 'fd00::1',
      link: undefined,
      port: 8472,
      learning: true,
      proxy: false,
      ttl: undefined,
    })
  })
})
