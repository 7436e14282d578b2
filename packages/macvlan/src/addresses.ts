import { hasErrorCode } from '@cnm/driverapi'
import { ERR_IP_OUT_OF_RANGE, type IPAllocator } from '@cnm/ipallocator'
import type { EndpointConfig } from './endpoint-config.js'
import type { NetworkState } from './state.js'

function reserve(allocator: IPAllocator, pool: string, ip: string): void {
  try {
    allocator.requestIP(pool, ip) // the gateway is never handed to an endpoint
  } catch (err) {
    if (!hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) throw err // outside fixedCIDR: nothing to hold
  }
}

/**
 * Gives the network its subnets and gateways from its config, registers its pools (IPv4 limited to
 * `fixedCIDR`) and holds the gateways. Undone by {@link releasePools}, also on failure.
 */
export function registerPools(allocator: IPAllocator, net: NetworkState): void {
  const { config } = net
  try {
    const v4 = config.ipv4
    if (v4 && config.addressIPv4) {
      const subnet = v4.subnet.cidr
      net.subnetV4 = subnet
      net.gatewayV4 = config.addressIPv4.slice(0, config.addressIPv4.indexOf('/'))
      allocator.registerSubnet(subnet, v4.ipRange?.cidr ?? subnet)
      net.pools.push(subnet)
      reserve(allocator, subnet, net.gatewayV4)
      for (const ip of v4.auxAddresses.values()) reserve(allocator, subnet, ip.text)
    }
    const v6 = config.ipv6
    if (v6 && config.gatewayIPv6) {
      const subnet = v6.subnet.cidr
      net.subnetV6 = subnet
      net.gatewayV6 = config.gatewayIPv6
      allocator.registerSubnet(subnet, subnet)
      net.pools.push(subnet)
      reserve(allocator, subnet, config.gatewayIPv6)
      for (const ip of v6.auxAddresses.values()) reserve(allocator, subnet, ip.text)
    }
  } catch (err) {
    releasePools(allocator, net)
    throw err
  }
}

/** Forgets the network's pools and everything allocated in them. */
export function releasePools(allocator: IPAllocator, net: NetworkState): void {
  for (const pool of net.pools) allocator.unregisterNetwork(pool)
  net.pools = []
}

/** Takes an endpoint's addresses (the preferred ones when given); on failure nothing stays held. */
export function allocateAddresses(
  allocator: IPAllocator,
  net: NetworkState,
  cfg: Pick<EndpointConfig, 'ipv4Address' | 'ipv6Address'>,
): { ipv4: string | undefined; ipv6: string | undefined } {
  const ipv4 = net.subnetV4 ? allocator.requestIP(net.subnetV4, cfg.ipv4Address) : undefined
  try {
    const ipv6 = net.subnetV6 ? allocator.requestIP(net.subnetV6, cfg.ipv6Address) : undefined
    return { ipv4, ipv6 }
  } catch (err) {
    if (net.subnetV4 && ipv4) allocator.releaseIP(net.subnetV4, ipv4)
    throw err
  }
}

/** Gives an endpoint's addresses back. */
export function releaseAddresses(
  allocator: IPAllocator,
  net: NetworkState,
  ep: { ipv4: string | undefined; ipv6: string | undefined },
): void {
  if (net.subnetV4 && ep.ipv4) allocator.releaseIP(net.subnetV4, ep.ipv4)
  if (net.subnetV6 && ep.ipv6) allocator.releaseIP(net.subnetV6, ep.ipv6)
}
