import { readFileSync } from 'node:fs'
import { isValidPort, parsePortRange } from './port.js'

/** The first port of the fallback dynamic range (the IANA dynamic range starts at 49152). */
export const DEFAULT_PORT_RANGE_START = 49153
/** The last port of the fallback dynamic range. */
export const DEFAULT_PORT_RANGE_END = 65535

/** Where Linux keeps its ephemeral port range. */
export const LOCAL_PORT_RANGE_PATH = '/proc/sys/net/ipv4/ip_local_port_range'

/** An inclusive range of ports. */
export interface PortRange {
  begin: number
  end: number
}

/**
 * The kernel's ephemeral port range, read from {@link LOCAL_PORT_RANGE_PATH}; 49153–65535 when the
 * file is unreadable or malformed. Prints nothing either way.
 */
export function systemPortRange(path: string = LOCAL_PORT_RANGE_PATH): PortRange {
  try {
    return parseLocalPortRange(readFileSync(path, 'utf8')) ?? defaultRange()
  } catch {
    return defaultRange()
  }
}

/** Parses `"32768\t60999\n"`; `undefined` unless it is two valid ports, the first not above the second. */
export function parseLocalPortRange(text: string): PortRange | undefined {
  const match = text.match(/^\s*(\d+)\s+(\d+)\s*$/)
  if (match === null) return undefined
  const begin = Number(match[1])
  const end = Number(match[2])
  if (!isValidPort(begin) || !isValidPort(end) || begin > end) return undefined
  return { begin, end }
}

/**
 * The allocator's range from its options: each bound given is validated; a missing one comes
 * from the kernel's range (or its fallback). Throws `ERR_INVALID_PORT` for a bad or reversed range.
 */
export function resolvePortRange(options: { begin?: number | undefined; end?: number | undefined }): PortRange {
  const { begin, end } = options
  const system = begin === undefined || end === undefined ? systemPortRange() : undefined
  const [first, last] = parsePortRange(begin ?? system?.begin, end ?? system?.end)
  return { begin: first, end: last }
}

function defaultRange(): PortRange {
  return { begin: DEFAULT_PORT_RANGE_START, end: DEFAULT_PORT_RANGE_END }
}
