import { parseAddress } from './address.js'
import { type ParsedCIDR, parseCIDR } from './cidr.js'
import { NameserverOverlapsError, NetworkOverlapsError } from './errors.js'

/** Whether two parsed networks share an address. Networks of different families never do. */
export function parsedOverlap(a: ParsedCIDR, b: ParsedCIDR): boolean {
  return a.family === b.family && a.networkValue <= b.lastValue && b.networkValue <= a.lastValue
}

/** A CIDR, or a plain address taken as a host route (/32, /128). */
function parseCIDROrAddress(text: string): ParsedCIDR {
  if (typeof text === 'string' && !text.includes('/')) {
    const { family } = parseAddress(text)
    return parseCIDR(`${text}/${family === 4 ? 32 : 128}`)
  }
  return parseCIDR(text)
}

/** Whether two CIDRs share an address (`172.16.0.1/24` and `172.16.0.128/25` do). */
export function networksOverlap(a: string, b: string): boolean {
  return parsedOverlap(parseCIDR(a), parseCIDR(b))
}

/**
 * Throws `ERR_NAMESERVER_OVERLAPS` when the network contains any of the nameservers (CIDRs such as
 * `10.0.2.3/32`, or plain addresses).
 */
export function checkNameserverOverlaps(nameservers: readonly string[], cidr: string): void {
  const network = parseCIDR(cidr)
  const parsed = nameservers.map(parseCIDROrAddress)
  const index = parsed.findIndex((nameserver) => parsedOverlap(network, nameserver))
  if (index >= 0) {
    throw new NameserverOverlapsError(
      `${network.cidr}: requested network overlaps with nameserver ${String(nameservers[index])}`,
    )
  }
}

/**
 * Throws `ERR_NETWORK_OVERLAPS` when the network overlaps any of the routes (destination CIDRs
 * such as `10.0.2.0/24`, or plain addresses as host routes).
 */
export function checkRouteOverlaps(routes: readonly string[], cidr: string): void {
  const network = parseCIDR(cidr)
  const parsed = routes.map(parseCIDROrAddress)
  const index = parsed.findIndex((route) => parsedOverlap(network, route))
  if (index >= 0) {
    throw new NetworkOverlapsError(
      `${network.cidr}: requested network overlaps with existing network ${String(routes[index])}`,
    )
  }
}
