export {
  addressBits,
  addressFromValue,
  canonicalAddress,
  formatAddress,
  type IPAddress,
  type IPFamily,
  isIP,
  isIPv4,
  isIPv4Mapped,
  isIPv6,
  isLoopback,
  isUnspecified,
  parseAddress,
  tryParseAddress,
  unmapped,
} from './address.js'
export {
  canonicalCIDR,
  containsAddress,
  containsPrefix,
  hostBounds,
  type IPPrefix,
  networksOverlap,
  parseCIDR,
  prefixOf,
  tryParseCIDR,
} from './cidr.js'
export {
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  InvalidAddressError,
  InvalidCIDRError,
  IPError,
  type IPErrorCode,
} from './errors.js'
export { IPV4_MAX, ipv4ToNumber, numberToIPv4, tryIPv4ToNumber } from './ipv4.js'
export { bigIntToIPv6, IPV6_MAX, ipv6ToBigInt, tryIPv6ToBigInt } from './ipv6.js'
