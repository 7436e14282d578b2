import { parseIpam, type RestoreOutcome } from '@cnm/driverapi'
import type { IPAllocator } from '@cnm/ipallocator'
import { registerPools, releasePools } from './addresses.js'
import { findEndpointLink } from './endpoint.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { type NetworkConfig, parseNetworkConfig } from './network-config.js'
import { restoreParent } from './parent.js'
import type { MacvlanEndpointRecord, MacvlanNetworkRecord } from './records.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'

/** A network's state before anything is held. */
export function newNetworkState(id: string, config: NetworkConfig): NetworkState {
  return {
    id,
    config,
    createdVlan: false,
    subnetV4: undefined,
    gatewayV4: undefined,
    subnetV6: undefined,
    gatewayV6: undefined,
    pools: [],
    endpoints: new Map(),
  }
}

/**
 * Restores a recorded network: its pools and gateways are held again, its parent taken as it is,
 * or — a VLAN sub-interface that is gone — created again (`rebuilt`). `check` refuses a config that
 * clashes with the driver's other networks, before anything is held.
 */
export async function restoreNetwork(
  res: DriverResources,
  record: MacvlanNetworkRecord,
  check: (config: NetworkConfig) => void,
): Promise<{ net: NetworkState; outcome: RestoreOutcome }> {
  // The store's text (an edge) parsed once here; an older record's address keys converted.
  const config = parseNetworkConfig(record.options, record.ipam === undefined ? undefined : parseIpam(record.ipam))
  check(config)
  const net = newNetworkState(record.id, config)
  registerPools(res.allocator, net)
  try {
    const outcome = await restoreParent(res, net, record.createdVlan)
    return { net, outcome }
  } catch (err) {
    releasePools(res.allocator, net)
    throw err
  }
}

function holdAddresses(allocator: IPAllocator, net: NetworkState, record: MacvlanEndpointRecord): void {
  const v4 = net.subnetV4 && record.ipv4 ? allocator.requestIP(net.subnetV4, record.ipv4) : undefined
  try {
    if (net.subnetV6 && record.ipv6) allocator.requestIP(net.subnetV6, record.ipv6)
  } catch (err) {
    if (net.subnetV4 && v4) allocator.releaseIP(net.subnetV4, v4)
    throw err
  }
}

/**
 * Restores a recorded endpoint: `gone` when its link is nowhere to be found (nothing is held then);
 * else its addresses are held again and the driver knows where its link is now.
 */
export async function restoreEndpoint(
  res: DriverResources,
  net: NetworkState,
  record: MacvlanEndpointRecord,
): Promise<RestoreOutcome> {
  const where = { id: record.id, sandboxKey: record.sandboxKey, joinedKey: record.joinedKey }
  const found = await findEndpointLink(res, net.id, where)
  if (!found) return 'gone'
  holdAddresses(res.allocator, net, record)
  const ep: EndpointState = {
    id: record.id,
    linkName: record.linkName,
    ifName: record.ifName,
    sandboxKey: record.sandboxKey,
    joinedKey: found.key === record.sandboxKey ? undefined : found.key,
    ipv4: record.ipv4,
    ipv6: record.ipv6,
    mac: record.mac,
    config: parseEndpointConfig(record.options),
  }
  net.endpoints.set(ep.id, ep)
  return 'restored'
}
