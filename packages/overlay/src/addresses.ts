import { hasErrorCode } from '@cnm/driverapi'
import { parseCIDR } from '@cnm/ip'
import { ERR_IP_OUT_OF_RANGE, type IPAllocator } from '@cnm/ipallocator'
import { addressKey, type EndpointRecord, endpointKey } from './cluster-keys.js'
import { AddressInUseError } from './errors.js'
import type { DriverResources, NetworkState } from './state.js'

/** Registers the network's pool in this host's allocator and holds the gateway in it. */
export function registerPool(allocator: IPAllocator, net: NetworkState): void {
  const p = parseCIDR(net.config.addressIPv4)
  allocator.registerSubnet(p.cidr, net.config.fixedCIDR ?? p.cidr)
  net.pool = p.cidr
  try {
    allocator.requestIP(p.cidr, p.address)
  } catch (err) {
    if (!hasErrorCode(err, ERR_IP_OUT_OF_RANGE)) {
      releasePool(allocator, net)
      throw err
    }
  }
}

/** Forgets the network's pool (and every address held in it). */
export function releasePool(allocator: IPAllocator, net: NetworkState): void {
  if (net.pool) allocator.unregisterNetwork(net.pool)
  net.pool = undefined
  net.remoteIPs.clear()
}

/**
 * Claims an endpoint's address cluster-wide and writes its record, in one compare-and-swap
 * transaction bound to this host's lease: false when another endpoint (on any host) holds the
 * address already.
 */
export function claimAddress(res: DriverResources, nid: string, eid: string, record: EndpointRecord): Promise<boolean> {
  const { cluster } = res
  const key = addressKey(cluster, nid, record.ipv4)
  return cluster.kv.txn(
    [{ key, absent: true }],
    [
      { put: key, value: eid, lease: 'host' },
      { put: endpointKey(cluster, nid, eid), value: JSON.stringify(record), lease: 'host' },
    ],
  )
}

/** Gives an endpoint's address back, here and in the store, with its record (one transaction). */
export async function releaseAddress(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  ipv4: string,
): Promise<void> {
  if (net.pool) res.allocator.releaseIP(net.pool, ipv4)
  await releaseClaim(res, net.id, eid, ipv4)
}

/** Deletes the endpoint's address claim and record from the store (one transaction). */
export async function releaseClaim(res: DriverResources, nid: string, eid: string, ipv4: string): Promise<void> {
  await res.cluster.kv.txn(
    [],
    [{ delete: addressKey(res.cluster, nid, ipv4) }, { delete: endpointKey(res.cluster, nid, eid) }],
  )
}

/**
 * Writes the endpoint's claim and record again (after a restart, or once the host's lease was lost
 * and granted anew): its own claim is renewed, another endpoint's is `ERR_ADDRESS_IN_USE`.
 */
export async function republish(res: DriverResources, nid: string, eid: string, record: EndpointRecord): Promise<void> {
  const { cluster } = res
  const key = addressKey(cluster, nid, record.ipv4)
  for (let attempt = 0; attempt < 4; attempt++) {
    const current = await cluster.kv.get(key)
    if (current && current.value !== eid) throw new AddressInUseError(nid, record.ipv4)
    const ok = await cluster.kv.txn(current ? [{ key, modRevision: current.modRevision }] : [{ key, absent: true }], [
      { put: key, value: eid, lease: 'host' },
      { put: endpointKey(cluster, nid, eid), value: JSON.stringify(record), lease: 'host' },
    ])
    if (ok) return
  }
  throw new AddressInUseError(nid, record.ipv4)
}
