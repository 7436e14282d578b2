import { CnmError, type ErrorKind, errnoKind } from '@cnm/driverapi'

/** A name that is not a DNS name (empty, a label over 63 bytes, a character outside `a-z 0-9 - _`, …). */
export const ERR_INVALID_DNS_NAME = 'ERR_INVALID_DNS_NAME'
/** An entry or option refused before anything changed (bad address, port, subnet, timeout …). */
export const ERR_INVALID_DNS_CONFIG = 'ERR_INVALID_DNS_CONFIG'
/** The server was closed. */
export const ERR_DNS_SERVER_CLOSED = 'ERR_DNS_SERVER_CLOSED'

const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_INVALID_DNS_NAME]: 'invalid',
  [ERR_INVALID_DNS_CONFIG]: 'invalid',
  [ERR_DNS_SERVER_CLOSED]: 'unavailable',
}

/**
 * Every error this package throws: a `CnmError` with a stable `code` and `kind`. A socket that
 * cannot be bound keeps the errno name in `code` (`EADDRINUSE` → conflict, `EADDRNOTAVAIL` →
 * not-found, `EACCES` → kernel) and the original error in `cause`.
 */
export class DnsError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : errnoKind(code), message, options)
  }
}

export function invalidConfig(message: string): DnsError {
  return new DnsError(ERR_INVALID_DNS_CONFIG, message)
}
