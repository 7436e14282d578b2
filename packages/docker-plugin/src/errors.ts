import { CnmError, type ErrorKind } from '@cnm/driverapi'

/** A request names a network, endpoint or pool that is not there. */
export const ERR_DOCKER_UNKNOWN_OBJECT = 'ERR_DOCKER_UNKNOWN_OBJECT'
/** A request's field or option is malformed or not one cnm supports. */
export const ERR_DOCKER_INVALID_REQUEST = 'ERR_DOCKER_INVALID_REQUEST'
/** A verb of the protocol cnm does not offer (swarm's AllocateNetwork). */
export const ERR_DOCKER_NOT_SUPPORTED = 'ERR_DOCKER_NOT_SUPPORTED'
/** An address or a pool is taken, or overlaps one in use. */
export const ERR_DOCKER_ADDRESS_IN_USE = 'ERR_DOCKER_ADDRESS_IN_USE'
/** A pool has no free address left. */
export const ERR_DOCKER_NO_ADDRESS = 'ERR_DOCKER_NO_ADDRESS'
/** The plugin's state file cannot be read or written. */
export const ERR_DOCKER_STATE = 'ERR_DOCKER_STATE'

const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_DOCKER_UNKNOWN_OBJECT]: 'not-found',
  [ERR_DOCKER_INVALID_REQUEST]: 'invalid',
  [ERR_DOCKER_NOT_SUPPORTED]: 'unsupported',
  [ERR_DOCKER_ADDRESS_IN_USE]: 'conflict',
  [ERR_DOCKER_NO_ADDRESS]: 'conflict',
  [ERR_DOCKER_STATE]: 'unavailable',
}

/**
 * An error of the Docker plugin: a stable code, its kind (the code's own unless `kind` says another:
 * a state file that holds something cnm never writes is `invalid`, not `unavailable`), a message
 * naming the object.
 */
export class DockerPluginError extends CnmError {
  constructor(code: keyof typeof KINDS & string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(code, options?.kind ?? KINDS[code] ?? 'invalid', message, options)
  }
}

export const invalidRequest = (message: string, cause?: unknown): DockerPluginError =>
  new DockerPluginError(ERR_DOCKER_INVALID_REQUEST, message, cause === undefined ? undefined : { cause })

/** The text of an `Err`/`Error` answer: the message, with the code when the error has one. */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown }
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return typeof e?.code === 'string' && !message.includes(`(${e.code})`) ? `${message} (${e.code})` : message
}
