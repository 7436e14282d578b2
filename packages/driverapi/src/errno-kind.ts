import type { ErrorKind } from './cnm-error.js'

/**
 * The kind of a kernel failure, by its errno name, where the errno clearly means one:
 *
 * - `conflict`: `EEXIST` (the link, address, route, rule … exists), `EADDRINUSE`, `EBUSY` (in use),
 *   `ENOTEMPTY`
 * - `not-found`: `ENOENT`, `ENODEV` (no such link), `ENXIO`, `ESRCH` (no such route),
 *   `EADDRNOTAVAIL` (no such address)
 * - `unsupported`: `EOPNOTSUPP`/`ENOTSUP`, `EPROTONOSUPPORT`, `EAFNOSUPPORT` (this kernel lacks it)
 * - `unavailable`: a resource limit ({@link RESOURCE_LIMIT_ERRNOS}: file descriptors, memory, buffer
 *   or disk space): nothing is wrong with the request, the host cannot take more now (HTTP 503)
 *
 * Every other errno (`EPERM`, `EACCES`, `EINVAL`, …) is `kernel`.
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
  EMFILE: 'unavailable',
  ENFILE: 'unavailable',
  ENOMEM: 'unavailable',
  ENOBUFS: 'unavailable',
  ENOSPC: 'unavailable',
}

/**
 * The errno names of resource limits, and what each one ran out of: a failure with one of these
 * codes is kind `unavailable`, never an internal error.
 */
export const RESOURCE_LIMIT_ERRNOS: Readonly<Record<string, string>> = {
  EMFILE: "the process's open file limit (RLIMIT_NOFILE)",
  ENFILE: "the system's open file limit (fs.file-max)",
  ENOMEM: 'memory',
  ENOBUFS: 'kernel buffer space',
  ENOSPC: 'space (disk, or a kernel table)',
}

/** Whether an error (or one in its `cause` chain) is a resource limit ({@link RESOURCE_LIMIT_ERRNOS}). */
export function isResourceLimit(err: unknown): boolean {
  const seen = new Set<unknown>()
  let cur: unknown = err
  while (typeof cur === 'object' && cur !== null && !seen.has(cur)) {
    seen.add(cur)
    const code = (cur as { code?: unknown }).code
    if (typeof code === 'string' && Object.hasOwn(RESOURCE_LIMIT_ERRNOS, code)) return true
    cur = (cur as { cause?: unknown }).cause
  }
  return false
}

/** The kind of an error whose code is an errno name (`EEXIST` → `conflict`); `kernel` for the rest. */
export function errnoKind(code: string): ErrorKind {
  return Object.hasOwn(ERRNO_KINDS, code) ? (ERRNO_KINDS[code] as ErrorKind) : 'kernel'
}
