/** A command-line or API argument that is not valid (a bad CIDR, port, option or body field). */
export const ERR_INVALID_ARGUMENT = 'ERR_INVALID_ARGUMENT'
/** A `--publish` spec (or API `publish` entry) that does not parse. */
export const ERR_INVALID_PUBLISH_SPEC = 'ERR_INVALID_PUBLISH_SPEC'
/** An id prefix that matches more than one object. */
export const ERR_AMBIGUOUS_REFERENCE = 'ERR_AMBIGUOUS_REFERENCE'
/** A command the program does not have. */
export const ERR_UNKNOWN_COMMAND = 'ERR_UNKNOWN_COMMAND'
/** An option the command does not have. */
export const ERR_UNKNOWN_OPTION = 'ERR_UNKNOWN_OPTION'
/** A required argument or option value is missing. */
export const ERR_MISSING_ARGUMENT = 'ERR_MISSING_ARGUMENT'
/** More arguments than the command takes. */
export const ERR_TOO_MANY_ARGUMENTS = 'ERR_TOO_MANY_ARGUMENTS'
/** `cnm serve`: another server already answers on the unix socket. */
export const ERR_SOCKET_IN_USE = 'ERR_SOCKET_IN_USE'
/** REST API: no such route. */
export const ERR_NOT_FOUND = 'ERR_NOT_FOUND'
/** `cnm demo`: at least one check failed. */
export const ERR_DEMO_FAILED = 'ERR_DEMO_FAILED'

/** `cnm demo`: stopped by SIGINT or SIGTERM (after cleaning up). */
export const ERR_INTERRUPTED = 'ERR_INTERRUPTED'
/** `cnm reconcile`: problems remain after the repair (listed in its report). */
export const ERR_RECONCILE_INCOMPLETE = 'ERR_RECONCILE_INCOMPLETE'

/** Every error the CLI raises itself; the controller's, drivers' and kernel's keep their codes. */
export class CliError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'CliError'
    this.code = code
  }
}

export const invalidArgument = (message: string): CliError => new CliError(ERR_INVALID_ARGUMENT, message)

/** The code of any error (`ERR_…`, an errno name), or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.length > 0 ? code : undefined
}

/** The message of any error, on one line. */
export function errorMessage(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message
  const message = typeof m === 'string' ? m : String(err)
  return message.replace(/\s*\n\s*/gu, '; ')
}

/** `cnm: <message> (<CODE>)`: how every failure is reported on stderr. */
export function formatError(err: unknown): string {
  const code = errorCode(err)
  return `cnm: ${errorMessage(err)}${code ? ` (${code})` : ''}`
}
