import { type ErrorKind, errorKind, isResourceLimit } from '@cnm/driverapi'
import { ERR_NOT_FOUND, errorCode, errorMessage } from '../errors.js'

/** An error's kind in the body: one of cnm's kinds, or `internal` for an error cnm did not classify. */
export type ErrorBodyKind = ErrorKind | 'internal'

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string; kind: ErrorBodyKind; message: string }
}

/** The HTTP status of each kind. */
const STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  'not-found': 404,
  conflict: 409,
  unsupported: 400,
  kernel: 500,
  unavailable: 503,
}

/**
 * TEMPORARY, until the errors of the zero-dependency packages (`@cnm/portallocator`,
 * `@cnm/ipallocator`, `@cnm/ip`) all carry `kind` (their structural copy of `CnmError`): the
 * kinds of their codes. Delete it then; nothing else here names a code.
 */
const FALLBACK_KINDS: Readonly<Record<string, ErrorKind>> = {
  ERR_PORT_ALREADY_ALLOCATED: 'conflict',
  ERR_ALL_PORTS_ALLOCATED: 'conflict',
  ERR_NO_AVAILABLE_IPS: 'conflict',
  ERR_IP_ALREADY_ALLOCATED: 'conflict',
  ERR_NETWORK_ALREADY_REGISTERED: 'conflict',
  ERR_NETWORK_OVERLAPS: 'conflict',
  ERR_NAMESERVER_OVERLAPS: 'conflict',
  ERR_BAD_SUBNET: 'invalid',
  ERR_IP_OUT_OF_RANGE: 'invalid',
  ERR_INVALID_ADDRESS: 'invalid',
  ERR_INVALID_CIDR: 'invalid',
  ERR_INVALID_PORT: 'invalid',
  ERR_UNKNOWN_PROTOCOL: 'invalid',
  ERR_INVALID_STATE: 'invalid',
}

/** Fastify's own errors (a body that is not JSON, too large, …): their 4xx status, if they have one. */
function fastifyStatus(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode
  const fastify = errorCode(err)?.startsWith('FST_') === true
  return fastify && typeof status === 'number' && status >= 400 && status < 500 ? status : undefined
}

/**
 * The kind of any error: its own `kind` (or its cause's), Fastify's 4xx errors as `invalid` (404:
 * `not-found`), and `internal` for an error without one.
 */
export function errorBodyKind(err: unknown): ErrorBodyKind {
  // A resource limit (file descriptors, memory, buffers, space), wherever it was met: 503.
  if (isResourceLimit(err)) return 'unavailable'
  const kind = errorKind(err)
  if (kind) return kind
  const status = fastifyStatus(err)
  if (status !== undefined) return status === 404 ? 'not-found' : 'invalid'
  const code = errorCode(err)
  if (code !== undefined && Object.hasOwn(FALLBACK_KINDS, code)) return FALLBACK_KINDS[code] as ErrorKind
  return 'internal'
}

/**
 * The HTTP status of an error, from its kind: 400 invalid or unsupported, 404 not-found, 409
 * conflict, 500 kernel, 503 unavailable; Fastify's own 4xx errors keep their status; an error
 * without a kind is 500.
 */
export function httpStatus(err: unknown): number {
  const fastify = fastifyStatus(err)
  if (fastify !== undefined) return fastify
  const kind = errorBodyKind(err)
  return kind === 'internal' ? 500 : STATUS[kind]
}

/** `{ "error": { "code", "kind", "message" } }`; an error without a code is `ERR_INTERNAL`. */
export function errorBody(err: unknown): ErrorBody {
  return { error: { code: errorCode(err) ?? 'ERR_INTERNAL', kind: errorBodyKind(err), message: errorMessage(err) } }
}

/** The answer to a route that does not exist: 404 `ERR_NOT_FOUND`. */
export function noRouteBody(method: string, url: string): ErrorBody {
  return { error: { code: ERR_NOT_FOUND, kind: 'not-found', message: `no route ${method} ${url}` } }
}
