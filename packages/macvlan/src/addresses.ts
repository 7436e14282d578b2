import { hasErrorCode } from '@cnm/driverapi'
import { parseCIDR } from '@cnm/ip'
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
    if (config.addressIPv4) {
      const p = parseCIDR(config.addressIPv4)
      net.subnetV4 = p.cidr
      net.gatewayV4 = p.address
      allocator.registerSubnet(p.cidr, config.fixedCIDR ?? p.cidr)
      net.pools.push(p.cidr)
      reserve(allocator, p.cidr, p.address)
    }
    if (config.fixedCIDRv6 && config.gatewayIPv6) {
      net.subnetV6 = config.fixedCIDRv6
      net.gatewayV6 = config.gatewayIPv6
      allocator.registerSubnet(config.fixedCIDRv6, config.fixedCIDRv6)
      net.pools.push(config.fixedCIDRv6)
      reserve(allocator, config.fixedCIDRv6, config.gatewayIPv6)
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
