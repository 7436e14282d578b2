export const ERR_UNKNOWN_DRIVER = 'ERR_UNKNOWN_DRIVER'
export const ERR_NIL_NETWORK_DRIVER = 'ERR_NIL_NETWORK_DRIVER'
export const ERR_INVALID_NETWORK_DRIVER = 'ERR_INVALID_NETWORK_DRIVER'
export const ERR_NETWORK_NAME_EXISTS = 'ERR_NETWORK_NAME_EXISTS'
export const ERR_UNKNOWN_NETWORK = 'ERR_UNKNOWN_NETWORK'
export const ERR_ACTIVE_ENDPOINTS = 'ERR_ACTIVE_ENDPOINTS'
export const ERR_UNKNOWN_ENDPOINT = 'ERR_UNKNOWN_ENDPOINT'
export const ERR_ENDPOINT_NAME_EXISTS = 'ERR_ENDPOINT_NAME_EXISTS'
export const ERR_UNKNOWN_SANDBOX = 'ERR_UNKNOWN_SANDBOX'
export const ERR_INVALID_NAME = 'ERR_INVALID_NAME'
export const ERR_ALREADY_JOINED = 'ERR_ALREADY_JOINED'
export const ERR_NOT_JOINED = 'ERR_NOT_JOINED'
export const ERR_CONTROLLER_CLOSED = 'ERR_CONTROLLER_CLOSED'
export const ERR_STORE = 'ERR_STORE'

/** Every error the controller throws itself; drivers' and the kernel's keep their own codes. */
export class ControllerError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ControllerError'
    this.code = code
  }
}

export const unknownDriver = (type: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_DRIVER, `unknown driver "${type}"`)
export const nameExists = (name: string): ControllerError =>
  new ControllerError(ERR_NETWORK_NAME_EXISTS, `network with name ${name} already exists`)
export const unknownNetwork = (ref: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_NETWORK, `unknown network ${ref}`)
export const unknownEndpoint = (ref: string): ControllerError =>
  new ControllerError(ERR_UNKNOWN_ENDPOINT, `unknown endpoint ${ref}`)
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
