import { describe, expect, it } from 'vitest'
import {
  bridgePortHairpinInfo,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  linkInfo,
  parseLinkInfo,
  VETH_INFO_PEER,
  vethLinkInfo,
} from './link-info.js'
import { attrString, decodeAttrs, encodeAttrs, NLA_F_NESTED } from './nlattr.js'

describe('netlink attributes', () => {
  it('encodes length, type and 4-byte padding', () => {
    const b = encodeAttrs([{ type: 1, str: 'veth' }])
    expect(b.length).toBe(12) // 4 header + "veth\0" (5) = 9, padded to 12
    expect(b.readUInt16LE(0)).toBe(9)
    expect(b.readUInt16LE(2)).toBe(1)
    expect(b.subarray(4, 9).toString()).toBe('veth\0')
  })

  it('marks nested attributes and round-trips them', () => {
    const b = encodeAttrs([
      {
        type: 2,
        nested: [
          { type: 4, u8: 1 },
          { type: 5, u32: 0xdeadbeef },
        ],
      },
    ])
    expect(b.readUInt16LE(2)).toBe(2 | NLA_F_NESTED)
    const outer = decodeAttrs(b)
    const inner = decodeAttrs(outer.get(2)![0]!)
    expect(inner.get(4)![0]![0]).toBe(1)
    expect(inner.get(5)![0]!.readUInt32LE(0)).toBe(0xdeadbeef)
  })

  it('stops at a truncated attribute instead of reading past the end', () => {
    const b = encodeAttrs([{ type: 1, str: 'bridge' }])
    expect(decodeAttrs(b.subarray(0, 6)).size).toBe(0)
  })

  it('builds link info for a bridge, a veth peer in a namespace, and hairpin', () => {
    expect(parseLinkInfo(linkInfo('bridge'))).toEqual({ kind: 'bridge' })
    const veth = decodeAttrs(vethLinkInfo({ name: 'eth0', netnsFd: 7, mtu: 1400 }))
    expect(attrString(veth, IFLA_INFO_KIND)).toBe('veth')
    const peer = decodeAttrs(veth.get(IFLA_INFO_DATA)![0]!).get(VETH_INFO_PEER)![0]!
    const peerAttrs = decodeAttrs(peer.subarray(16)) // after the ifinfomsg
    expect(attrString(peerAttrs, 3)).toBe('eth0')
    expect(peerAttrs.get(28)![0]!.readUInt32LE(0)).toBe(7)
    expect(peerAttrs.get(4)![0]!.readUInt32LE(0)).toBe(1400)
    expect(parseLinkInfo(bridgePortHairpinInfo(true))).toEqual({ slaveKind: 'bridge', hairpin: true })
    expect(parseLinkInfo(bridgePortHairpinInfo(false))).toEqual({ slaveKind: 'bridge', hairpin: false })
  })
})
