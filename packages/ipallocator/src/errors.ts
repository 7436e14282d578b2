/** Stable codes of every error this package throws. Check `err.code`, not only `instanceof`. */
export const ERR_NO_AVAILABLE_IPS = 'ERR_NO_AVAILABLE_IPS'
export const ERR_IP_ALREADY_ALLOCATED = 'ERR_IP_ALREADY_ALLOCATED'
export const ERR_IP_OUT_OF_RANGE = 'ERR_IP_OUT_OF_RANGE'
export const ERR_NETWORK_ALREADY_REGISTERED = 'ERR_NETWORK_ALREADY_REGISTERED'
export const ERR_BAD_SUBNET = 'ERR_BAD_SUBNET'
export const ERR_NETWORK_OVERLAPS = 'ERR_NETWORK_OVERLAPS'
export const ERR_NAMESERVER_OVERLAPS = 'ERR_NAMESERVER_OVERLAPS'
export const ERR_INVALID_CIDR = 'ERR_INVALID_CIDR'
export const ERR_INVALID_ADDRESS = 'ERR_INVALID_ADDRESS'
export const ERR_INVALID_STATE = 'ERR_INVALID_STATE'

export type IPAllocatorErrorCode =
  | typeof ERR_NO_AVAILABLE_IPS
  | typeof ERR_IP_ALREADY_ALLOCATED
  | typeof ERR_IP_OUT_OF_RANGE
  | typeof ERR_NETWORK_ALREADY_REGISTERED
  | typeof ERR_BAD_SUBNET
  | typeof ERR_NETWORK_OVERLAPS
  | typeof ERR_NAMESERVER_OVERLAPS
  | typeof ERR_INVALID_CIDR
  | typeof ERR_INVALID_ADDRESS
  | typeof ERR_INVALID_STATE

/** Base class of every error this package throws. */
export class IPAllocatorError extends Error {
  readonly code: IPAllocatorErrorCode

  constructor(code: IPAllocatorErrorCode, message: string) {
    super(message)
    this.name = 'IPAllocatorError'
    this.code = code
  }
}

/** The pool has no free address left: `no available ip addresses on network`. */
export class NoAvailableIPsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NO_AVAILABLE_IPS
  constructor(message: string) {
    super(ERR_NO_AVAILABLE_IPS, message)
    this.name = 'NoAvailableIPsError'
  }
}

/** The requested address is already handed out: `ip already allocated`. */
export class IPAlreadyAllocatedError extends IPAllocatorError {
  declare readonly code: typeof ERR_IP_ALREADY_ALLOCATED
  constructor(message: string) {
    super(ERR_IP_ALREADY_ALLOCATED, message)
    this.name = 'IPAlreadyAllocatedError'
  }
}

/** The requested address lies outside the pool's range: `requested ip is out of range`. */
export class IPOutOfRangeError extends IPAllocatorError {
  declare readonly code: typeof ERR_IP_OUT_OF_RANGE
  constructor(message: string) {
    super(ERR_IP_OUT_OF_RANGE, message)
    this.name = 'IPOutOfRangeError'
  }
}

/** `registerSubnet` on a network that already has a pool: `network already registered`. */
export class NetworkAlreadyRegisteredError extends IPAllocatorError {
  declare readonly code: typeof ERR_NETWORK_ALREADY_REGISTERED
  constructor(message: string) {
    super(ERR_NETWORK_ALREADY_REGISTERED, message)
    this.name = 'NetworkAlreadyRegisteredError'
  }
}

/** The sub-range does not lie inside the network: `network does not contain specified subnet`. */
export class BadSubnetError extends IPAllocatorError {
  declare readonly code: typeof ERR_BAD_SUBNET
  constructor(message: string) {
    super(ERR_BAD_SUBNET, message)
    this.name = 'BadSubnetError'
  }
}

/** A network overlaps a route: `requested network overlaps with existing network`. */
export class NetworkOverlapsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NETWORK_OVERLAPS
  constructor(message: string) {
    super(ERR_NETWORK_OVERLAPS, message)
    this.name = 'NetworkOverlapsError'
  }
}

/** A network contains a nameserver: `requested network overlaps with nameserver`. */
export class NameserverOverlapsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NAMESERVER_OVERLAPS
  constructor(message: string) {
    super(ERR_NAMESERVER_OVERLAPS, message)
    this.name = 'NameserverOverlapsError'
  }
}

/** Text that is not a CIDR (`address/prefix`): `invalid CIDR address`. */
export class InvalidCIDRError extends IPAllocatorError {
  declare readonly code: typeof ERR_INVALID_CIDR
  constructor(message: string) {
    super(ERR_INVALID_CIDR, message)
    this.name = 'InvalidCIDRError'
  }
}

/** Text that is not an IP address, or an address of the other family: `invalid IP address`. */
export class InvalidAddressError extends IPAllocatorError {
  declare readonly code: typeof ERR_INVALID_ADDRESS
  constructor(message: string) {
    super(ERR_INVALID_ADDRESS, message)
    this.name = 'InvalidAddressError'
  }
}

/** `IPAllocator.fromJSON` was given something that is not a saved state. */
export class InvalidStateError extends IPAllocatorError {
  declare readonly code: typeof ERR_INVALID_STATE
  constructor(message: string) {
    super(ERR_INVALID_STATE, message)
    this.name = 'InvalidStateError'
  }
}
