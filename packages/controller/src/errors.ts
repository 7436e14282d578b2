import { CnmError, ERR_ACTIVE_ENDPOINTS, type ErrorKind, errorKind } from '@cnm/driverapi'

/**
 * A driver name no factory is registered for (`newNetworkDriver('foo')`, a network create with
 * `driver: 'foo'`, a stored network of a driver this process does not have). Kind `invalid`.
 */
export const ERR_UNKNOWN_DRIVER = 'ERR_UNKNOWN_DRIVER'
/**
 * `newNetwork` was given no driver handle (`null` or `undefined`), libnetwork's "nil network
 * driver". Kind `invalid`.
 */
export const ERR_NIL_NETWORK_DRIVER = 'ERR_NIL_NETWORK_DRIVER'
/**
 * `newNetwork` was given a driver handle this controller did not make (another controller's, or a
 * forged object). Kind `invalid`.
 */
export const ERR_INVALID_NETWORK_DRIVER = 'ERR_INVALID_NETWORK_DRIVER'
/**
 * A network by that name exists already (names are unique per controller, and per cluster for
 * global-scope networks). Kind `conflict`.
 */
export const ERR_NETWORK_NAME_EXISTS = 'ERR_NETWORK_NAME_EXISTS'
/** No network has that id (or name, or id prefix, where a front end resolves references). Kind `not-found`. */
export const ERR_UNKNOWN_NETWORK = 'ERR_UNKNOWN_NETWORK'
/** A network that still has endpoints (declared in `@cnm/driverapi`: drivers throw it too). */
export { ERR_ACTIVE_ENDPOINTS }
/** No endpoint has that id (or name, within its network). Kind `not-found`. */
export const ERR_UNKNOWN_ENDPOINT = 'ERR_UNKNOWN_ENDPOINT'
/** The network has an endpoint by that name already (names are unique per network). Kind `conflict`. */
export const ERR_ENDPOINT_NAME_EXISTS = 'ERR_ENDPOINT_NAME_EXISTS'
/** No sandbox has that id, container id or key. Kind `not-found`. */
export const ERR_UNKNOWN_SANDBOX = 'ERR_UNKNOWN_SANDBOX'
/**
 * A network or endpoint name, or a sandbox's container id, that breaks Docker's rule: 1-128
 * characters, a letter or digit first, then letters, digits, `_`, `.` or `-`. Kind `invalid`.
 */
export const ERR_INVALID_NAME = 'ERR_INVALID_NAME'
/** A network label that is not a `key: value` string pair (empty key, control characters, …). */
export const ERR_INVALID_LABEL = 'ERR_INVALID_LABEL'
/** `join` of an endpoint that is joined to a sandbox already (leave it first). Kind `conflict`. */
export const ERR_ALREADY_JOINED = 'ERR_ALREADY_JOINED'
/**
 * The sandbox already has an endpoint on that network: a second interface of one sandbox on one
 * network needs the join's `allowSameNetwork`. Kind `conflict`.
 */
export const ERR_ALREADY_CONNECTED = 'ERR_ALREADY_CONNECTED'
/** A join's `interfaceName` other than the name the endpoint's driver gave it in that sandbox. */
export const ERR_INTERFACE_NAME_MISMATCH = 'ERR_INTERFACE_NAME_MISMATCH'
/** `leave` of an endpoint that is not joined to that sandbox. Kind `conflict`. */
export const ERR_NOT_JOINED = 'ERR_NOT_JOINED'
/** An operation on a controller after its `close()`. Kind `unavailable`. */
export const ERR_CONTROLLER_CLOSED = 'ERR_CONTROLLER_CLOSED'
/**
 * The store cannot be opened or used (a missing directory, a corrupt or unreadable SQLite file, a
 * failed write); the SQLite error is the `cause`. Kind `unavailable`.
 */
export const ERR_STORE = 'ERR_STORE'
/**
 * The store is not the one this host's kernel objects belong to: it came back empty under the id
 * recorded beside it (`<store>.id`, see `onStoreMismatch`), or it was replaced or truncated while
 * this process had it open. The message names what was found. Kind `conflict` (`unavailable` for a
 * store changed under a running process).
 */
export const ERR_STORE_MISMATCH = 'ERR_STORE_MISMATCH'
/** The store's one-writer lock is held by another live process (the daemon). */
export const ERR_STORE_LOCKED = 'ERR_STORE_LOCKED'
/** Ports asked of an existing endpoint whose driver cannot publish after `createEndpoint`. */
export const ERR_PORTS_NOT_SUPPORTED = 'ERR_PORTS_NOT_SUPPORTED'

/**
 * The kind of every controller code. `ERR_UNKNOWN_DRIVER` is `invalid` (a driver name in the
 * request that no factory has: the request is wrong, not a missing object); `ERR_NOT_JOINED` is a
 * `conflict` (the endpoint exists, in another state); `ERR_STORE` is `unavailable` (the store cannot
 * be opened or reached now: nothing about the request is wrong).
 */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_UNKNOWN_DRIVER]: 'invalid',
  [ERR_NIL_NETWORK_DRIVER]: 'invalid',
  [ERR_INVALID_NETWORK_DRIVER]: 'invalid',
  [ERR_NETWORK_NAME_EXISTS]: 'conflict',
  [ERR_UNKNOWN_NETWORK]: 'not-found',
  [ERR_ACTIVE_ENDPOINTS]: 'conflict',
  [ERR_UNKNOWN_ENDPOINT]: 'not-found',
  [ERR_ENDPOINT_NAME_EXISTS]: 'conflict',
  [ERR_UNKNOWN_SANDBOX]: 'not-found',
  [ERR_INVALID_NAME]: 'invalid',
  [ERR_INVALID_LABEL]: 'invalid',
  [ERR_ALREADY_JOINED]: 'conflict',
  [ERR_ALREADY_CONNECTED]: 'conflict',
  [ERR_INTERFACE_NAME_MISMATCH]: 'unsupported',
  [ERR_NOT_JOINED]: 'conflict',
  [ERR_CONTROLLER_CLOSED]: 'unavailable',
  [ERR_STORE]: 'unavailable',
  [ERR_STORE_MISMATCH]: 'conflict',
  [ERR_STORE_LOCKED]: 'conflict',
  [ERR_PORTS_NOT_SUPPORTED]: 'unsupported',
}

/**
 * Every error the controller throws itself; drivers' and the kernel's keep their own codes. `kind`
 * follows from the code; a code outside the controller's takes `options.kind`, else its cause's
 * kind, else `kernel`.
 */
export class ControllerError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    const kind = Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : undefined
    super(code, options?.kind ?? kind ?? errorKind(options?.cause) ?? 'kernel', message, options)
  }
}

/** The {@link ERR_UNKNOWN_DRIVER} error for driver name `type`: `unknown driver "type"`. */
export const unknownDriver = (type: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_DRIVER, `unknown driver "${type}"`)
/** The {@link ERR_NETWORK_NAME_EXISTS} error for network `name`: `network with name NAME already exists`. */
export const nameExists = (name: string): ControllerError =>
  new ControllerError(ERR_NETWORK_NAME_EXISTS, `network with name ${name} already exists`)
/** The {@link ERR_UNKNOWN_NETWORK} error naming the reference given: `unknown network REF`. */
export const unknownNetwork = (ref: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_NETWORK, `unknown network ${ref}`)
/** The {@link ERR_UNKNOWN_ENDPOINT} error naming the reference given: `unknown endpoint REF`. */
export const unknownEndpoint = (ref: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_ENDPOINT, `unknown endpoint ${ref}`)
/** The {@link ERR_UNKNOWN_SANDBOX} error naming the reference given: `unknown sandbox REF`. */
export const unknownSandbox = (ref: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_SANDBOX, `unknown sandbox ${ref}`)

/** Names of networks and endpoints: Docker's rule (a letter or digit first, then [A-Za-z0-9_.-]). */
export function validateName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u.test(name)) {
    throw new ControllerError(
      ERR_INVALID_NAME,
      `invalid ${kind} name ${JSON.stringify(name)}: use letters, digits, "_", "." or "-"`,
    )
  }
}
