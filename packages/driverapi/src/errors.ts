import { CnmError } from './cnm-error.js'

/** The code of {@link NoNetworkError}: a network id the driver does not know. Kind `not-found`. */
export const ERR_NO_NETWORK = 'ERR_NO_NETWORK'
/** The code of {@link NoEndpointError}: an endpoint id the driver does not know. Kind `not-found`. */
export const ERR_NO_ENDPOINT = 'ERR_NO_ENDPOINT'
/** The code of {@link EndpointExistsError}: an endpoint id already in use on the network. Kind `conflict`. */
export const ERR_ENDPOINT_EXISTS = 'ERR_ENDPOINT_EXISTS'
/** The code of {@link NetworkExistsError}: a network id already in use in the driver. Kind `conflict`. */
export const ERR_NETWORK_EXISTS = 'ERR_NETWORK_EXISTS'
/**
 * The code of {@link ActiveEndpointsError}: a network that still has endpoints cannot be deleted.
 * Kind `conflict`.
 */
export const ERR_ACTIVE_ENDPOINTS = 'ERR_ACTIVE_ENDPOINTS'
/**
 * The code of {@link InvalidConfigError}: a driver, network or endpoint option that fails validation
 * (an unknown key, a bad CIDR, a subnet that overlaps another network); the message names the
 * option and the value. Kind `invalid`.
 */
export const ERR_INVALID_CONFIG = 'ERR_INVALID_CONFIG'
/** The code of {@link NotSupportedError}: a feature this kernel or driver does not have. Kind `unsupported`. */
export const ERR_NOT_SUPPORTED = 'ERR_NOT_SUPPORTED'
/**
 * The code of {@link TeardownError}: a teardown (delete, leave) in which some steps failed; every
 * step still ran and the error's `errors` lists each failure. Kind `kernel`.
 */
export const ERR_TEARDOWN = 'ERR_TEARDOWN'
/** A name the kernel does not take for a link (1–15 bytes, no `/`, whitespace or `:`); netlink's and the firewall's. */
export const ERR_INVALID_INTERFACE_NAME = 'ERR_INVALID_INTERFACE_NAME'

/** Base class of the errors drivers share. `code` is stable; check it, not only `instanceof`. */
export class DriverError extends CnmError {}

/** A network id the driver does not know. */
export class NoNetworkError extends DriverError {
  readonly networkId: string
  constructor(networkId: string) {
    super(ERR_NO_NETWORK, 'not-found', `network ${networkId} not found`)
    this.networkId = networkId
  }
}

/** An endpoint id the driver does not know on that network. */
export class NoEndpointError extends DriverError {
  readonly endpointId: string
  constructor(endpointId: string) {
    super(ERR_NO_ENDPOINT, 'not-found', `endpoint ${endpointId} not found`)
    this.endpointId = endpointId
  }
}

/** An endpoint id already in use on that network. */
export class EndpointExistsError extends DriverError {
  readonly endpointId: string
  constructor(endpointId: string) {
    super(ERR_ENDPOINT_EXISTS, 'conflict', `endpoint ${endpointId} already exists`)
    this.endpointId = endpointId
  }
}

/** A network id already in use in that driver. */
export class NetworkExistsError extends DriverError {
  readonly networkId: string
  constructor(networkId: string) {
    super(ERR_NETWORK_EXISTS, 'conflict', `network ${networkId} already exists`)
    this.networkId = networkId
  }
}

/** A network that still has endpoints cannot be deleted. */
export class ActiveEndpointsError extends DriverError {
  readonly networkId: string
  constructor(networkId: string, count: number) {
    super(ERR_ACTIVE_ENDPOINTS, 'conflict', `network ${networkId} has ${count} active endpoint(s)`)
    this.networkId = networkId
  }
}

/** Options that fail validation; the message names the option and the value. */
export class InvalidConfigError extends DriverError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_INVALID_CONFIG, 'invalid', message, options)
  }
}

/** A feature this kernel or driver does not have. */
export class NotSupportedError extends DriverError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_NOT_SUPPORTED, 'unsupported', message, options)
  }
}

/** A teardown in which some steps failed; every step still ran, and `errors` holds each failure. */
export class TeardownError extends DriverError {
  readonly errors: unknown[]
  constructor(what: string, errors: unknown[]) {
    super(
      ERR_TEARDOWN,
      'kernel',
      `${what}: ${errors.length} step(s) failed: ${errors.map((e) => (e as Error)?.message ?? String(e)).join('; ')}`,
    )
    this.errors = errors
  }
}
