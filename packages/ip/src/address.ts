import { describe, InvalidAddressError } from './errors.js'
import { formatIPv4, tryIPv4ToNumber } from './ipv4.js'
import { formatIPv6, IPV6_MAX, tryIPv6ToBigInt } from './ipv6.js'

/** Address family: 4 or 6. */
export type IPFamily = 4 | 6

/**
 * An IP address, parsed: its family, its value as an unsigned integer (32 or 128 bits) and its
 * canonical text. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is family 6; see
 * {@link unmapped}.
 */
export interface IPAddress {
  readonly family: IPFamily
  readonly value: bigint
  /** Canonical text: dotted quad, or RFC 5952 (`2001:db8::1`, `::ffff:10.0.0.1`). */
  readonly text: string
}

/** Number of bits of an address of the family: 32 or 128. */
export function addressBits(family: IPFamily): 32 | 128 {
  return family === 4 ? 32 : 128
}

/**
 * Parses IPv4 (dotted quad, no leading zeros) or IPv6 text (RFC 4291, upper or lower case, `::`,
 * a trailing dotted quad), or returns undefined for anything else: zone indices (`fe80::1%eth0`),
 * brackets, blanks, prefixes, non-strings.
 */
export function tryParseAddress(text: unknown): IPAddress | undefined {
  if (typeof text !== 'string') return undefined
  const v4 = tryIPv4ToNumber(text)
  if (v4 >= 0) return { family: 4, value: BigInt(v4), text }
  const v6 = tryIPv6ToBigInt(text)
  if (v6 >= 0n) return { family: 6, value: v6, text: formatIPv6(v6) }
  return undefined
}

/** As {@link tryParseAddress}, but throws `ERR_INVALID_ADDRESS` naming the text. */
export function parseAddress(text: string): IPAddress {
  const address = tryParseAddress(text)
  if (address === undefined) throw new InvalidAddressError(`invalid IP address ${describe(text)}`)
  return address
}

/** Whether the text is an IPv4 or IPv6 address (as {@link tryParseAddress} reads it). */
export function isIP(text: unknown): boolean {
  return tryParseAddress(text) !== undefined
}

/** Whether the text is a dotted-quad IPv4 address. */
export function isIPv4(text: unknown): boolean {
  return typeof text === 'string' && tryIPv4ToNumber(text) >= 0
}

/** Whether the text is an IPv6 address (IPv4-mapped ones included). */
export function isIPv6(text: unknown): boolean {
  return typeof text === 'string' && tryIPv6ToBigInt(text) >= 0n
}

/** The canonical text of an address (`2A00:1450:0::0001` → `2a00:1450::1`). Throws `ERR_INVALID_ADDRESS`. */
export function canonicalAddress(text: string): string {
  return parseAddress(text).text
}

/**
 * The canonical text of a value of the family (`formatAddress(4, 0x7f000001n)` → `127.0.0.1`).
 * Throws `ERR_INVALID_ADDRESS` when the value is out of the family's range.
 */
export function formatAddress(family: IPFamily, value: bigint): string {
  if (family === 4) {
    if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffn) throw badValue(family, value)
    return formatIPv4(Number(value))
  }
  if (family !== 6 || typeof value !== 'bigint' || value < 0n || value > IPV6_MAX) throw badValue(family, value)
  return formatIPv6(value)
}

function badValue(family: unknown, value: unknown): InvalidAddressError {
  const what = family === 4 || family === 6 ? `IPv${family}` : `IP (family ${describe(family)})`
  return new InvalidAddressError(`invalid ${what} address value: ${describe(value)}`)
}

/** The address of a value of the family. Throws `ERR_INVALID_ADDRESS` when out of range. */
export function addressFromValue(family: IPFamily, value: bigint): IPAddress {
  return { family, value, text: formatAddress(family, value) }
}

/** Whether an address is IPv4-mapped IPv6 (`::ffff:0:0/96`, RFC 4291 2.5.5.2). */
export function isIPv4Mapped(address: { readonly family: IPFamily; readonly value: bigint }): boolean {
  return address.family === 6 && address.value >> 32n === 0xffffn
}

/**
 * The IPv4 address an IPv4-mapped IPv6 address stands for (`::ffff:10.0.0.1` → `10.0.0.1`); any
 * other address is returned as it is. Parsing never does this on its own: call it where IPv4 is
 * what is meant (a socket, a firewall rule), not where the family matters (a pool, a route).
 */
export function unmapped(address: IPAddress): IPAddress {
  if (!isIPv4Mapped(address)) return address
  const value = address.value & 0xffffffffn
  return { family: 4, value, text: formatIPv4(Number(value)) }
}

/**
 * Whether an address is a loopback address: `127.0.0.0/8` or `::1`. An IPv4-mapped `::ffff:127.0.0.1`
 * is not (it is IPv6); pass `unmapped(address)` where it should count.
 */
export function isLoopback(address: IPAddress): boolean {
  return address.family === 4 ? address.value >> 24n === 127n : address.value === 1n
}

/** Whether an address is its family's unspecified address: `0.0.0.0` or `::`. */
export function isUnspecified(address: IPAddress): boolean {
  return address.value === 0n
}
