import type { ErrorKind } from './cnm-error.js'

/**
 * The kind of a kernel failure, by its errno name, where the errno clearly means one:
 *
 * - `conflict`: `EEXIST` (the link, address, route, rule … exists), `EADDRINUSE`, `EBUSY` (in use),
 *   `ENOTEMPTY`
 * - `not-found`: `ENOENT`, `ENODEV` (no such link), `ENXIO`, `ESRCH` (no such route),
 *   `EADDRNOTAVAIL` (no such address)
 * - `unsupported`: `EOPNOTSUPP`/`ENOTSUP`, `EPROTONOSUPPORT`, `EAFNOSUPPORT` (this kernel lacks it)
 *
 * Every other errno (`EPERM`, `EACCES`, `EINVAL`, `ENOBUFS`, …) is `kernel`.
 */
const ERRNO_KINDS: Readonly<Record<string, ErrorKind>> = {
  EEXIST: 'conflict',
  EADDRINUSE: 'conflict',
  EBUSY: 'conflict',
  ENOTEMPTY: 'conflict',
  ENOENT: 'not-found',
  ENODEV: 'not-found',
  ENXIO: 'not-found',
  ESRCH: 'not-found',
  EADDRNOTAVAIL: 'not-found',
  EOPNOTSUPP: 'unsupported',
  ENOTSUP: 'unsupported',
  EPROTONOSUPPORT: 'unsupported',
  EAFNOSUPPORT: 'unsupported',
}

/** The kind of an error whose code is an errno name (`EEXIST` → `conflict`); `kernel` for the rest. */
export function errnoKind(code: string): ErrorKind {
  return Object.hasOwn(ERRNO_KINDS, code) ? (ERRNO_KINDS[code] as ErrorKind) : 'kernel'
}
