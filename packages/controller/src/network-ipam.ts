import {
  EMPTY_IPAM,
  InvalidConfigError,
  type IpamData,
  ipamFromOptions,
  ipamSubnets,
  LEGACY_IPAM_KEYS,
  type NetworkIpam,
  NotSupportedError,
  parseIpam,
} from '@cnm/driverapi'
import { addressFromValue } from '@cnm/ip'
import type { Core } from './core.js'
import { checkLocalAgainstGlobal, localSubnets, overlapError, overlapping } from './global-overlaps.js'
import type { NetworkRow } from './store.js'

/**
 * A network's options and IPAM data as `newNetwork` hands them to its driver: the values given
 * (`settings.ipam`), or — a caller of the older shape — the option keys `addressIPv4`,
 * `fixedCIDRv6`, … converted once here (`ipamFromOptions`).
 */
export function networkInput(
  options: unknown,
  ipam: NetworkIpam | undefined,
): { options: Record<string, unknown>; ipam: NetworkIpam } {
  if (ipam === undefined) return ipamFromOptions(options)
  const opts = (options ?? {}) as Record<string, unknown>
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) {
    throw new InvalidConfigError('network options must be an object')
  }
  const legacy = LEGACY_IPAM_KEYS.find((k) => opts[k] !== undefined)
  if (legacy) {
    throw new InvalidConfigError(`option ${legacy} beside IPAM data: give the network's addresses once, as IPAM data`)
  }
  return { options: opts, ipam }
}

/**
 * The IPAM data a stored row holds (the store is an edge: its text parsed once here): the row's
 * `ipam`, or an older row's option keys converted.
 */
export function rowInput(row: Pick<NetworkRow, 'options' | 'ipam'>): {
  options: Record<string, unknown>
  ipam: NetworkIpam
} {
  return row.ipam === undefined ? ipamFromOptions(row.options) : networkInput(row.options, parseIpam(row.ipam))
}

/**
 * Refuses a subnet that overlaps another network's on this host (any local-scope driver: the
 * controller checks before calling the driver) or a global network's the cluster holds:
 * `ERR_NETWORK_OVERLAPS` (conflict, 409), naming that network.
 */
export function checkOverlaps(core: Core, name: string, ipam: NetworkIpam): void {
  const cidrs = ipamSubnets(ipam).map((p) => p.cidr)
  if (cidrs.length === 0) return
  const local = localSubnets(core)
  for (const cidr of cidrs) {
    const hit = overlapping(cidr, local)
    if (hit) throw overlapError(name, cidr, hit, '')
  }
  checkLocalAgainstGlobal(core, name, cidrs)
}

/** The first host of a subnet (a default gateway). */
function firstHost(d: IpamData): string {
  return addressFromValue(d.subnet.family, d.subnet.networkValue + 1n).text
}

/**
 * IPAM data as the cluster's network record writes it (the option keys `addressIPv4`, `fixedCIDR`,
 * `fixedCIDRv6` every host's version reads): one subnet per family, no aux addresses.
 */
export function clusterOptions(options: Record<string, unknown>, ipam: NetworkIpam): Record<string, unknown> {
  if (ipam === EMPTY_IPAM || (ipam.v4.length === 0 && ipam.v6.length === 0)) return options
  const [v4, v6] = [ipam.v4, ipam.v6].map((list, i) => {
    if (list.length > 1) throw new NotSupportedError(`a global network takes one IPv${i === 0 ? 4 : 6} subnet`)
    const d = list[0]
    if (d && d.auxAddresses.size > 0) throw new NotSupportedError('aux addresses on a global network')
    return d
  })
  if (v6?.gateway && v6.gateway.text !== firstHost(v6)) {
    throw new NotSupportedError(`IPv6 gateway ${v6.gateway.text}: a global network's is the subnet's first address`)
  }
  if (v6?.ipRange) throw new NotSupportedError(`an IPv6 ip range (${v6.ipRange.cidr}) on a global network`)
  return {
    ...options,
    ...(v4 ? { addressIPv4: `${v4.gateway?.text ?? firstHost(v4)}/${v4.subnet.prefixLength}` } : {}),
    ...(v4?.ipRange ? { fixedCIDR: v4.ipRange.cidr } : {}),
    ...(v6 ? { fixedCIDRv6: v6.subnet.cidr } : {}),
  }
}
