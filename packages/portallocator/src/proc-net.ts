import { endianness } from 'node:os'
import { canonicalIP } from './address.js'

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

/** `0100007F` → `127.0.0.1` (little-endian host); 32 hex digits → a canonical IPv6 address. */
export function decodeAddress(hex: string, littleEndian: boolean): string | undefined {
  const key = littleEndian ? hex : `be:${hex}`
  const known = decoded.get(key)
  if (known !== undefined) return known
  let ip: string
  if (hex.length === 8) ip = wordBytes(hex, littleEndian).join('.')
  else if (hex.length === 32) ip = canonicalIP(ipv6Text(hex, littleEndian))
  else return undefined
  if (decoded.size >= 4096) decoded.clear()
  decoded.set(key, ip)
  return ip
}

function ipv6Text(hex: string, littleEndian: boolean): string {
  const bytes: number[] = []
  for (let w = 0; w < 32; w += 8) bytes.push(...wordBytes(hex.slice(w, w + 8), littleEndian))
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16))
  return groups.join(':')
}

/** The four bytes of one printed word, in network order. */
function wordBytes(word: string, littleEndian: boolean): number[] {
  const bytes = [0, 2, 4, 6].map((i) => Number.parseInt(word.slice(i, i + 2), 16))
  return littleEndian ? bytes.reverse() : bytes
}
