import { type IPFamily, tryParseAddress, unmapped } from '@cnm/ip'
import { ERR_INVALID_TRANSPORT_ADDRESS, PortMapperError } from './errors.js'

export { ERR_INVALID_TRANSPORT_ADDRESS, PortMapperError } from './errors.js'

/** A transport protocol a port can be mapped for: `tcp`, `udp` or `sctp`. */
export type TransportProtocol = 'tcp' | 'udp' | 'sctp'

/** A transport endpoint: protocol, address and port (`tcp/0.0.0.0:8080`). */
export interface TransportAddress {
  proto: TransportProtocol
  ip: string
  port: number
}

/** A block of ports: `port` to `endPort`, inclusive. */
export type TransportRange = TransportAddress & { endPort: number }

const PROTOCOLS: readonly string[] = ['tcp', 'udp', 'sctp']

/** `tcp/0.0.0.0:8080`, `udp/[::1]:53`; a range with `endPort` as `tcp/0.0.0.0:8080-8082`. */
export function formatTransportAddress(a: TransportAddress & { endPort?: number }): string {
  const host = tryParseAddress(a.ip)?.family === 6 ? `[${a.ip}]` : a.ip
  const port = a.endPort !== undefined && a.endPort !== a.port ? `${a.port}-${a.endPort}` : `${a.port}`
  return `${a.proto}/${host}:${port}`
}

/**
 * The inverse of {@link formatTransportAddress} (the IP canonical, as `canonicalIP` writes
 * it); anything else is `ERR_INVALID_TRANSPORT_ADDRESS`. An IPv6 address must be in brackets.
 */
export function parseTransportAddress(text: string): TransportAddress {
  const m = text.match(/^(tcp|udp|sctp)\/(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/u)
  const address = tryParseAddress(m?.[2] ?? m?.[3])
  const port = Number(m?.[4])
  if (!m || !address || address.family !== (m[2] === undefined ? 4 : 6) || port < 1 || port > 65535) {
    throw new PortMapperError(ERR_INVALID_TRANSPORT_ADDRESS, `invalid transport address ${JSON.stringify(text)}`)
  }
  return { proto: m[1] as TransportProtocol, ip: unmapped(address).text, port }
}

/**
 * Canonical text of an IP (`@cnm/ip`'s: IPv6 in RFC 5952 form), an IPv4-mapped IPv6 address as
 * its IPv4 address (`unmapped`: a socket on either is the same binding), or undefined when `ip`
 * is not one (zone indexes are refused).
 */
export function canonicalIP(ip: unknown): string | undefined {
  const address = tryParseAddress(ip)
  return address === undefined ? undefined : unmapped(address).text
}

/** True for `0.0.0.0` and `::`. */
export function isWildcardIP(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::'
}

function invalid(what: string, value: unknown, why: string): PortMapperError {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value)
  return new PortMapperError(ERR_INVALID_TRANSPORT_ADDRESS, `invalid ${what} ${shown}: ${why}`)
}

/** Checks a port: an integer 1–65535 (0 too when `zeroOk`: "any"). */
export function validatePort(port: unknown, what: string, zeroOk = false): number {
  const min = zeroOk ? 0 : 1
  if (typeof port !== 'number' || !Number.isInteger(port) || port < min || port > 65535) {
    throw invalid(what, port, `expected an integer from ${min} to 65535`)
  }
  return port
}

/**
 * Validates a transport address object and returns it canonical. With `wildcardOk` false, `0.0.0.0`
 * and `::` are refused (a container address is one address).
 */
export function validateTransportAddress(raw: unknown, what: string, wildcardOk = false): TransportAddress {
  if (raw === null || typeof raw !== 'object') throw invalid(what, raw, 'expected { proto, ip, port }')
  const { proto, ip, port } = raw as Record<string, unknown>
  if (typeof proto !== 'string' || !PROTOCOLS.includes(proto)) {
    throw invalid(`${what} protocol`, proto, 'expected tcp, udp or sctp')
  }
  const canonical = canonicalIP(ip)
  if (canonical === undefined) throw invalid(`${what} IP`, ip, 'not an IP address')
  if (!wildcardOk && isWildcardIP(canonical)) throw invalid(`${what} IP`, ip, 'not a single address')
  return { proto: proto as TransportProtocol, ip: canonical, port: validatePort(port, `${what} port`) }
}

/** The family of an IP (4 for text that is not one: callers pass canonical IPs). */
export function ipFamily(ip: string): IPFamily {
  return tryParseAddress(ip)?.family ?? 4
}
