import { bytesToIp, ipToBytes } from './ip-codec.js'
import { linkInfo } from './link-info.js'
import type { AttrValue } from './nlattr.js'

// <linux/if_link.h>: IFLA_VXLAN_*
export const IFLA_VXLAN_ID = 1
export const IFLA_VXLAN_LINK = 3
export const IFLA_VXLAN_LOCAL = 4
export const IFLA_VXLAN_TTL = 5
export const IFLA_VXLAN_LEARNING = 7
export const IFLA_VXLAN_PROXY = 11
export const IFLA_VXLAN_L2MISS = 13
export const IFLA_VXLAN_L3MISS = 14
export const IFLA_VXLAN_PORT = 15
export const IFLA_VXLAN_LOCAL6 = 17

/** The lowest and highest VXLAN network identifier (24 bits; 0 is reserved here). */
export const VXLAN_VNI_MIN = 1
/** The highest VXLAN network identifier: 16777215 (`0xffffff`, 24 bits). */
export const VXLAN_VNI_MAX = 0xffffff
/** The IANA VXLAN port (the kernel's own default is 8472, Linux's pre-IANA choice). */
export const VXLAN_PORT = 4789

/** What a VXLAN device is made with (validated by the caller). */
export interface VxlanSpec {
  vni: number
  /** The local VTEP address (IPv4 or IPv6): the source of encapsulated packets. */
  local?: string
  /** The underlay device's ifindex. */
  link?: number
  /** UDP destination port. */
  port: number
  learning: boolean
  /** Answer ARP/ND from the neighbour table of the device (libnetwork's overlay sets it). */
  proxy: boolean
  /** Report misses to user space (RTM_GETNEIGH): off unless asked. */
  l2miss?: boolean
  l3miss?: boolean
  ttl?: number
}

/** What the kernel reports of a VXLAN device. */
export interface VxlanDetails {
  vni: number | undefined
  local: string | undefined
  /** The underlay device's ifindex. */
  link: number | undefined
  port: number | undefined
  learning: boolean | undefined
  proxy: boolean | undefined
  ttl: number | undefined
}

function be16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

/** IFLA_LINKINFO for a VXLAN device. */
export function vxlanLinkInfo(spec: VxlanSpec): Buffer {
  const data: AttrValue[] = [{ type: IFLA_VXLAN_ID, u32: spec.vni }]
  if (spec.local !== undefined) {
    const local = ipToBytes(spec.local)
    data.push({ type: local.length === 4 ? IFLA_VXLAN_LOCAL : IFLA_VXLAN_LOCAL6, bytes: local })
  }
  if (spec.link !== undefined) data.push({ type: IFLA_VXLAN_LINK, u32: spec.link })
  if (spec.ttl !== undefined) data.push({ type: IFLA_VXLAN_TTL, u8: spec.ttl })
  data.push({ type: IFLA_VXLAN_LEARNING, u8: spec.learning ? 1 : 0 })
  data.push({ type: IFLA_VXLAN_PROXY, u8: spec.proxy ? 1 : 0 })
  if (spec.l2miss !== undefined) data.push({ type: IFLA_VXLAN_L2MISS, u8: spec.l2miss ? 1 : 0 })
  if (spec.l3miss !== undefined) data.push({ type: IFLA_VXLAN_L3MISS, u8: spec.l3miss ? 1 : 0 })
  data.push({ type: IFLA_VXLAN_PORT, bytes: be16(spec.port) })
  return linkInfo('vxlan', data)
}

/** Decodes IFLA_INFO_DATA of a VXLAN device (already split into attributes). */
export function parseVxlanData(inner: Map<number, Buffer[]>): VxlanDetails {
  const first = (t: number): Buffer | undefined => inner.get(t)?.[0]
  const u32 = (t: number): number | undefined => {
    const b = first(t)
    return b && b.length >= 4 ? b.readUInt32LE(0) : undefined
  }
  const u8 = (t: number): number | undefined => {
    const b = first(t)
    return b && b.length >= 1 ? b[0] : undefined
  }
  const local4 = first(IFLA_VXLAN_LOCAL)
  const local6 = first(IFLA_VXLAN_LOCAL6)
  const local = local4?.length === 4 ? local4 : local6?.length === 16 ? local6 : undefined
  const port = first(IFLA_VXLAN_PORT)
  const learning = u8(IFLA_VXLAN_LEARNING)
  const proxy = u8(IFLA_VXLAN_PROXY)
  return {
    vni: u32(IFLA_VXLAN_ID),
    local: local && !local.every((x) => x === 0) ? bytesToIp(local) : undefined,
    link: u32(IFLA_VXLAN_LINK) || undefined,
    port: port && port.length >= 2 ? port.readUInt16BE(0) : undefined,
    learning: learning === undefined ? undefined : learning === 1,
    proxy: proxy === undefined ? undefined : proxy === 1,
    ttl: u8(IFLA_VXLAN_TTL),
  }
}
