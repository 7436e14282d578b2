export const ERR_INVALID_SANDBOX_KEY = 'ERR_INVALID_SANDBOX_KEY'
export const ERR_SANDBOX_EXISTS = 'ERR_SANDBOX_EXISTS'
export const ERR_NO_SANDBOX = 'ERR_NO_SANDBOX'
export const ERR_INVALID_INTERFACE = 'ERR_INVALID_INTERFACE'
export const ERR_NO_INTERFACE = 'ERR_NO_INTERFACE'
export const ERR_INVALID_GATEWAY = 'ERR_INVALID_GATEWAY'
export const ERR_SANDBOX_DESTROYED = 'ERR_SANDBOX_DESTROYED'

/** Every error this package throws itself; kernel failures keep the errno name in `code`. */
export class SandboxError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SandboxError'
    this.code = code
  }
}
