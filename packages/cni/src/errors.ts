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

export const ERR_CNI_VERSION = 'ERR_CNI_VERSION'
export const ERR_CNI_ENV = 'ERR_CNI_ENV'
export const ERR_CNI_DECODE = 'ERR_CNI_DECODE'
export const ERR_CNI_CONFIG = 'ERR_CNI_CONFIG'
export const ERR_CNI_CHECK = 'ERR_CNI_CHECK'
export const ERR_CNI_UNSAFE_DIR = 'ERR_CNI_UNSAFE_DIR'
export const ERR_CNI_NETNS = 'ERR_CNI_NETNS'
export const ERR_CNI_ATTACHMENT_EXISTS = 'ERR_CNI_ATTACHMENT_EXISTS'
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
