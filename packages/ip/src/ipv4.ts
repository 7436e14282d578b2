import { describe, InvalidAddressError } from './errors.js'

/** Largest IPv4 address as a number (255.255.255.255). */
export const IPV4_MAX = 0xffffffff

/**
 * Dotted-quad text (`192.168.0.1`) as an unsigned 32-bit number, or -1 when the text is not
 * exactly four decimal octets 0–255. Leading zeros (`010.0.0.1`) are refused: some tools read
 * them as octal. For hot paths that must not allocate; otherwise use `parseAddress`.
 */
export function tryIPv4ToNumber(text: string): number {
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

/** Dotted-quad text of a 32-bit number; the caller has checked the range. */
export function formatIPv4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`
}

/** `'127.0.0.1'` → `0x7f000001`. Throws `ERR_INVALID_ADDRESS` for anything but a dotted quad. */
export function ipv4ToNumber(text: string): number {
  const value = typeof text === 'string' ? tryIPv4ToNumber(text) : -1
  if (value < 0) throw new InvalidAddressError(`invalid IPv4 address ${describe(text)}`)
  return value
}

/** `0x7f000001` → `'127.0.0.1'`. Throws `ERR_INVALID_ADDRESS` unless 0 ≤ value ≤ 2³²−1 (an integer). */
export function numberToIPv4(value: number): string {
  if (!(value >= 0 && value <= IPV4_MAX) || !Number.isInteger(value)) {
    throw new InvalidAddressError(`invalid IPv4 address value: ${describe(value)}`)
  }
  return formatIPv4(value)
}
