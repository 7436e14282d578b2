import { isIP } from 'node:net'

/** An IP address as a number, with its family. */
export interface IPValue {
  family: 4 | 6
  value: bigint
}

/** A parsed CIDR: the address as written, its network and its prefix. */
export interface CidrValue extends IPValue {
  prefix: number
  /** The network address (host bits zero). */
  network: bigint
  /** The last address of the network. */
  last: bigint
}

const bitsOf = (family: 4 | 6): number => (family === 4 ? 32 : 128)

function v4Value(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
}

function v6Value(text: string): bigint {
  let s = text
  const dotted = s.match(/(\d+\.\d+\.\d+\.\d+)$/u)
  if (dotted?.[1]) {
    const v = v4Value(dotted[1])
    s = `${s.slice(0, -dotted[1].length)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`
  }
  const [head = '', tail] = s.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
}

/** Parses an IPv4 or IPv6 address (no zone index), or returns undefined. */
export function parseIP(text: string): IPValue | undefined {
  const family = isIP(text)
  if (family === 4) return { family, value: v4Value(text) }
  if (family === 6 && !text.includes('%')) return { family, value: v6Value(text) }
  return undefined
}

/** Formats an address value (IPv6 in RFC 5952's compressed form). */
export function formatIP(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.')
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn))
  let best = { at: -1, len: 0 }
  for (let i = 0; i < 8; ) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i }
    i = j === i ? i + 1 : j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best.at < 0) return hex.join(':')
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`
}

/** Parses `address/prefix`, or returns undefined. */
export function parseCidr(text: string): CidrValue | undefined {
  const m = text.match(/^([^/]+)\/(\d{1,3})$/u)
  const ip = m?.[1] ? parseIP(m[1]) : undefined
  const prefix = Number(m?.[2])
  if (!ip || !Number.isInteger(prefix) || prefix > bitsOf(ip.family)) return undefined
  const hostBits = BigInt(bitsOf(ip.family) - prefix)
  const network = (ip.value >> hostBits) << hostBits
  return { ...ip, prefix, network, last: network + (1n << hostBits) - 1n }
}

/** Whether `ip` lies within `cidr` (same family). */
export function cidrContains(cidr: CidrValue, ip: IPValue): boolean {
  return ip.family === cidr.family && ip.value >= cidr.network && ip.value <= cidr.last
}
