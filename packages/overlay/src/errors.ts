import { DriverError } from '@cnm/driverapi'

/** The driver was made without a cluster (`cnm serve --cluster-store … --advertise …`). */
export const ERR_NO_CLUSTER = 'ERR_NO_CLUSTER'
/** Every VNI of the range is taken, or the one asked for is another network's. */
export const ERR_VNI_UNAVAILABLE = 'ERR_VNI_UNAVAILABLE'
/** The address asked for is another endpoint's somewhere in the cluster. */
export const ERR_ADDRESS_IN_USE = 'ERR_ADDRESS_IN_USE'
/** No device on this host holds the advertised (underlay) address. */
export const ERR_NO_UNDERLAY = 'ERR_NO_UNDERLAY'

/** A global-scope network needs the cluster this host joined. */
export class NoClusterError extends DriverError {
  constructor(nid: string) {
    super(
      ERR_NO_CLUSTER,
      'unavailable',
      `overlay network ${nid}: this host joined no cluster (start the daemon with --cluster-store and --advertise)`,
    )
  }
}

/** The VNI asked for is taken, or none is left. */
export class VniUnavailableError extends DriverError {
  constructor(message: string) {
    super(ERR_VNI_UNAVAILABLE, 'conflict', message)
  }
}

/** An address another endpoint of the network holds, on this host or another. */
export class AddressInUseError extends DriverError {
  constructor(nid: string, ip: string) {
    super(ERR_ADDRESS_IN_USE, 'conflict', `overlay network ${nid}: address ${ip} is already in use in the cluster`)
  }
}

/** The advertised address is on no device of this host. */
export class NoUnderlayError extends DriverError {
  constructor(address: string) {
    super(ERR_NO_UNDERLAY, 'not-found', `no interface of this host holds the advertised address ${address}`)
  }
}
