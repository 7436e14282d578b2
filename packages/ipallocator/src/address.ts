import { formatAddress, type IPAddress, type IPFamily, parseAddress } from '@cnm/ip'

// Addresses are @cnm/ip's values: this module keeps the names this package has always exported.
export {
  canonicalAddress,
  formatAddress,
  type IPFamily,
  isIPv4,
  isIPv6,
  parseAddress,
  tryParseAddress,
} from '@cnm/ip'

/** An address as its family, its numeric value and its canonical text (`@cnm/ip`'s `IPAddress`). */
export type ParsedAddress = IPAddress

/** An address as a bigint (`'127.0.0.1'` → `0x7f000001n`). Throws `ERR_INVALID_ADDRESS`. */
export function addressToBigInt(text: string): bigint {
  return parseAddress(text).value
}

/** A bigint as an address of the given family. Throws `ERR_INVALID_ADDRESS` when out of range. */
export function bigIntToAddress(value: bigint, family: IPFamily): string {
  return formatAddress(family, value)
}
