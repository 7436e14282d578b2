import { ERR_NETLINK, NetlinkError } from './errors.js'
import { AF_INET, AF_INET6, bytesToIp, ipToBytes } from './ip-codec.js'
import { type AttrValue, decodeAttrs, encodeAttrs } from './nlattr.js'

/** The netlink protocol of netfilter's subsystems (conntrack among them). */
export const NETLINK_NETFILTER = 12
const NFNL_SUBSYS_CTNETLINK = 1
const NFNETLINK_V0 = 0
const NFGENMSG_LEN = 4

/** ctnetlink message types (subsystem in the high byte): an entry, a dump request, a delete. */
export const CT_MSG = {
  NEW: (NFNL_SUBSYS_CTNETLINK << 8) | 0,
  GET: (NFNL_SUBSYS_CTNETLINK << 8) | 1,
  DELETE: (NFNL_SUBSYS_CTNETLINK << 8) | 2,
} as const

/** Top-level attributes of a conntrack entry (enum ctattr_type) that cnm reads or writes. */
export const CTA = { TUPLE_ORIG: 1, TUPLE_REPLY: 2, STATUS: 3, ID: 12, ZONE: 18 } as const
/** Attributes of a tuple (enum ctattr_tuple). */
export const CTA_TUPLE = { IP: 1, PROTO: 2 } as const
/** Attributes of a tuple's addresses (enum ctattr_ip). */
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const
/** Attributes of a tuple's layer 4 part (enum ctattr_l4proto). */
export const CTA_PROTO = {
  NUM: 1,
  SRC_PORT: 2,
  DST_PORT: 3,
  ICMP_ID: 4,
  ICMP_TYPE: 5,
  ICMP_CODE: 6,
  ICMPV6_ID: 7,
  ICMPV6_TYPE: 8,
  ICMPV6_CODE: 9,
} as const

/** IP protocol numbers by the names cnm publishes (and ICMP, whose tuples carry no ports). */
export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132 } as const

/** One direction of a tracked flow, as the kernel keys it. */
export interface ConntrackTuple {
  src: string
  dst: string
  /** IP protocol number (6 tcp, 17 udp, 132 sctp, 1 icmp, 58 icmpv6, …). */
  proto: number
  /** Ports, for the protocols that have them (TCP, UDP, SCTP, DCCP, UDP-Lite; GRE keys). */
  srcPort?: number
  dstPort?: number
  /** ICMP / ICMPv6 echo identifier, type and code, in place of ports. */
  icmp?: { id: number; type: number; code: number }
}

/** A conntrack entry: the flow as it was sent (`original`) and as its answers come back (`reply`). */
export interface ConntrackEntry {
  family: 4 | 6
  original: ConntrackTuple
  /** After NAT: a DNAT-ed flow's reply comes from the address it was translated to. */
  reply: ConntrackTuple
  /** The kernel's id of the entry (a delete giving it removes only this very entry). */
  id: number | undefined
  /** Conntrack zone (0 unless a rule set one). */
  zone: number
  /** IPS_* status bits (`0x20` DST_NAT, `0x10` SRC_NAT, `0x2` SEEN_REPLY, …). */
  status: number
}

function be16(n: number): Buffer {
  const b = Buffer.alloc(2)
  b.writeUInt16BE(n)
  return b
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n >>> 0)
  return b
}

/** The nfgenmsg header every ctnetlink message starts with: family, version, resource id. */
export function nfgenmsg(family: number): Buffer {
  return Buffer.from([family, NFNETLINK_V0, 0, 0])
}

function protoAttrs(family: 4 | 6, t: ConntrackTuple): AttrValue[] {
  const out: AttrValue[] = [{ type: CTA_PROTO.NUM, u8: t.proto }]
  if (t.srcPort !== undefined) out.push({ type: CTA_PROTO.SRC_PORT, bytes: be16(t.srcPort) })
  if (t.dstPort !== undefined) out.push({ type: CTA_PROTO.DST_PORT, bytes: be16(t.dstPort) })
  if (t.icmp) {
    const [id, type, code] =
      family === 4
        ? [CTA_PROTO.ICMP_ID, CTA_PROTO.ICMP_TYPE, CTA_PROTO.ICMP_CODE]
        : [CTA_PROTO.ICMPV6_ID, CTA_PROTO.ICMPV6_TYPE, CTA_PROTO.ICMPV6_CODE]
    out.push({ type: id, bytes: be16(t.icmp.id) }, { type, u8: t.icmp.type }, { type: code, u8: t.icmp.code })
  }
  return out
}

/** A tuple as the nested attribute `type` (CTA_TUPLE_ORIG or CTA_TUPLE_REPLY). */
export function tupleAttr(type: number, family: 4 | 6, t: ConntrackTuple): AttrValue {
  const [src, dst] = family === 4 ? [CTA_IP.V4_SRC, CTA_IP.V4_DST] : [CTA_IP.V6_SRC, CTA_IP.V6_DST]
  return {
    type,
    nested: [
      {
        type: CTA_TUPLE.IP,
        nested: [
          { type: src, bytes: ipToBytes(t.src) },
          { type: dst, bytes: ipToBytes(t.dst) },
        ],
      },
      { type: CTA_TUPLE.PROTO, nested: protoAttrs(family, t) },
    ],
  }
}

/** The payload of a dump of every entry of both families (nfgenmsg with AF_UNSPEC, no filter). */
export function dumpRequest(): Buffer {
  return nfgenmsg(0)
}

/**
 * The payload of a delete of one entry: its original tuple, its zone when not 0, and its id, so
 * that an entry that replaced it meanwhile under the same tuple is left alone (ENOENT).
 */
export function deleteRequest(e: ConntrackEntry): Buffer {
  const attrs: AttrValue[] = [tupleAttr(CTA.TUPLE_ORIG, e.family, e.original)]
  if (e.zone !== 0) attrs.push({ type: CTA.ZONE, bytes: be16(e.zone) })
  if (e.id !== undefined) attrs.push({ type: CTA.ID, bytes: be32(e.id) })
  return Buffer.concat([nfgenmsg(e.family === 4 ? AF_INET : AF_INET6), encodeAttrs(attrs)])
}

function bad(what: string): NetlinkError {
  return new NetlinkError(ERR_NETLINK, `conntrack entry: ${what}`)
}

function first(attrs: Map<number, Buffer[]>, type: number): Buffer | undefined {
  return attrs.get(type)?.[0]
}

function parseTuple(family: 4 | 6, raw: Buffer | undefined): ConntrackTuple {
  if (!raw) throw bad('no tuple')
  const tuple = decodeAttrs(raw)
  const ip = decodeAttrs(first(tuple, CTA_TUPLE.IP) ?? Buffer.alloc(0))
  const proto = decodeAttrs(first(tuple, CTA_TUPLE.PROTO) ?? Buffer.alloc(0))
  const [srcType, dstType] = family === 4 ? [CTA_IP.V4_SRC, CTA_IP.V4_DST] : [CTA_IP.V6_SRC, CTA_IP.V6_DST]
  const src = first(ip, srcType)
  const dst = first(ip, dstType)
  const num = first(proto, CTA_PROTO.NUM)
  if (!src || !dst || !num) throw bad('a tuple without addresses or protocol')
  const out: ConntrackTuple = { src: bytesToIp(src), dst: bytesToIp(dst), proto: num.readUInt8(0) }
  const sport = first(proto, CTA_PROTO.SRC_PORT)
  const dport = first(proto, CTA_PROTO.DST_PORT)
  if (sport && dport) {
    out.srcPort = sport.readUInt16BE(0)
    out.dstPort = dport.readUInt16BE(0)
  }
  const [idType, typeType, codeType] =
    family === 4
      ? [CTA_PROTO.ICMP_ID, CTA_PROTO.ICMP_TYPE, CTA_PROTO.ICMP_CODE]
      : [CTA_PROTO.ICMPV6_ID, CTA_PROTO.ICMPV6_TYPE, CTA_PROTO.ICMPV6_CODE]
  const [id, type, code] = [first(proto, idType), first(proto, typeType), first(proto, codeType)]
  if (id && type && code) out.icmp = { id: id.readUInt16BE(0), type: type.readUInt8(0), code: code.readUInt8(0) }
  return out
}

/**
 * Parses one IPCTNL_MSG_CT_NEW message of a dump (nfgenmsg, then attributes); undefined for a
 * family other than IPv4/IPv6. A message that does not parse is an `ERR_NETLINK` error.
 */
export function parseEntry(data: Uint8Array): ConntrackEntry | undefined {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (b.length < NFGENMSG_LEN) throw bad(`${b.length} bytes`)
  const af = b.readUInt8(0)
  if (af !== AF_INET && af !== AF_INET6) return undefined
  const family = af === AF_INET ? 4 : 6
  const attrs = decodeAttrs(b.subarray(NFGENMSG_LEN))
  const id = first(attrs, CTA.ID)
  const zone = first(attrs, CTA.ZONE)
  const status = first(attrs, CTA.STATUS)
  return {
    family,
    original: parseTuple(family, first(attrs, CTA.TUPLE_ORIG)),
    reply: parseTuple(family, first(attrs, CTA.TUPLE_REPLY)),
    id: id ? id.readUInt32BE(0) : undefined,
    zone: zone ? zone.readUInt16BE(0) : 0,
    status: status ? status.readUInt32BE(0) : 0,
  }
}
