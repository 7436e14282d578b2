export const ERR_INVALID_CONFIG = 'ERR_INVALID_CONFIG'
export const ERR_NOT_SUPPORTED = 'ERR_NOT_SUPPORTED'

/** Every error this package throws; check `code`. */
export class FirewallError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FirewallError'
    this.code = code
  }
}
