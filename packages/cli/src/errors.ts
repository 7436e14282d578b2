import { errorCode as anyErrorCode, CnmError, type ErrorKind } from '@cnm/driverapi'

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
/** `cnm network prune`: some networks that matched could not be removed (each reported). */
export const ERR_PRUNE_INCOMPLETE = 'ERR_PRUNE_INCOMPLETE'
/** `cnm network rm` / `endpoint rm` of what dockerd made, without `-f` (dockerd would not be told). */
export const ERR_DOCKER_OWNED = 'ERR_DOCKER_OWNED'

/**
 * The kind of each of the CLI's codes: usage and argument errors are `invalid`; a socket another
 * server answers on is a `conflict`; a check or repair that failed in the kernel is `kernel`; a
 * demo stopped by a signal is `unavailable` (shutting down).
 */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_INVALID_ARGUMENT]: 'invalid',
  [ERR_INVALID_PUBLISH_SPEC]: 'invalid',
  [ERR_AMBIGUOUS_REFERENCE]: 'invalid',
  [ERR_UNKNOWN_COMMAND]: 'invalid',
  [ERR_UNKNOWN_OPTION]: 'invalid',
  [ERR_MISSING_ARGUMENT]: 'invalid',
  [ERR_TOO_MANY_ARGUMENTS]: 'invalid',
  [ERR_SOCKET_IN_USE]: 'conflict',
  [ERR_NOT_FOUND]: 'not-found',
  [ERR_DEMO_FAILED]: 'kernel',
  [ERR_INTERRUPTED]: 'unavailable',
  [ERR_RECONCILE_INCOMPLETE]: 'kernel',
  [ERR_PRUNE_INCOMPLETE]: 'conflict',
  [ERR_DOCKER_OWNED]: 'conflict',
}

/**
 * Every error the CLI raises itself; the controller's, drivers' and kernel's keep their codes. A
 * CLI code has its kind from the table above; another package's code (the CLI raises the
 * controller's `ERR_UNKNOWN_NETWORK`, say) takes `options.kind` (else `kernel`).
 */
export class CliError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    const kind = Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : undefined
    super(code, options?.kind ?? kind ?? 'kernel', message, options)
  }
}

export const invalidArgument = (message: string): CliError => new CliError(ERR_INVALID_ARGUMENT, message)

/** The code of any error (`ERR_…`, an errno name), or undefined (also for an empty one). */
export function errorCode(err: unknown): string | undefined {
  return anyErrorCode(err) || undefined
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
