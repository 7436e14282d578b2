import { InvalidConfigError } from '@cnm/driverapi'
import {
  addressBits,
  addressFromValue,
  type IPPrefix,
  networksOverlap,
  parseCIDR,
  prefixOf,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import type { AddressPool } from './driver-config.js'

/** What an elected subnet must not overlap. */
export interface ElectionConstraints {
  /** Destinations (CIDRs) of the namespace's routes, default routes excluded. */
  routes: string[]
  /** Nameserver addresses (from resolv.conf). */
  nameservers: string[]
  /** Subnets other networks already use. */
  taken: string[]
}

function* subnetsOf(pool: AddressPool): Generator<IPPrefix> {
  const base = parseCIDR(pool.base)
  const count = 1n << BigInt(pool.size - base.prefixLength)
  const step = 1n << BigInt(addressBits(base.family) - pool.size)
  for (let i = 0n; i < count; i++) {
    yield prefixOf(addressFromValue(base.family, base.networkValue + i * step), pool.size)
  }
}

/** What a subnet must not overlap, parsed once: routes, taken subnets, nameservers as host routes. */
function parseConstraints(c: ElectionConstraints): IPPrefix[] {
  const out: IPPrefix[] = []
  for (const text of [...c.routes, ...c.taken]) {
    const net = tryParseCIDR(text)
    if (net) out.push(net) // what is not a CIDR cannot clash
  }
  for (const text of c.nameservers) {
    const ns = tryParseAddress(text)
    if (ns) out.push(prefixOf(ns, addressBits(ns.family)))
  }
  return out
}

/**
 * The first subnet of the candidate pools that overlaps none of the namespace's routes, its
 * nameservers, or the subnets already taken (libnetwork's election, with the overlap checks).
 */
export function electSubnet(pools: readonly AddressPool[], c: ElectionConstraints): string {
  const constraints = parseConstraints(c)
  for (const pool of pools) {
    for (const subnet of subnetsOf(pool)) {
      if (!constraints.some((other) => networksOverlap(other, subnet))) return subnet.cidr
    }
  }
  throw new InvalidConfigError(
    'no available network: every candidate address pool overlaps a route, a nameserver or another network',
  )
}

/** Nameservers listed in resolv.conf text. */
export function parseNameservers(resolvConf: string): string[] {
  return resolvConf
    .split('\n')
    .map((l) => l.match(/^\s*nameserver\s+(\S+)/u)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => x.split('%')[0] ?? x)
}

/** A ULA /64 derived from the network id (`fd` + 40 bits of the id), for IPv6 without fixedCIDRv6. */
export function ulaSubnetFor(networkId: string): string {
  const h = networkId.slice(0, 10).padEnd(10, '0')
  return `fd${h.slice(0, 2)}:${h.slice(2, 6)}:${h.slice(6, 10)}::/64`
}
