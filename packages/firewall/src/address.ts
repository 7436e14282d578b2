import {
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  type IPFamily,
  type IPPrefix,
  isIPv4Mapped,
  networksOverlap,
  tryParseAddress,
  tryParseCIDR,
  unmapped,
} from '@cnm/ip'
import { FirewallError } from './errors.js'

// Addresses and subnets are parsed by @cnm/ip; this module adds the firewall's rules for them.
export type { IPFamily } from '@cnm/ip'

/** A validated address in canonical text (IPv6 in RFC 5952 form, IPv4-mapped IPv6 as IPv4). */
export interface ParsedIP {
  family: IPFamily
  address: string
}

/** A validated subnet (`@cnm/ip`'s prefix); `network`, `cidr` canonical, host bits cleared. */
export interface ParsedCIDR extends IPPrefix {
  /** The prefix length (`prefixLength`). */
  readonly prefix: number
}

/**
 * Canonical IP, or undefined when `text` is not one (zone indexes are refused). An IPv4-mapped
 * address is its IPv4 address (`unmapped`): a rule for `::ffff:10.0.0.1` is a rule for `10.0.0.1`.
 */
export function tryParseIP(text: unknown): ParsedIP | undefined {
  const parsed = tryParseAddress(text)
  if (parsed === undefined) return undefined
  const ip = unmapped(parsed)
  return { family: ip.family, address: ip.text }
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

/**
 * Parses `address/prefix` into its canonical network (`172.18.0.1/16` → `172.18.0.0/16`: host bits
 * are cleared, as the gateway-plus-prefix form is common). A subnet of IPv4-mapped addresses
 * (`::ffff:10.0.0.0/104`) is refused: no packet carries them. Anything else is `ERR_INVALID_CIDR`.
 */
export function parseCIDR(text: unknown, what = 'subnet'): ParsedCIDR {
  const prefix = tryParseCIDR(text)
  if (prefix === undefined || isIPv4Mapped({ family: prefix.family, value: prefix.networkValue })) {
    throw new FirewallError(ERR_INVALID_CIDR, `invalid ${what} ${JSON.stringify(text)}: expected an IPv4 or IPv6 CIDR`)
  }
  return { ...prefix, prefix: prefix.prefixLength }
}

/** Whether two subnets share an address. */
export function cidrOverlaps(a: ParsedCIDR, b: ParsedCIDR): boolean {
  return networksOverlap(a, b)
}
