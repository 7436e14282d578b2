import { IFLA_INFO_DATA, IFLA_INFO_KIND, linkInfo } from './link-info.js'
import { type AttrValue, attrString, decodeAttrs } from './nlattr.js'
import { parseVxlanData, type VxlanDetails } from './vxlan-info.js'

// <linux/if_link.h>
export const IFLA_MACVLAN_MODE = 1
export const IFLA_VLAN_ID = 1

/** The macvlan modes (`MACVLAN_MODE_*`), by the names `ip link` and Docker use. */
export const MACVLAN_MODES = { private: 1, vepa: 2, bridge: 4, passthru: 8, source: 16 } as const

/** A macvlan mode's name. */
export type MacvlanMode = keyof typeof MACVLAN_MODES

/** The lowest and highest VLAN id a VLAN sub-interface may carry (802.1Q). */
export const VLAN_ID_MIN = 1
/** The highest VLAN id (4094; 4095 is reserved by 802.1Q). */
export const VLAN_ID_MAX = 4094

/** IFLA_LINKINFO for a macvlan link in `mode`. */
export function macvlanLinkInfo(mode: MacvlanMode): Buffer {
  const value = MACVLAN_MODES[mode]
  if (value === undefined) throw new TypeError(`unknown macvlan mode ${JSON.stringify(mode)}`)
  return linkInfo('macvlan', [{ type: IFLA_MACVLAN_MODE, u32: value }])
}

/** IFLA_LINKINFO for an 802.1Q VLAN sub-interface with `id` (1–4094). */
export function vlanLinkInfo(id: number): Buffer {
  if (!Number.isInteger(id) || id < VLAN_ID_MIN || id > VLAN_ID_MAX) {
    throw new RangeError(`VLAN id ${id} out of range ${VLAN_ID_MIN}–${VLAN_ID_MAX}`)
  }
  const data: AttrValue[] = [{ type: IFLA_VLAN_ID, bytes: u16(id) }]
  return linkInfo('vlan', data)
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16LE(n)
  return b
}

/** What IFLA_LINKINFO says of a macvlan, VLAN or VXLAN link: its kind, macvlan mode, VLAN id, VXLAN data. */
export interface KindData {
  kind: string | undefined
  macvlanMode: MacvlanMode | undefined
  vlanId: number | undefined
  vxlan: VxlanDetails | undefined
}

/** Decodes the kind-specific data of a macvlan or VLAN link from its IFLA_LINKINFO. */
export function parseKindData(buf: Uint8Array | undefined): KindData {
  const out: KindData = { kind: undefined, macvlanMode: undefined, vlanId: undefined, vxlan: undefined }
  if (!buf) return out
  const attrs = decodeAttrs(buf)
  out.kind = attrString(attrs, IFLA_INFO_KIND)
  const data = attrs.get(IFLA_INFO_DATA)?.[0]
  if (!data) return out
  const inner = decodeAttrs(data)
  if (out.kind === 'macvlan' || out.kind === 'macvtap') {
    const mode = inner.get(IFLA_MACVLAN_MODE)?.[0]
    if (mode && mode.length >= 4) {
      const value = mode.readUInt32LE(0)
      out.macvlanMode = (Object.keys(MACVLAN_MODES) as MacvlanMode[]).find((k) => MACVLAN_MODES[k] === value)
    }
  }
  if (out.kind === 'vlan') {
    const id = inner.get(IFLA_VLAN_ID)?.[0]
    if (id && id.length >= 2) out.vlanId = id.readUInt16LE(0)
  }
  if (out.kind === 'vxlan') out.vxlan = parseVxlanData(inner)
  return out
}
