import { networkSubnets } from '@cnm/driverapi'
import { networksOverlap, tryParseCIDR } from '@cnm/ip'
import type { Core } from './core.js'
import { ControllerError } from './errors.js'

/** A subnet overlaps another network's (conflict, 409, naming that network). */
export const ERR_NETWORK_OVERLAPS = 'ERR_NETWORK_OVERLAPS'

/** A subnet some network holds, with that network's name (what an overlap error names). */
export interface NamedSubnet {
  name: string
  cidr: string
}

/** The subnets of this host's local-scope networks (IPv4 and IPv6), as their drivers report them. */
export function localSubnets(core: Core): NamedSubnet[] {
  const out: NamedSubnet[] = []
  for (const net of core.networks.values()) {
    const driver = core.drivers.get(net.type)
    if (!driver || driver.capabilities.scope === 'global') continue
    // Every subnet of the network (several per family when it has them).
    for (const { subnet } of networkSubnets(driver.networkInfo(net.id))) out.push({ name: net.name, cidr: subnet })
  }
  return out
}

/** The first of `others` that `cidr` overlaps (same family), if any. */
export function overlapping(cidr: string, others: readonly NamedSubnet[]): NamedSubnet | undefined {
  const mine = tryParseCIDR(cidr)
  if (!mine) return undefined
  return others.find((o) => {
    const theirs = tryParseCIDR(o.cidr)
    return theirs !== undefined && theirs.family === mine.family && networksOverlap(mine, theirs)
  })
}

/**
 * `ERR_NETWORK_OVERLAPS` (conflict, 409), naming the network whose subnet is in the way (`scope`:
 * `global`/`local` across scopes, `''` among this host's networks).
 */
export function overlapError(name: string, cidr: string, other: NamedSubnet, scope: string): ControllerError {
  return new ControllerError(
    ERR_NETWORK_OVERLAPS,
    `network ${name}: subnet ${cidr} overlaps ${scope ? `${scope} ` : ''}network ${other.name} (${other.cidr})`,
    { kind: 'conflict' },
  )
}

/**
 * Refuses a local network whose subnets overlap a global network's (any host's: the cluster's
 * records, as this host follows them; read from memory, so a local create never waits for etcd).
 */
export function checkLocalAgainstGlobal(core: Core, name: string, cidrs: readonly (string | undefined)[]): void {
  const records = core.global?.records
  if (!records || records.size === 0) return
  const global = [...records.values()].flatMap((r) =>
    [r.subnet, r.subnetV6].filter((c): c is string => !!c).map((cidr) => ({ name: r.name, cidr })),
  )
  for (const cidr of cidrs) {
    if (!cidr) continue
    const hit = overlapping(cidr, global)
    if (hit) throw overlapError(name, cidr, hit, 'global')
  }
}
