/** A transport address (protocol, IP, port) that is not valid where it is used. */
export const ERR_INVALID_TRANSPORT_ADDRESS = 'ERR_INVALID_TRANSPORT_ADDRESS'
/** A container port range and a host port range of different sizes. */
export const ERR_INVALID_PORT_RANGE = 'ERR_INVALID_PORT_RANGE'
/** This mapper already maps that host address (protocol, IP, port). */
export const ERR_PORT_MAPPED_FOR_IP = 'ERR_PORT_MAPPED_FOR_IP'
/** `unmap` of a host address this mapper does not map: `port is not mapped`. */
export const ERR_PORT_NOT_MAPPED = 'ERR_PORT_NOT_MAPPED'

/**
 * Every error this package throws itself; check `code`. Errors of the allocator
 * (`ERR_PORT_ALREADY_ALLOCATED`, `ERR_ALL_PORTS_ALLOCATED`, …) and of the firewall (`EEXIST`,
 * `ERR_NOT_SUPPORTED`, …) reach the caller unchanged.
 */
export class PortMapperError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PortMapperError'
    this.code = code
  }
}
