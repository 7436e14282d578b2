/** Text that is not an IPv4 or IPv6 address (or a value out of its family's range). */
export const ERR_INVALID_ADDRESS = 'ERR_INVALID_ADDRESS'
/** Text that is not `address/prefix` with a prefix length that fits the family. */
export const ERR_INVALID_CIDR = 'ERR_INVALID_CIDR'

/** Every code this package puts in an error's `code`. */
export type IPErrorCode = typeof ERR_INVALID_ADDRESS | typeof ERR_INVALID_CIDR

/**
 * The base of every error this package throws: a structural copy of cnm's `CnmError` (`code`,
 * `kind`, `message`, `cause`), kept here so that this package has no dependency. Every error here
 * is bad input, so `kind` is always `'invalid'`. Check `code`, not only `instanceof`: two copies
 * of this package may be installed.
 */
export class IPError extends Error {
  readonly code: IPErrorCode
  readonly kind: 'invalid'

  constructor(code: IPErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.kind = 'invalid'
  }
}

/** `invalid IP address "10.0.0.256"`. */
export class InvalidAddressError extends IPError {
  declare readonly code: typeof ERR_INVALID_ADDRESS

  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_INVALID_ADDRESS, message, options)
  }
}

/** `invalid CIDR address "10.0.0.0/33"`. */
export class InvalidCIDRError extends IPError {
  declare readonly code: typeof ERR_INVALID_CIDR

  constructor(message: string, options?: { cause?: unknown }) {
    super(ERR_INVALID_CIDR, message, options)
  }
}

/** How a value is shown in a message: strings quoted, other types named. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (value === null || value === undefined) return String(value)
  return `(${typeof value})`
}
