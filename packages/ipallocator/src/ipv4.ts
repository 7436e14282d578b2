import { InvalidAddressError } from './errors.js'

/** Largest IPv4 address as a number (255.255.255.255). */
export const IPV4_MAX = 0xffffffff

/**
 * Parses dotted-quad text (`192.168.0.1`) to an unsigned 32-bit number, or returns -1 when the
 * text is not exactly four decimal octets. Leading zeros (`010.0.0.1`) are refused: they read as
 * octal in some tools.
 */
export function parseIPv4(text: string): number {
  const length = text.length
  if (length < 7 || length > 15) return -1
  let value = 0
  let octet = 0
  let digits = 0
  let dots = 0
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1
      value = value * 256 + octet
      octet = 0
      digits = 0
      dots++
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1
      octet = octet * 10 + (c - 48)
      if (octet > 255) return -1
      digits++
    } else {
      return -1
    }
  }
  if (dots !== 3 || digits === 0) return -1
  return value * 256 + octet
}

/** Formats an unsigned 32-bit number as dotted-quad text. The caller guarantees the range. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`
}

/** `'127.0.0.1'` → `0x7f000001`. Throws `ERR_INVALID_ADDRESS` for anything but a dotted quad. */
export function ipv4ToNumber(text: string): number {
  const value = parseIPv4(text)
  if (value < 0) throw new InvalidAddressError(`invalid IPv4 address: ${JSON.stringify(text)}`)
  return value
}

/** `0x7f000001` → `'127.0.0.1'`. Throws `ERR_INVALID_ADDRESS` unless 0 ≤ value ≤ 2³²−1. */
export function numberToIPv4(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > IPV4_MAX) {
    throw new InvalidAddressError(`invalid IPv4 address value: ${value}`)
  }
  return formatIPv4(value)
}
