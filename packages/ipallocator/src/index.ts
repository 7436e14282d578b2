// The address numbers are @cnm/ip's, re-exported under the names this package has always had.
export { bigIntToIPv6, ipv4ToNumber, ipv6ToBigInt, numberToIPv4 } from '@cnm/ip'
export {
  addressToBigInt,
  bigIntToAddress,
  canonicalAddress,
  type IPFamily,
  isIPv4,
  isIPv6,
  type ParsedAddress,
  parseAddress,
} from './address.js'
export type { IPAllocatorState, PoolState } from './allocator-state.js'
export {
  type AddressRange,
  canonicalCIDR,
  containsAddress,
  hostRange,
  networkRange,
  nthHost,
  type ParsedCIDR,
  parseCIDR,
} from './cidr.js'
export {
  BadSubnetError,
  ERR_BAD_SUBNET,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  ERR_INVALID_STATE,
  ERR_IP_ALREADY_ALLOCATED,
  ERR_IP_OUT_OF_RANGE,
  ERR_NAMESERVER_OVERLAPS,
  ERR_NETWORK_ALREADY_REGISTERED,
  ERR_NETWORK_OVERLAPS,
  ERR_NO_AVAILABLE_IPS,
  InvalidAddressError,
  InvalidCIDRError,
  InvalidStateError,
  IPAllocatorError,
  type IPAllocatorErrorCode,
  type IPAllocatorErrorKind,
  IPAlreadyAllocatedError,
  IPOutOfRangeError,
  NameserverOverlapsError,
  NetworkAlreadyRegisteredError,
  NetworkOverlapsError,
  NoAvailableIPsError,
} from './errors.js'
export { IPAllocator } from './ip-allocator.js'
export { checkNameserverOverlaps, checkRouteOverlaps, networksOverlap } from './overlaps.js'
