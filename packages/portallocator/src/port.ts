import { InvalidPortError } from './errors.js'

/** The lowest port a socket can be bound to explicitly. */
export const MIN_PORT = 1
/** The highest transport port. */
export const MAX_PORT = 65535

/** True for an integer from 1 to 65535. */
export function isValidPort(port: unknown): port is number {
  // (port & 0xffff) === port holds exactly for the integers 0–65535 (not NaN, ±Infinity, -0 or fractions)
  return typeof port === 'number' && (port & MAX_PORT) === port && port !== 0
}

/** Returns `port` when it is an integer from 1 to 65535; throws `ERR_INVALID_PORT` otherwise. */
export function parsePort(port: unknown): number {
  if (!isValidPort(port)) throw new InvalidPortError(port)
  return port
}

/**
 * Validates `start`–`end` as a range of ports: both valid and `start <= end`. Throws
 * `ERR_INVALID_PORT` naming the range otherwise.
 */
export function parsePortRange(start: unknown, end: unknown): [number, number] {
  const subject = `port range ${String(start)}-${String(end)}`
  if (!isValidPort(start)) throw new InvalidPortError(start, 'the start must be an integer from 1 to 65535', subject)
  if (!isValidPort(end)) throw new InvalidPortError(end, 'the end must be an integer from 1 to 65535', subject)
  if (start > end) throw new InvalidPortError(start, 'the start is above the end', subject)
  return [start, end]
}
