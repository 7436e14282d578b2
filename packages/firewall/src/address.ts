import { isIPv4, isIPv6, SocketAddress } from 'node:net'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, FirewallError } from './errors.js'

/** 4 or 6. */
export type IPFamily = 4 | 6

/** A validated address in canonical text (IPv6 in RFC 5952 form, IPv4-mapped IPv6 as IPv4). */
export interface ParsedIP {
  family: IPFamily
  address: string
}

/** A validated subnet: the network address (host bits cleared) and prefix length. */
export interface ParsedCIDR {
  family: IPFamily
  network: string
  prefix: number
  /** `network/prefix`. */
  cidr: string
}

/** Canonical IP, or undefined when `text` is not one (zone indexes are refused). */
export function tryParseIP(text: unknown): ParsedIP | undefined {
  if (typeof text !== 'string') return undefined
  if (isIPv4(text)) return { family: 4, address: text }
  if (!isIPv6(text) || text.includes('%')) return undefined
  const canonical = new SocketAddress({ address: text, family: 'ipv6' }).address
  const mapped = canonical.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/u)
  return mapped?.[1] ? { family: 4, address: mapped[1] } : { family: 6, address: canonical }
}

/** Canonical IP; anything else is `ERR_INVALID_ADDRESS` naming `what`. */
export function parseIP(text: unknown, what: string): ParsedIP {
  const ip = tryParseIP(text)
  if (!ip) throw new FirewallError(ERR_INVALID_ADDRESS, `invalid ${what} ${JSON.stringify(text)}: not an IP address`)
  return ip
}

/** True for `0.0.0.0` and `::` (canonical). */
export function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::'
}

function toBigInt(ip: ParsedIP): bigint {
  if (ip.family === 4) return ip.address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n)
  const [head = '', tail] = ip.address.split('::')
  const groups = (s: string | undefined): string[] => (s ? s.split(':') : [])
  const left = groups(head)
  const right = groups(tail)
  const all =
    tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n)
}

function fromBigInt(family: IPFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.')
  const groups: string[] = []
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((value >> s) & 0xffffn).toString(16))
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address
}

/**
 * Parses `address/prefix` into its canonical network (`172.18.0.1/16` → `172.18.0.0/16`: host bits
 * are cleared, as the gateway-plus-prefix form is common). Anything else is `ERR_INVALID_CIDR`.
 */
export function parseCIDR(text: unknown, what = 'subnet'): ParsedCIDR {
  const bad = (): FirewallError =>
    new FirewallError(ERR_INVALID_CIDR, `invalid ${what} ${JSON.stringify(text)}: expected an IPv4 or IPv6 CIDR`)
  if (typeof text !== 'string') throw bad()
  const m = text.match(/^([^/]+)\/(0|[1-9]\d{0,2})$/u)
  const ip = tryParseIP(m?.[1])
  if (!m || !ip || (ip.family === 4 && m[1]?.includes(':'))) throw bad() // no IPv4-mapped subnets
  const prefix = Number(m[2])
  const bits = ip.family === 4 ? 32 : 128
  if (prefix > bits) throw bad()
  const hostBits = BigInt(bits - prefix)
  const network = fromBigInt(ip.family, (toBigInt(ip) >> hostBits) << hostBits)
  return { family: ip.family, network, prefix, cidr: `${network}/${prefix}` }
}

/** Whether two subnets share an address. */
export function cidrOverlaps(a: ParsedCIDR, b: ParsedCIDR): boolean {
  if (a.family !== b.family) return false
  const shorter = a.prefix <= b.prefix ? a : b
  const longer = shorter === a ? b : a
  return parseCIDR(`${longer.network}/${shorter.prefix}`).network === shorter.network
}
