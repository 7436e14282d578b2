import { CnmError, type ErrorKind, errnoKind } from '@cnm/driverapi'

/**
 * A sandbox key that is not an absolute, normalised path where a namespace can be bound (or a
 * sandbox id with characters a file name cannot hold). Kind `invalid`.
 */
export const ERR_INVALID_SANDBOX_KEY = 'ERR_INVALID_SANDBOX_KEY'
/** `newSandbox` at a key where a file or namespace exists already. Kind `conflict`. */
export const ERR_SANDBOX_EXISTS = 'ERR_SANDBOX_EXISTS'
/** `openSandbox` at a key where no network namespace is bound. Kind `not-found`. */
export const ERR_NO_SANDBOX = 'ERR_NO_SANDBOX'
/**
 * An interface specification (`@cnm/driverapi`'s `Interface`) that cannot be added: a bad
 * `srcName`/`dstName` (not a valid interface name), an address that is not CIDR of the right
 * family, a bad MAC, an MTU outside 68-65535; the message names it. Kind `invalid`.
 */
export const ERR_INVALID_INTERFACE = 'ERR_INVALID_INTERFACE'
/** `removeInterface` of a name the sandbox does not hold. Kind `not-found`. */
export const ERR_NO_INTERFACE = 'ERR_NO_INTERFACE'
/**
 * `setGateway` with something other than an IPv4 address, or `setGatewayIPv6` with something other
 * than an IPv6 address. Kind `invalid`.
 */
export const ERR_INVALID_GATEWAY = 'ERR_INVALID_GATEWAY'
/** A call on a sandbox object after its `close()` or `destroy()`. Kind `unavailable`. */
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
