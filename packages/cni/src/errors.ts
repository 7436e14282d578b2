import { CnmError, type ErrorKind, errorCode, errorKind } from '@cnm/driverapi'

/** The error codes of the CNI specification (SPEC.md, "Error"), and cnm's own (100 and up). */
export const CNI_ERROR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETWORK_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  PLUGIN_NOT_AVAILABLE: 50,
  LIMITED_CONNECTIVITY: 51,
  /** cnm: the request conflicts with what exists (a port another process holds, an address taken). */
  CONFLICT: 100,
  /** cnm: the kernel refused. */
  KERNEL: 101,
  /** cnm: something this host or driver does not support. */
  UNSUPPORTED: 102,
  /** cnm: CHECK found the attachment not as it was made. */
  CHECK_FAILED: 103,
  /** cnm: an error cnm did not classify. */
  INTERNAL: 199,
} as const

/**
 * The configuration's `cniVersion` is not one this plugin speaks (see `SUPPORTED_VERSIONS`); kind
 * `unsupported`, CNI code 1 (incompatible version).
 */
export const ERR_CNI_VERSION = 'ERR_CNI_VERSION'
/**
 * The `CNI_*` environment is missing a variable the command needs or holds a bad value (an unknown
 * `CNI_COMMAND`, a bad `CNI_CONTAINERID`, `CNI_IFNAME`, `CNI_NETNS` or `CNI_ARGS`); kind `invalid`,
 * CNI code 4.
 */
export const ERR_CNI_ENV = 'ERR_CNI_ENV'
/** The configuration on stdin is not a JSON object; kind `invalid`, CNI code 6 (decode failure). */
export const ERR_CNI_DECODE = 'ERR_CNI_DECODE'
/**
 * The network configuration is invalid: a missing `cniVersion`, a bad field or port mapping, CHECK
 * without `prevResult`, GC without `cni.dev/valid-attachments`; kind `invalid`, CNI code 7.
 */
export const ERR_CNI_CONFIG = 'ERR_CNI_CONFIG'
/**
 * CHECK found the attachment not as ADD made it (its interface, address or route gone or
 * changed); kind `not-found`, CNI code 103 (`CHECK_FAILED`) unless a more specific one applies.
 */
export const ERR_CNI_CHECK = 'ERR_CNI_CHECK'
/**
 * cnm's CNI state directory is not a directory, is owned by another user than root (or the caller),
 * or is writable by others, so cnm refuses to bind namespaces in it; kind `invalid`, CNI code 5.
 */
export const ERR_CNI_UNSAFE_DIR = 'ERR_CNI_UNSAFE_DIR'
/**
 * `CNI_NETNS` is not a network namespace (kind `not-found`, CNI code 3), is the host's own
 * namespace (kind `invalid`), or the container's attachments are already bound to another namespace
 * (kind `conflict`).
 */
export const ERR_CNI_NETNS = 'ERR_CNI_NETNS'
/**
 * ADD of an attachment that exists (the same container and `CNI_IFNAME` on the network): DEL it
 * first; kind `conflict`, CNI code 100.
 */
export const ERR_CNI_ATTACHMENT_EXISTS = 'ERR_CNI_ATTACHMENT_EXISTS'
/**
 * `installCni` could not install the plugin: the bin directory is not a directory; kind `invalid`,
 * CNI code 5 (I/O failure).
 */
export const ERR_CNI_INSTALL = 'ERR_CNI_INSTALL'

/** A cnm error carrying the CNI code it is reported with. */
export class CniError extends CnmError {
  readonly cniCode: number
  constructor(code: string, kind: ErrorKind, cniCode: number, message: string, options?: { cause?: unknown }) {
    super(code, kind, message, options)
    this.cniCode = cniCode
  }
}

/** The error JSON a plugin prints on stdout (exit 1): `code`, `msg`, `details` (cnm's code and kind). */
export interface CniErrorBody {
  cniVersion: string
  code: number
  msg: string
  details: string
}

const BY_KIND: Readonly<Record<ErrorKind, number>> = {
  invalid: CNI_ERROR.INVALID_NETWORK_CONFIG,
  'not-found': CNI_ERROR.INVALID_NETWORK_CONFIG,
  conflict: CNI_ERROR.CONFLICT,
  unsupported: CNI_ERROR.UNSUPPORTED,
  kernel: CNI_ERROR.KERNEL,
  unavailable: CNI_ERROR.TRY_AGAIN_LATER,
}

/** The CNI error body of any error: its own CNI code, else one derived from its cnm kind. */
export function cniErrorBody(err: unknown, cniVersion: string): CniErrorBody {
  const kind = errorKind(err)
  const code =
    err instanceof CniError
      ? err.cniCode
      : typeof (err as { cniCode?: unknown })?.cniCode === 'number'
        ? (err as { cniCode: number }).cniCode
        : kind
          ? BY_KIND[kind]
          : CNI_ERROR.INTERNAL
  const cnmCode = errorCode(err) ?? 'ERR_INTERNAL'
  const msg = err instanceof Error ? err.message : String(err)
  return { cniVersion, code, msg, details: `${cnmCode} (${kind ?? 'internal'})` }
}
