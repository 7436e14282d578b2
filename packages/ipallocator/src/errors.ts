import type { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR } from '@cnm/ip'

// Addresses and CIDRs are parsed by @cnm/ip: its codes and error classes are this package's too.
export { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, InvalidAddressError, InvalidCIDRError } from '@cnm/ip'

/** Stable codes of every error this package throws. Check `err.code`, not only `instanceof`. */
export const ERR_NO_AVAILABLE_IPS = 'ERR_NO_AVAILABLE_IPS'
/**
 * A requested address (`requestIP`, or a saved state restored) is handed out already. Kind
 * `conflict`; the class is {@link IPAlreadyAllocatedError}.
 */
export const ERR_IP_ALREADY_ALLOCATED = 'ERR_IP_ALREADY_ALLOCATED'
/**
 * A requested address outside the pool's range (or the network's hosts), or an `nthHost` index past
 * the last host. Kind `invalid`; the class is {@link IPOutOfRangeError}.
 */
export const ERR_IP_OUT_OF_RANGE = 'ERR_IP_OUT_OF_RANGE'
/**
 * `registerSubnet` (or a restore) on a network that has a pool already. Kind `conflict`; the class
 * is {@link NetworkAlreadyRegisteredError}.
 */
export const ERR_NETWORK_ALREADY_REGISTERED = 'ERR_NETWORK_ALREADY_REGISTERED'
/**
 * `registerSubnet` with a sub-range that does not lie inside the network (or is of the other
 * family). Kind `invalid`; the class is {@link BadSubnetError}.
 */
export const ERR_BAD_SUBNET = 'ERR_BAD_SUBNET'
/**
 * `checkRouteOverlaps`: the network overlaps one of the given routes. Kind `conflict`; the class is
 * {@link NetworkOverlapsError}.
 */
export const ERR_NETWORK_OVERLAPS = 'ERR_NETWORK_OVERLAPS'
/**
 * `checkNameserverOverlaps`: the network contains one of the given name servers. Kind `conflict`;
 * the class is {@link NameserverOverlapsError}.
 */
export const ERR_NAMESERVER_OVERLAPS = 'ERR_NAMESERVER_OVERLAPS'
/**
 * `IPAllocator.fromJSON` was given something that is not a saved state (wrong shape, a bad run of
 * addresses). Kind `invalid`; the class is {@link InvalidStateError}.
 */
export const ERR_INVALID_STATE = 'ERR_INVALID_STATE'

/** Every code this package's errors carry (`ERR_INVALID_CIDR` and `ERR_INVALID_ADDRESS` are @cnm/ip's). */
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

/**
 * What kind of failure an error is (cnm's `ErrorKind`): `invalid` input, or a `conflict` with
 * what the pools hold.
 */
export type IPAllocatorErrorKind = 'invalid' | 'conflict'

/**
 * Base class of the errors this package declares: a structural copy of cnm's `CnmError` (`code`,
 * `kind`, `message`, `cause`), kept here so that this package depends on nothing but `@cnm/ip`.
 * Bad text is `@cnm/ip`'s `InvalidAddressError` / `InvalidCIDRError` (same shape, kind `invalid`).
 */
export class IPAllocatorError extends Error {
  readonly code: IPAllocatorErrorCode
  readonly kind: IPAllocatorErrorKind

  constructor(code: IPAllocatorErrorCode, kind: IPAllocatorErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'IPAllocatorError'
    this.code = code
    this.kind = kind
  }
}

/** The pool has no free address left: `no available ip addresses on network`. */
export class NoAvailableIPsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NO_AVAILABLE_IPS
  constructor(message: string) {
    super(ERR_NO_AVAILABLE_IPS, 'conflict', message)
    this.name = 'NoAvailableIPsError'
  }
}

/** The requested address is already handed out: `ip already allocated`. */
export class IPAlreadyAllocatedError extends IPAllocatorError {
  declare readonly code: typeof ERR_IP_ALREADY_ALLOCATED
  constructor(message: string) {
    super(ERR_IP_ALREADY_ALLOCATED, 'conflict', message)
    this.name = 'IPAlreadyAllocatedError'
  }
}

/** The requested address lies outside the pool's range: `requested ip is out of range`. */
export class IPOutOfRangeError extends IPAllocatorError {
  declare readonly code: typeof ERR_IP_OUT_OF_RANGE
  constructor(message: string) {
    super(ERR_IP_OUT_OF_RANGE, 'invalid', message)
    this.name = 'IPOutOfRangeError'
  }
}

/** `registerSubnet` on a network that already has a pool: `network already registered`. */
export class NetworkAlreadyRegisteredError extends IPAllocatorError {
  declare readonly code: typeof ERR_NETWORK_ALREADY_REGISTERED
  constructor(message: string) {
    super(ERR_NETWORK_ALREADY_REGISTERED, 'conflict', message)
    this.name = 'NetworkAlreadyRegisteredError'
  }
}

/** The sub-range does not lie inside the network: `network does not contain specified subnet`. */
export class BadSubnetError extends IPAllocatorError {
  declare readonly code: typeof ERR_BAD_SUBNET
  constructor(message: string) {
    super(ERR_BAD_SUBNET, 'invalid', message)
    this.name = 'BadSubnetError'
  }
}

/** A network overlaps a route: `requested network overlaps with existing network`. */
export class NetworkOverlapsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NETWORK_OVERLAPS
  constructor(message: string) {
    super(ERR_NETWORK_OVERLAPS, 'conflict', message)
    this.name = 'NetworkOverlapsError'
  }
}

/** A network contains a nameserver: `requested network overlaps with nameserver`. */
export class NameserverOverlapsError extends IPAllocatorError {
  declare readonly code: typeof ERR_NAMESERVER_OVERLAPS
  constructor(message: string) {
    super(ERR_NAMESERVER_OVERLAPS, 'conflict', message)
    this.name = 'NameserverOverlapsError'
  }
}

/** `IPAllocator.fromJSON` was given something that is not a saved state. */
export class InvalidStateError extends IPAllocatorError {
  declare readonly code: typeof ERR_INVALID_STATE
  constructor(message: string) {
    super(ERR_INVALID_STATE, 'invalid', message)
    this.name = 'InvalidStateError'
  }
}
