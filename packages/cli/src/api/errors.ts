import {
  ERR_ACTIVE_ENDPOINTS,
  ERR_ALREADY_JOINED,
  ERR_CONTROLLER_CLOSED,
  ERR_ENDPOINT_NAME_EXISTS,
  ERR_NETWORK_NAME_EXISTS,
  ERR_NOT_JOINED,
  ERR_UNKNOWN_DRIVER,
  ERR_UNKNOWN_ENDPOINT,
  ERR_UNKNOWN_NETWORK,
  ERR_UNKNOWN_SANDBOX,
} from '@cnm/controller'
import { ERR_AMBIGUOUS_REFERENCE, ERR_NOT_FOUND, errorCode, errorMessage } from '../errors.js'

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string }
}

const NOT_FOUND = new Set([
  ERR_UNKNOWN_NETWORK,
  ERR_UNKNOWN_ENDPOINT,
  ERR_UNKNOWN_SANDBOX,
  ERR_NOT_FOUND,
  'ERR_NO_NETWORK',
  'ERR_NO_ENDPOINT',
  'ERR_NO_SANDBOX',
])

const CONFLICT = new Set([
  ERR_NETWORK_NAME_EXISTS,
  ERR_ENDPOINT_NAME_EXISTS,
  ERR_ACTIVE_ENDPOINTS,
  ERR_ALREADY_JOINED,
  ERR_NOT_JOINED,
  'ERR_NETWORK_EXISTS',
  'ERR_ENDPOINT_EXISTS',
  'ERR_SANDBOX_EXISTS',
  'ERR_PORT_ALREADY_ALLOCATED',
  'ERR_ALL_PORTS_ALLOCATED',
  'ERR_PORT_MAPPED_FOR_IP',
  'ERR_NO_AVAILABLE_IPS',
  'ERR_IP_ALREADY_ALLOCATED',
  'ERR_NETWORK_OVERLAPS',
  'ERR_NAMESERVER_OVERLAPS',
  'EEXIST',
])

const BAD_REQUEST = new Set([
  ERR_UNKNOWN_DRIVER,
  ERR_AMBIGUOUS_REFERENCE,
  'ERR_UNKNOWN_PROTOCOL',
  'ERR_NOT_SUPPORTED',
  'ERR_BAD_SUBNET',
  'ERR_IP_OUT_OF_RANGE',
])

/** The HTTP status of an error: 404 unknown, 409 exists/active/taken, 400 invalid, 500 otherwise. */
export function httpStatus(err: unknown): number {
  const code = errorCode(err) ?? ''
  if (NOT_FOUND.has(code)) return 404
  if (CONFLICT.has(code)) return 409
  if (code.startsWith('ERR_INVALID_') || BAD_REQUEST.has(code)) return 400
  if (code === ERR_CONTROLLER_CLOSED) return 503
  const status = (err as { statusCode?: unknown }).statusCode
  // Fastify's own errors (a body that is not JSON, too large, …) carry their status.
  if (code.startsWith('FST_') && typeof status === 'number' && status >= 400 && status < 500) return status
  return 500
}

/** `{ "error": { "code", "message" } }`. */
export function errorBody(err: unknown): ErrorBody {
  return { error: { code: errorCode(err) ?? 'ERR_INTERNAL', message: errorMessage(err) } }
}
