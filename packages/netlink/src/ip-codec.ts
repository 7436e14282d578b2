import { isIPv4, isIPv6 } from 'node:net'
import { NetlinkError } from './errors.js'

export const ERR_INVALID_ADDRESS = 'ERR_INVALID_ADDRESS'
export const AF_INET = 2
export const AF_INET6 = 10

/** An address with its prefix length, parsed from `10.0.0.2/24` or `fd00::2/64`. */
export interface PrefixedAddress {
  family: typeof AF_INET | typeof AF_INET6
  address: string
  bytes: Buffer
  prefixLength: number
}

function v6Bytes(text: string): Buffer {
  let s = text
  const out = Buffer.alloc(16)
  const v4tail = s.match(/(\d+\.\d+\.\d+\.\d+)$/u)
  if (v4tail?.[1]) {
    const b = v4Bytes(v4tail[1])
    s = `${s.slice(0, -v4tail[1].length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined]
  const h = head ? head.split(':') : []
  const t = tail ? tail.split(':') : []
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t]
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2)
  return out
}

function v4Bytes(text: string): Buffer {
  return Buffer.from(text.split('.').map(Number))
}

/** Address text → network-order bytes (4 or 16). */
export function ipToBytes(ip: string): Buffer {
  if (isIPv4(ip)) return v4Bytes(ip)
  if (isIPv6(ip)) return v6Bytes(ip.split('%')[0] ?? ip)
  throw new NetlinkError(ERR_INVALID_ADDRESS, `invalid IP address ${JSON.stringify(ip)}`)
}

/** Network-order bytes → canonical address text. */
export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.')
  if (b.length !== 16) throw new NetlinkError(ERR_INVALID_ADDRESS, `address of ${b.length} bytes`)
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!)
  // Longest run of zero groups (length ≥ 2) becomes "::".
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

/** Parses `addr/len` (the prefix length is required and must fit the family). */
export function parsePrefixedAddress(cidr: string): PrefixedAddress {
  const fail = (): never => {
    throw new NetlinkError(ERR_INVALID_ADDRESS, `invalid address ${JSON.stringify(cidr)}: expected address/prefix`)
  }
  if (typeof cidr !== 'string') return fail()
  const m = cidr.match(/^([^/]+)\/(\d{1,3})$/u)
  if (!m?.[1] || !m[2]) return fail()
  const address = m[1]
  const prefixLength = Number(m[2])
  if (isIPv4(address)) {
    if (prefixLength > 32) fail()
    return { family: AF_INET, address, bytes: v4Bytes(address), prefixLength }
  }
  if (isIPv6(address) && !address.includes('%')) {
    if (prefixLength > 128) fail()
    const bytes = v6Bytes(address)
    return { family: AF_INET6, address: bytesToIp(bytes), bytes, prefixLength }
  }
  return fail()
}

/** Family of a plain address, or a typed error. */
export function ipFamily(ip: string): typeof AF_INET | typeof AF_INET6 {
  if (isIPv4(ip)) return AF_INET
  if (isIPv6(ip) && !ip.includes('%')) return AF_INET6
  throw new NetlinkError(ERR_INVALID_ADDRESS, `invalid IP address ${JSON.stringify(ip)}`)
}

/** The IPv4 broadcast address of `bytes/prefix` (for prefixes shorter than /31). */
export function v4Broadcast(bytes: Buffer, prefixLength: number): Buffer {
  const n = bytes.readUInt32BE(0)
  const host = prefixLength === 0 ? 0xffffffff : (2 ** (32 - prefixLength) - 1) >>> 0
  const out = Buffer.alloc(4)
  out.writeUInt32BE((n | host) >>> 0)
  return out
}

/** Masks `bytes` down to its first `prefixLength` bits (the network address). */
export function networkBytes(bytes: Buffer, prefixLength: number): Buffer {
  const out = Buffer.from(bytes)
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8))
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff)
  }
  return out
}
