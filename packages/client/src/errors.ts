/**
 * What kind of failure an error is (cnm's kinds, as `@cnm/driverapi`'s `CnmError` has them), plus
 * `internal` for an error the daemon did not classify.
 */
export type ClientErrorKind =
  | 'invalid'
  | 'not-found'
  | 'conflict'
  | 'unsupported'
  | 'kernel'
  | 'unavailable'
  | 'internal'

const KINDS: ReadonlySet<string> = new Set([
  'invalid',
  'not-found',
  'conflict',
  'unsupported',
  'kernel',
  'unavailable',
  'internal',
])

/** The daemon does not answer at the address (nothing listens, or the socket file is missing). */
export const ERR_DAEMON_UNREACHABLE = 'ERR_DAEMON_UNREACHABLE'
/** The socket (or TCP port) refused this user: root, or the socket's group, is needed. */
export const ERR_PERMISSION_DENIED = 'ERR_PERMISSION_DENIED'
/** An answer that is not what the API describes (not JSON, no error body, a broken stream). */
export const ERR_BAD_RESPONSE = 'ERR_BAD_RESPONSE'
/** A `host` that is not `unix:///path`, an absolute socket path or `tcp://host:port`. */
export const ERR_INVALID_HOST = 'ERR_INVALID_HOST'

/**
 * An error the daemon answered, rebuilt with its `code`, `kind` and message (and the HTTP status),
 * or a failure to reach it. The same shape as `@cnm/driverapi`'s `CnmError` (a structural copy:
 * this package depends on nothing); check `code` or `kind`, not `instanceof`.
 */
export class CnmClientError extends Error {
  readonly code: string
  readonly kind: ClientErrorKind
  /** The HTTP status, when the daemon answered. */
  readonly status: number | undefined

  constructor(code: string, kind: ClientErrorKind, message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CnmClientError'
    this.code = code
    this.kind = kind
    this.status = options?.status
  }
}

/** An error body (`{ error: { code, kind, message } }`) as an error; anything else is ERR_BAD_RESPONSE. */
export function errorFromBody(status: number, text: string): CnmClientError {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const e = (body as { error?: { code?: unknown; kind?: unknown; message?: unknown } } | undefined)?.error
  if (e && typeof e.code === 'string' && typeof e.message === 'string') {
    const kind = typeof e.kind === 'string' && KINDS.has(e.kind) ? (e.kind as ClientErrorKind) : 'internal'
    return new CnmClientError(e.code, kind, e.message, { status })
  }
  return new CnmClientError(
    ERR_BAD_RESPONSE,
    'internal',
    `the daemon answered ${status} without an error body: ${text.slice(0, 200)}`,
    { status },
  )
}

/** A failure to connect, as an error that says what to do. */
export function connectError(err: unknown, where: string): CnmClientError {
  const code = (err as { code?: unknown } | null)?.code
  if (code === 'EACCES' || code === 'EPERM') {
    return new CnmClientError(
      ERR_PERMISSION_DENIED,
      'unavailable',
      `permission denied on ${where}: root, or membership of the socket's group (cnm), is needed`,
      { cause: err },
    )
  }
  const why = typeof code === 'string' ? code : ((err as Error)?.message ?? String(err))
  return new CnmClientError(
    ERR_DAEMON_UNREACHABLE,
    'unavailable',
    `cannot reach the cnm daemon at ${where} (${why}): is \`cnm serve\` running?`,
    { cause: err },
  )
}
