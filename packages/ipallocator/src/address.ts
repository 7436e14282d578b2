import { InvalidAddressError } from './errors.js'
import { formatIPv4, parseIPv4 } from './ipv4.js'
import { formatIPv6, IPV6_MAX, parseIPv6 } from './ipv6.js'

/** Address family: 4 or 6. */
export type IPFamily = 4 | 6

/** An address as its family and its numeric value. */
export interface ParsedAddress {
  readonly family: IPFamily
  readonly value: bigint
}

/** Parses IPv4 or IPv6 text, or returns undefined. */
export function tryParseAddress(text: string): ParsedAddress | undefined {
  const v4 = parseIPv4(text)
  if (v4 >= 0) return { family: 4, value: BigInt(v4) }
  const v6 = parseIPv6(text)
  if (v6 >= 0n) return { family: 6, value: v6 }
  return undefined
}

/** Parses IPv4 or IPv6 text. Throws `ERR_INVALID_ADDRESS`. */
export function parseAddress(text: string): ParsedAddress {
  const parsed = typeof text === 'string' ? tryParseAddress(text) : undefined
  if (parsed === undefined) throw new InvalidAddressError(`invalid IP address: ${JSON.stringify(text)}`)
  return parsed
}

/** Formats a value of the given family; the caller guarantees the range. */
export function formatAddress(family: IPFamily, value: bigint): string {
  return family === 4 ? formatIPv4(Number(value)) : formatIPv6(value)
}

/** An address as a bigint (`'127.0.0.1'` → `0x7f000001n`). Throws `ERR_INVALID_ADDRESS`. */
export function addressToBigInt(text: string): bigint {
  return parseAddress(text).value
}

/** A bigint as an address of the given family. Throws `ERR_INVALID_ADDRESS` when out of range. */
export function bigIntToAddress(value: bigint, family: IPFamily): string {
  const max = family === 4 ? 0xffffffffn : IPV6_MAX
  if (typeof value !== 'bigint' || value < 0n || value > max) {
    throw new InvalidAddressError(`invalid IPv${family} address value: ${String(value)}`)
  }
  return formatAddress(family, value)
}

/** The canonical text of an address (RFC 5952 for IPv6: `2A00:1450:0::0001` → `2a00:1450::1`). */
export function canonicalAddress(text: string): string {
  const { family, value } = parseAddress(text)
  return formatAddress(family, value)
}

/** Whether the text is a dotted-quad IPv4 address. */
export function isIPv4(text: string): boolean {
  return typeof text === 'string' && parseIPv4(text) >= 0
}

/** Whether the text is an IPv6 address. */
export function isIPv6(text: string): boolean {
  return typeof text === 'string' && parseIPv6(text) >= 0n
}
