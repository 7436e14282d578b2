import { CnmError, type ErrorKind, errnoKind } from '@cnm/driverapi'

export const ERR_INVALID_SANDBOX_KEY = 'ERR_INVALID_SANDBOX_KEY'
export const ERR_SANDBOX_EXISTS = 'ERR_SANDBOX_EXISTS'
export const ERR_NO_SANDBOX = 'ERR_NO_SANDBOX'
export const ERR_INVALID_INTERFACE = 'ERR_INVALID_INTERFACE'
export const ERR_NO_INTERFACE = 'ERR_NO_INTERFACE'
export const ERR_INVALID_GATEWAY = 'ERR_INVALID_GATEWAY'
export const ERR_SANDBOX_DESTROYED = 'ERR_SANDBOX_DESTROYED'

/** The kind of each of this package's codes; an errno name's kind is {@link errnoKind}'s. */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_INVALID_SANDBOX_KEY]: 'invalid',
  [ERR_SANDBOX_EXISTS]: 'conflict',
  [ERR_NO_SANDBOX]: 'not-found',
  [ERR_INVALID_INTERFACE]: 'invalid',
  [ERR_NO_INTERFACE]: 'not-found',
  [ERR_INVALID_GATEWAY]: 'invalid',
  [ERR_SANDBOX_DESTROYED]: 'unavailable',
}

/** Every error this package throws itself; kernel failures keep the errno name in `code`. */
export class SandboxError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(
      code,
      options?.kind ?? (Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : errnoKind(code)),
      message,
      options,
    )
  }
}
