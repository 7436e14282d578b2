import { type AttrValue, attrString, decodeAttrs, encodeAttrs } from './nlattr.js'

// <linux/if_link.h>
export const IFLA_INFO_KIND = 1
export const IFLA_INFO_DATA = 2
export const IFLA_INFO_SLAVE_KIND = 4
export const IFLA_INFO_SLAVE_DATA = 5
export const VETH_INFO_PEER = 1
export const IFLA_ADDRESS = 1
export const IFLA_IFNAME = 3
export const IFLA_MTU = 4
export const IFLA_NET_NS_FD = 28
export const IFLA_BRPORT_STATE = 1 // BR_STATE_* (3: forwarding)
export const IFLA_BRPORT_MODE = 4 // hairpin mode
export const IFINFOMSG_LEN = 16

/** IFLA_LINKINFO for a link of `kind` with optional kind-specific data. */
export function linkInfo(kind: string, data?: AttrValue[]): Buffer {
  const attrs: AttrValue[] = [{ type: IFLA_INFO_KIND, str: kind }]
  if (data) attrs.push({ type: IFLA_INFO_DATA, nested: data })
  return encodeAttrs(attrs)
}

/** What the veth peer is born with: its name, and optionally its namespace, MTU and MAC. */
export interface VethPeerSpec {
  name: string
  netnsFd?: number
  mtu?: number
  mac?: Buffer
}

/** IFLA_LINKINFO for a veth pair: VETH_INFO_PEER carries an ifinfomsg and the peer's attributes. */
export function vethLinkInfo(peer: VethPeerSpec): Buffer {
  const attrs: AttrValue[] = [{ type: IFLA_IFNAME, str: peer.name }]
  if (peer.netnsFd !== undefined) attrs.push({ type: IFLA_NET_NS_FD, u32: peer.netnsFd })
  if (peer.mtu !== undefined) attrs.push({ type: IFLA_MTU, u32: peer.mtu })
  if (peer.mac !== undefined) attrs.push({ type: IFLA_ADDRESS, bytes: peer.mac })
  const peerMsg = Buffer.concat([Buffer.alloc(IFINFOMSG_LEN), encodeAttrs(attrs)])
  return linkInfo('veth', [{ type: VETH_INFO_PEER, bytes: peerMsg }])
}

/** IFLA_LINKINFO that sets a bridge port's hairpin mode (the slave-data form the kernel accepts). */
export function bridgePortHairpinInfo(on: boolean): Buffer {
  return encodeAttrs([
    { type: IFLA_INFO_SLAVE_KIND, str: 'bridge' },
    { type: IFLA_INFO_SLAVE_DATA, nested: [{ type: IFLA_BRPORT_MODE, u8: on ? 1 : 0 }] },
  ])
}

/** What {@link parseLinkInfo} reads. */
export interface ParsedLinkInfo {
  kind?: string
  slaveKind?: string
  hairpin?: boolean
  bridgePortState?: number
}

/** Kind (`bridge`, `veth`, …), slave kind, and a bridge port's hairpin mode and state, from IFLA_LINKINFO. */
export function parseLinkInfo(buf: Uint8Array | undefined): ParsedLinkInfo {
  if (!buf) return {}
  const attrs = decodeAttrs(buf)
  const kind = attrString(attrs, IFLA_INFO_KIND)
  const slaveKind = attrString(attrs, IFLA_INFO_SLAVE_KIND)
  const out: ParsedLinkInfo = {}
  if (kind !== undefined) out.kind = kind
  if (slaveKind !== undefined) out.slaveKind = slaveKind
  const slaveData = attrs.get(IFLA_INFO_SLAVE_DATA)?.[0]
  if (slaveKind === 'bridge' && slaveData) {
    const port = decodeAttrs(slaveData)
    const mode = port.get(IFLA_BRPORT_MODE)?.[0]
    if (mode) out.hairpin = mode[0] === 1
    const state = port.get(IFLA_BRPORT_STATE)?.[0]
    if (state) out.bridgePortState = state[0]
  }
  return out
}
