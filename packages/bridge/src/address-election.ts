import { InvalidConfigError } from '@cnm/driverapi'
import { bigIntToAddress, networksOverlap, parseCIDR } from '@cnm/ipallocator'
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

function* subnetsOf(pool: AddressPool): Generator<string> {
  const base = parseCIDR(pool.base)
  const count = 1n << BigInt(pool.size - base.prefixLength)
  const step = 1n << BigInt((base.family === 4 ? 32 : 128) - pool.size)
  for (let i = 0n; i < count; i++) yield `${bigIntToAddress(base.networkValue + i * step, base.family)}/${pool.size}`
}

function clashes(subnet: string, c: ElectionConstraints): boolean {
  const family = parseCIDR(subnet).family
  const sameFamily = (cidr: string): boolean => {
    try {
      return parseCIDR(cidr).family === family
    } catch {
      return false
    }
  }
  const nets = [...c.routes, ...c.taken].filter(sameFamily)
  if (nets.some((r) => networksOverlap(r, subnet))) return true
  return c.nameservers
    .filter((ns) => sameFamily(`${ns}/${family === 4 ? 32 : 128}`))
    .some((ns) => networksOverlap(`${ns}/${family === 4 ? 32 : 128}`, subnet))
}

/**
 * The first subnet of the candidate pools that overlaps none of the namespace's routes, its
 * nameservers, or the subnets already taken (libnetwork's election, with the overlap checks).
 */
export function electSubnet(pools: readonly AddressPool[], c: ElectionConstraints): string {
  for (const pool of pools) {
    for (const subnet of subnetsOf(pool)) if (!clashes(subnet, c)) return subnet
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
