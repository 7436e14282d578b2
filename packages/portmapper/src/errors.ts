import { CnmError, ERR_NOT_SUPPORTED, type ErrorKind } from '@cnm/driverapi'
import { ERR_PORT_ALREADY_ALLOCATED } from '@cnm/portallocator'

/** A transport address (protocol, IP, port) that is not valid where it is used. */
export const ERR_INVALID_TRANSPORT_ADDRESS = 'ERR_INVALID_TRANSPORT_ADDRESS'
/** A container port range and a host port range of different sizes. */
export const ERR_INVALID_PORT_RANGE = 'ERR_INVALID_PORT_RANGE'
/** This mapper already maps that host address (protocol, IP, port). */
export const ERR_PORT_MAPPED_FOR_IP = 'ERR_PORT_MAPPED_FOR_IP'
/** `unpublish` of a host port this mapper does not publish: `port is not mapped`. */
export const ERR_PORT_NOT_MAPPED = 'ERR_PORT_NOT_MAPPED'

/**
 * The kind of each code a `PortMapperError` carries: its own, and the allocator's
 * `ERR_PORT_ALREADY_ALLOCATED` and driverapi's `ERR_NOT_SUPPORTED` that the mapper also throws.
 */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_INVALID_TRANSPORT_ADDRESS]: 'invalid',
  [ERR_INVALID_PORT_RANGE]: 'invalid',
  [ERR_PORT_MAPPED_FOR_IP]: 'conflict',
  [ERR_PORT_NOT_MAPPED]: 'not-found',
  [ERR_PORT_ALREADY_ALLOCATED]: 'conflict',
  [ERR_NOT_SUPPORTED]: 'unsupported',
}

/**
 * Every error this package throws itself; check `code` (or `kind`). Errors of the allocator
 * (`ERR_PORT_ALREADY_ALLOCATED`, `ERR_ALL_PORTS_ALLOCATED`, …) and of the firewall (`EEXIST`,
 * `ERR_NOT_SUPPORTED`, …) reach the caller unchanged.
 */
export class PortMapperError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(code, options?.kind ?? (Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : 'kernel'), message, options)
  }
}
