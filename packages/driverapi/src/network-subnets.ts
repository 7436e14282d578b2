import { containsAddress, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import type { NetworkInfo, NetworkSubnet } from './types.js'

/**
 * Every subnet of a network with its gateway, IPv4 first: the driver's `subnets`, or (a driver with
 * one subnet per family) its `subnetV4` and `subnetV6`.
 */
export function networkSubnets(info: NetworkInfo | undefined): NetworkSubnet[] {
  if (!info) return []
  if (info.subnets) return info.subnets
  const out: NetworkSubnet[] = []
  if (info.subnetV4) out.push({ subnet: info.subnetV4, gateway: info.gatewayV4 })
  if (info.subnetV6) out.push({ subnet: info.subnetV6, gateway: info.gatewayV6 })
  return out
}

/** The subnet of a network that holds `ip` (a plain address), if any. */
export function subnetHolding(info: NetworkInfo | undefined, ip: string): NetworkSubnet | undefined {
  const address = tryParseAddress(ip)
  if (!address) return undefined
  return networkSubnets(info).find((s) => {
    const p = tryParseCIDR(s.subnet)
    return p !== undefined && containsAddress(p, address)
  })
}
