import { constants } from 'node:os'
import { CnmError, ERR_INVALID_INTERFACE_NAME, type ErrorKind, errnoKind } from '@cnm/driverapi'

export { ERR_INVALID_INTERFACE_NAME }

/** Codes this package gives its own (non-errno) errors. */
export const ERR_INVALID_NETNS_PATH = 'ERR_INVALID_NETNS_PATH'
/** An MTU that is not an integer 68-65535 (checked before any request). Kind `invalid`. */
export const ERR_INVALID_MTU = 'ERR_INVALID_MTU'
/** A MAC address that is not six colon-separated hex bytes (`02:42:ac:11:00:02`). Kind `invalid`. */
export const ERR_INVALID_MAC = 'ERR_INVALID_MAC'
/** An interface alias (IFLA_IFALIAS) longer than 255 bytes. Kind `invalid`. */
export const ERR_INVALID_ALIAS = 'ERR_INVALID_ALIAS'
/**
 * A sysctl key outside `net/…` (or `net.…`), or with a part that is not a plain name (`..`, `/`,
 * odd characters), so no path outside `/proc/sys/net` can be reached. Kind `invalid`.
 */
export const ERR_INVALID_SYSCTL = 'ERR_INVALID_SYSCTL'
/**
 * The namespace addon (`cnm_netns.node`) could neither be loaded from the package's prebuilds nor
 * from a local build: reinstall the package or run `cnm-build-addon` in its directory. Kind
 * `unsupported`.
 */
export const ERR_ADDON_UNAVAILABLE = 'ERR_ADDON_UNAVAILABLE'
/** A request on a {@link Handle} after its `close()`. Kind `unavailable`. */
export const ERR_HANDLE_CLOSED = 'ERR_HANDLE_CLOSED'
/**
 * The kernel did not answer a netlink request within the handle's `timeoutMs` (default 5000 ms).
 * Kind `kernel`.
 */
export const ERR_NETLINK_TIMEOUT = 'ERR_NETLINK_TIMEOUT'
/** A netlink request that failed without an errno (the socket, or a message that does not parse). */
export const ERR_NETLINK = 'ERR_NETLINK'

/**
 * The kind of each of this package's own codes. Every `ERR_INVALID_*` code (those above, and
 * `ERR_INVALID_ADDRESS` of the address codec) is `invalid`; a kernel failure's errno name has the
 * kind {@link errnoKind} gives it (`EEXIST` conflict, `ENODEV`/`ENOENT`/`ESRCH`/`EADDRNOTAVAIL`
 * not-found, `EOPNOTSUPP` unsupported, any other errno `kernel`).
 */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_ADDON_UNAVAILABLE]: 'unsupported',
  [ERR_HANDLE_CLOSED]: 'unavailable',
  [ERR_NETLINK_TIMEOUT]: 'kernel',
  [ERR_NETLINK]: 'kernel',
}

function kindOf(code: string): ErrorKind {
  if (Object.hasOwn(KINDS, code)) return KINDS[code] as ErrorKind
  if (code.startsWith('ERR_INVALID_')) return 'invalid'
  return errnoKind(code)
}

/**
 * Every error this package throws. `code` is either one of the `ERR_*` codes above or, for a
 * kernel failure, the errno name (`EEXIST`, `ENODEV`, `EPERM`, …) with `errno` set; `kind` follows
 * from the code.
 */
export class NetlinkError extends CnmError {
  readonly errno: number | undefined

  constructor(code: string, message: string, options?: { errno?: number; cause?: unknown; kind?: ErrorKind }) {
    super(code, options?.kind ?? kindOf(code), message, options)
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
