/**
 * What kind of failure an error is: what a caller (or the REST layer, for its HTTP status) needs
 * to decide, whatever the exact code.
 *
 * - `invalid`: bad input, refused before anything changed (400)
 * - `not-found`: a network, endpoint, sandbox … that does not exist (404)
 * - `conflict`: exists already, in use, taken, overlapping (409)
 * - `unsupported`: a feature this driver, kernel or build does not have (400)
 * - `kernel`: the kernel (or a kernel tool) refused or failed (500)
 * - `unavailable`: closed, shutting down, a store or peer not reachable now (503)
 */
export type ErrorKind = 'invalid' | 'not-found' | 'conflict' | 'unsupported' | 'kernel' | 'unavailable'

/**
 * Every {@link ErrorKind}, in a stable order: what a value must be one of to count as a kind
 * (`errorKind` walks an error's `cause` chain for the first such value).
 */
export const ERROR_KINDS: readonly ErrorKind[] = [
  'invalid',
  'not-found',
  'conflict',
  'unsupported',
  'kernel',
  'unavailable',
]

/**
 * The one error base of cnm: a stable `code` (Node style, `ERR_…`, or an errno name such as
 * `EEXIST` for kernel failures), a `kind`, a message that names the object, and the original
 * error in `cause`. Every package's error class extends it (the zero-dependency packages keep a
 * structural copy of these few lines). Check errors by `code` or `kind` with
 * {@link hasErrorCode}/{@link errorKind}, not only `instanceof`: two copies of a package may be
 * installed.
 */
export class CnmError extends Error {
  /**
   * Stable across releases: an `ERR_…` code of the package that threw, or the errno name (`EEXIST`,
   * `ENODEV`, …) of a kernel failure. Branch on this, never on the message.
   */
  readonly code: string
  /**
   * What kind of failure it is, for a caller that only needs to decide (the REST layer maps it to an
   * HTTP status: `invalid`/`unsupported` 400, `not-found` 404, `conflict` 409, `kernel` 500, `unavailable` 503).
   */
  readonly kind: ErrorKind

  constructor(code: string, kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.kind = kind
  }
}

/** The `kind` of an error-like value (its own, else the first in its `cause` chain), or undefined. */
export function errorKind(err: unknown): ErrorKind | undefined {
  const seen = new Set<unknown>()
  let cur: unknown = err
  while (typeof cur === 'object' && cur !== null && !seen.has(cur)) {
    seen.add(cur)
    const kind = (cur as { kind?: unknown }).kind
    if (typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind)) return kind as ErrorKind
    cur = (cur as { cause?: unknown }).cause
  }
  return undefined
}
