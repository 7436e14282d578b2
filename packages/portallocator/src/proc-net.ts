import { endianness } from 'node:os'
import { addressFromValue, numberToIPv4, unmapped } from '@cnm/ip'

/** Bound ports by port number, each with the canonical local addresses bound to it. */
export type BoundPorts = Map<number, string[]>

/** The `st` column of a listening TCP socket. */
const TCP_LISTEN = '0A'

const LINE = /^\s*\d+:\s+([0-9A-Fa-f]+):([0-9A-Fa-f]{4})\s+[0-9A-Fa-f]+:[0-9A-Fa-f]{4}\s+([0-9A-Fa-f]{2})\s/

/**
 * Adds the local addresses of one kernel socket table (`/proc/net/tcp`, `tcp6`, `udp`, `udp6`)
 * to `into`. With `listeningOnly`, only sockets in state LISTEN (`0A`) count; otherwise every
 * socket with a local port does (a UDP socket is bound once it has a port, connected or not).
 * Addresses are printed as host-order 32-bit words; `littleEndian` says how to read them.
 */
export function addSocketTable(
  into: BoundPorts,
  text: string,
  listeningOnly: boolean,
  littleEndian: boolean = endianness() === 'LE',
): BoundPorts {
  for (const line of text.split('\n')) {
    const m = line.match(LINE)
    if (m === null) continue
    const [, hexAddress = '', hexPort = '', state = ''] = m
    if (listeningOnly && state.toUpperCase() !== TCP_LISTEN) continue
    const port = Number.parseInt(hexPort, 16)
    const ip = decodeAddress(hexAddress, littleEndian)
    if (port === 0 || ip === undefined) continue
    const list = into.get(port)
    if (list === undefined) into.set(port, [ip])
    else if (!list.includes(ip)) list.push(ip)
  }
  return into
}

const decoded = new Map<string, string>()

/**
 * `0100007F` → `127.0.0.1` (little-endian host); 32 hex digits → a canonical IPv6 address, an
 * IPv4-mapped one as its IPv4 address (as `canonicalIP` writes it). Only unpacks the words: the
 * text is `@cnm/ip`'s.
 */
export function decodeAddress(hex: string, littleEndian: boolean): string | undefined {
  const key = littleEndian ? hex : `be:${hex}`
  const known = decoded.get(key)
  if (known !== undefined) return known
  let ip: string
  if (hex.length === 8) ip = numberToIPv4(wordValue(hex, littleEndian))
  else if (hex.length === 32) ip = unmapped(addressFromValue(6, ipv6Value(hex, littleEndian))).text
  else return undefined
  if (decoded.size >= 4096) decoded.clear()
  decoded.set(key, ip)
  return ip
}

function ipv6Value(hex: string, littleEndian: boolean): bigint {
  let value = 0n
  for (let w = 0; w < 32; w += 8) value = (value << 32n) | BigInt(wordValue(hex.slice(w, w + 8), littleEndian))
  return value
}

/** One printed 32-bit word (8 hex digits) as a number in network order. */
function wordValue(word: string, littleEndian: boolean): number {
  const n = Number.parseInt(word, 16)
  if (!littleEndian) return n
  return ((n & 0xff) * 0x1000000 + ((n >>> 8) & 0xff) * 0x10000 + ((n >>> 16) & 0xff) * 0x100 + (n >>> 24)) >>> 0
}
