export const ERR_INVALID_SANDBOX_KEY = 'ERR_INVALID_SANDBOX_KEY'

/** Every error this package throws itself; kernel failures keep the errno name in `code`. */
export class SandboxError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'SandboxError'
    this.code = code
  }
}
