import { tryParseAddress, unmapped } from '@cnm/ip'
import { InvalidAddressError } from './errors.js'

/** The IPv4 wildcard; a missing IP means this address. */
export const IPV4_ANY = '0.0.0.0'
/** The IPv6 wildcard. */
export const IPV6_ANY = '::'

/** 4 for an IPv4 address, 6 for IPv6. */
export type Family = 4 | 6

const CACHE_LIMIT = 4096
const cache = new Map<string, string>()

/**
 * Validates an IP (with `@cnm/ip`) and returns its canonical text: IPv4 dotted quad, IPv6 in RFC
 * 5952 form (lower case, longest zero run compressed), and an IPv4-mapped IPv6 address as plain
 * IPv4 (`::ffff:10.0.0.1` is `10.0.0.1`: `unmapped`, since a socket on either is the same
 * binding). `null`/`undefined` mean `0.0.0.0`. Zone indexes (`fe80::1%eth0`) are refused: the
 * kernel's socket tables carry none. Throws `ERR_INVALID_ADDRESS`.
 */
export function canonicalIP(ip: string | null | undefined): string {
  if (ip === null || ip === undefined) return IPV4_ANY
  const known = cache.get(ip)
  if (known !== undefined) return known
  const canonical = parseIP(ip)
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(ip, canonical)
  return canonical
}

function parseIP(ip: unknown): string {
  const address = tryParseAddress(ip)
  if (address !== undefined) return unmapped(address).text
  if (typeof ip !== 'string') throw new InvalidAddressError(ip, 'expected a string')
  if (ip.includes('%')) throw new InvalidAddressError(ip, 'zone indexes are not supported')
  throw new InvalidAddressError(ip)
}

/** The family of a canonical address. */
export function familyOf(canonical: string): Family {
  return canonical.includes(':') ? 6 : 4
}

/** True for `0.0.0.0` and `::`. */
export function isWildcard(canonical: string): boolean {
  return canonical === IPV4_ANY || canonical === IPV6_ANY
}

/**
 * Whether a socket the OS has bound on `bound` keeps a socket from binding the same port and
 * protocol on `wanted` (both canonical). Same address, or either is the wildcard of the other's
 * family; `::` also covers every IPv4 address, because Linux sockets on `::` are dual-stack by
 * default (`net.ipv6.bindv6only=0`) and the socket tables do not say which ones set IPV6_V6ONLY.
 */
export function osBindConflicts(wanted: string, bound: string): boolean {
  if (wanted === bound || wanted === IPV6_ANY || bound === IPV6_ANY) return true
  if (wanted === IPV4_ANY) return !bound.includes(':')
  if (bound === IPV4_ANY) return !wanted.includes(':')
  return false
}
