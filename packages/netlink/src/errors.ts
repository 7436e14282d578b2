import { constants } from 'node:os'

/** Codes this package gives its own (non-errno) errors. */
export const ERR_INVALID_INTERFACE_NAME = 'ERR_INVALID_INTERFACE_NAME'
export const ERR_INVALID_NETNS_PATH = 'ERR_INVALID_NETNS_PATH'
export const ERR_ADDON_UNAVAILABLE = 'ERR_ADDON_UNAVAILABLE'

/**
 * Every error this package throws. `code` is either one of the `ERR_*` codes above or, for a
 * kernel failure, the errno name (`EEXIST`, `ENODEV`, `EPERM`, …) with `errno` set.
 */
export class NetlinkError extends Error {
  readonly code: string
  readonly errno: number | undefined

  constructor(code: string, message: string, options?: { errno?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'NetlinkError'
    this.code = code
    this.errno = options?.errno
  }
}

const errnoNames = new Map<number, string>()
for (const [name, value] of Object.entries(constants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name)
}

/** The symbolic name of a positive errno value (`17` → `EEXIST`). */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `ERRNO_${errno}`
}

/** An error for a failed syscall or kernel request: `<what>: <ENAME>`. */
export function kernelError(errno: number, what: string, cause?: unknown): NetlinkError {
  const code = errnoName(errno)
  return new NetlinkError(code, `${what}: ${code}`, { errno, cause })
}
