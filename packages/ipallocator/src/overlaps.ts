import { addressBits, type IPPrefix, networksOverlap, parseAddress, parseCIDR, prefixOf } from '@cnm/ip'
import { NameserverOverlapsError, NetworkOverlapsError } from './errors.js'

export { networksOverlap } from '@cnm/ip'

/** A CIDR, or a plain address taken as a host route (/32, /128). */
function parseCIDROrAddress(text: string): IPPrefix {
  if (typeof text === 'string' && !text.includes('/')) {
    const address = parseAddress(text)
    return prefixOf(address, addressBits(address.family))
  }
  return parseCIDR(text)
}

/**
 * Throws `ERR_NAMESERVER_OVERLAPS` when the network contains any of the nameservers (CIDRs such as
 * `10.0.2.3/32`, or plain addresses).
 */
export function checkNameserverOverlaps(nameservers: readonly string[], cidr: string): void {
  const network = parseCIDR(cidr)
  const parsed = nameservers.map(parseCIDROrAddress)
  const index = parsed.findIndex((nameserver) => networksOverlap(network, nameserver))
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
  const index = parsed.findIndex((route) => networksOverlap(network, route))
  if (index >= 0) {
    throw new NetworkOverlapsError(
      `${network.cidr}: requested network overlaps with existing network ${String(routes[index])}`,
    )
  }
}
