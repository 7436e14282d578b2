import { ERR_INVALID_ADDRESS } from '@cnm/ip'

/** The port is held by this allocator, or bound by a socket the OS already has. */
export const ERR_PORT_ALREADY_ALLOCATED = 'ERR_PORT_ALREADY_ALLOCATED'
/** No free port (or no free block of the size asked) is left in the allocator's range. */
export const ERR_ALL_PORTS_ALLOCATED = 'ERR_ALL_PORTS_ALLOCATED'
/** The protocol is not `tcp`, `udp` or `sctp`. */
export const ERR_UNKNOWN_PROTOCOL = 'ERR_UNKNOWN_PROTOCOL'
/** A port, a port range or a block size is not an integer in 1–65535 (or the range is reversed). */
export const ERR_INVALID_PORT = 'ERR_INVALID_PORT'
/** The IP is not a valid IPv4 or IPv6 address (the code is `@cnm/ip`'s). */
export { ERR_INVALID_ADDRESS }

/** Every code this package puts in an error's `code`. */
export type PortAllocatorErrorCode =
  | typeof ERR_PORT_ALREADY_ALLOCATED
  | typeof ERR_ALL_PORTS_ALLOCATED
  | typeof ERR_UNKNOWN_PROTOCOL
  | typeof ERR_INVALID_PORT
  | typeof ERR_INVALID_ADDRESS

/** What kind of failure an error is (cnm's `ErrorKind`): `invalid` input, or a `conflict` with what is held. */
export type PortAllocatorErrorKind = 'invalid' | 'conflict'

/**
 * The base of every error this package throws: a structural copy of cnm's `CnmError` (`code`,
 * `kind`, `message`, `cause`), kept here so that this package depends on nothing but `@cnm/ip`.
 * Check `code` rather than `instanceof`.
 */
export class PortAllocatorError extends Error {
  readonly code: PortAllocatorErrorCode
  readonly kind: PortAllocatorErrorKind

  constructor(
    code: PortAllocatorErrorCode,
    kind: PortAllocatorErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PortAllocatorError'
    this.code = code
    this.kind = kind
  }
}

/** Formats an address and port the way a socket API would: `10.0.0.1:80`, `[::1]:80`. */
export function formatIPPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/**
 * `Bind for <ip>:<port> failed: port is already allocated`. When a socket on the machine holds
 * the port (rather than this allocator), `byOS` is true and the message says so.
 */
export class PortAlreadyAllocatedError extends PortAllocatorError {
  declare readonly code: typeof ERR_PORT_ALREADY_ALLOCATED
  readonly ip: string
  readonly port: number
  readonly ipPort: string
  readonly byOS: boolean

  constructor(ip: string, port: number, byOS = false) {
    const ipPort = formatIPPort(ip, port)
    const why = byOS ? ' (the OS already uses it: a socket on this machine has it bound)' : ''
    super(ERR_PORT_ALREADY_ALLOCATED, 'conflict', `Bind for ${ipPort} failed: port is already allocated${why}`)
    this.name = 'PortAlreadyAllocatedError'
    this.ip = ip
    this.port = port
    this.ipPort = ipPort
    this.byOS = byOS
  }
}

/** `all ports are allocated`: the range has no free port (or block) left for that IP and protocol. */
export class AllPortsAllocatedError extends PortAllocatorError {
  declare readonly code: typeof ERR_ALL_PORTS_ALLOCATED

  constructor(detail?: string) {
    super(
      ERR_ALL_PORTS_ALLOCATED,
      'conflict',
      detail === undefined ? 'all ports are allocated' : `all ports are allocated: ${detail}`,
    )
    this.name = 'AllPortsAllocatedError'
  }
}

/** `unknown protocol "icmp": expected tcp, udp or sctp`. */
export class UnknownProtocolError extends PortAllocatorError {
  declare readonly code: typeof ERR_UNKNOWN_PROTOCOL
  readonly protocol: unknown

  constructor(protocol: unknown) {
    super(ERR_UNKNOWN_PROTOCOL, 'invalid', `unknown protocol ${describe(protocol)}: expected tcp, udp or sctp`)
    this.name = 'UnknownProtocolError'
    this.protocol = protocol
  }
}

/** `invalid port 70000: expected an integer from 1 to 65535`, or a reversed range. */
export class InvalidPortError extends PortAllocatorError {
  declare readonly code: typeof ERR_INVALID_PORT
  readonly port: unknown

  /** `subject` names what was wrong when it is not a single port (`port range 8081-8080`). */
  constructor(port: unknown, why = 'expected an integer from 1 to 65535', subject = `port ${describe(port)}`) {
    super(ERR_INVALID_PORT, 'invalid', `invalid ${subject}: ${why}`)
    this.name = 'InvalidPortError'
    this.port = port
  }
}

/** `invalid IP address "10.0.0.256": ...`. */
export class InvalidAddressError extends PortAllocatorError {
  declare readonly code: typeof ERR_INVALID_ADDRESS
  readonly address: unknown

  constructor(address: unknown, why = 'expected an IPv4 or IPv6 address') {
    super(ERR_INVALID_ADDRESS, 'invalid', `invalid IP address ${describe(address)}: ${why}`)
    this.name = 'InvalidAddressError'
    this.address = address
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (typeof value === 'string') return JSON.stringify(value)
  if (value === null || value === undefined) return String(value)
  return `(${typeof value})`
}
