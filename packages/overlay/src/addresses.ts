import { addressClaimKey, addressClaimValue, hasErrorCode, type KVCompare, parseAddressClaim } from '@cnm/driverapi'
import { ERR_IP_OUT_OF_RANGE, type IPAllocator } from '@cnm/ipallocator'
import { type EndpointRecord, endpointKey, networkKey } from './cluster-keys.js'
import { AddressInUseError } from './errors.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'

/**
 * Registers the network's IPv4 pool in this host's allocator and holds the gateway in it (an
 * IPv6-only network has none: its addresses come from the MAC).
 */
export function registerPool(allocator: IPAllocator, net: NetworkState): void {
  const v4 = net.config.ipv4
  if (!v4) return
  const pool = v4.subnet.cidr
  allocator.registerSubnet(pool, net.config.ipRange?.cidr ?? pool)
  net.pool = pool
  try {
    allocator.requestIP(pool, v4.gateway.text)
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

/** This host's claim of an address for endpoint `eid`, as the cluster records it (the exact text). */
function claimValue(res: DriverResources, eid: string): string {
  return addressClaimValue({ host: res.cluster.host, endpoint: eid })
}

/** The addresses an endpoint claims: its IPv4 address and its IPv6 one, those it has. */
function addressesOf(ipv4: string | undefined, ipv6: string | undefined): string[] {
  return [ipv4, ipv6].filter((ip): ip is string => ip !== undefined)
}

/**
 * Claims an endpoint's addresses cluster-wide and writes its record, in one compare-and-swap
 * transaction bound to this host's lease, made only while the network exists: false when another
 * endpoint (on any host) holds one of them already. The claims are the cluster's one record of an
 * address (`ipam/<nid>/<ip>`, the key the controller reads): the driver is their only writer.
 */
export function claimAddress(res: DriverResources, nid: string, eid: string, record: EndpointRecord): Promise<boolean> {
  const { cluster } = res
  const keys = addressesOf(record.ipv4, record.ipv6).map((ip) => addressClaimKey(cluster, nid, ip))
  return cluster.kv.txn(
    [{ key: networkKey(cluster, nid), present: true }, ...keys.map((key) => ({ key, absent: true as const }))],
    [
      ...keys.map((key) => ({ put: key, value: claimValue(res, eid), lease: 'host' as const })),
      { put: endpointKey(cluster, nid, eid), value: JSON.stringify(record), lease: 'host' },
    ],
  )
}

/** Gives an endpoint's addresses back, here and in the store, with its record (one transaction). */
export async function releaseAddress(res: DriverResources, net: NetworkState, ep: EndpointState): Promise<void> {
  if (net.pool && ep.ipv4) res.allocator.releaseIP(net.pool, ep.ipv4)
  await releaseClaim(res, net.id, ep.id, ep.ipv4, ep.ipv6)
}

/**
 * Deletes the endpoint's address claims and record from the store, in one compare-and-swap
 * transaction: only while every claim is still this endpoint's on this host (a claim another
 * endpoint made since, after this host's lease expired, is not touched). Otherwise the record goes
 * with the claims that are still this endpoint's, one compare-and-swap each.
 */
export async function releaseClaim(
  res: DriverResources,
  nid: string,
  eid: string,
  ipv4: string | undefined,
  ipv6?: string,
): Promise<void> {
  const { cluster } = res
  const value = claimValue(res, eid)
  const keys = addressesOf(ipv4, ipv6).map((ip) => addressClaimKey(cluster, nid, ip))
  const record = endpointKey(cluster, nid, eid)
  const ops = [...keys.map((key) => ({ delete: key })), { delete: record }]
  if (
    await cluster.kv.txn(
      keys.map((key) => ({ key, value })),
      ops,
    )
  )
    return
  await cluster.kv.delete(record)
  for (const key of keys) await cluster.kv.txn([{ key, value }], [{ delete: key }])
}

/**
 * Writes the endpoint's claims and record again (after a restart, or once the host's lease was
 * lost and granted anew): its own claims are renewed, another endpoint's is `ERR_ADDRESS_IN_USE`.
 */
export async function republish(res: DriverResources, nid: string, eid: string, record: EndpointRecord): Promise<void> {
  const { cluster } = res
  const ips = addressesOf(record.ipv4, record.ipv6)
  for (let attempt = 0; attempt < 4; attempt++) {
    const compare: KVCompare[] = []
    for (const ip of ips) {
      const key = addressClaimKey(cluster, nid, ip)
      const current = await cluster.kv.get(key)
      if (current && parseAddressClaim(current.value)?.endpoint !== eid) throw new AddressInUseError(nid, ip)
      compare.push(current ? { key, modRevision: current.modRevision } : { key, absent: true })
    }
    const ok = await cluster.kv.txn(compare, [
      ...ips.map((ip) => ({
        put: addressClaimKey(cluster, nid, ip),
        value: claimValue(res, eid),
        lease: 'host' as const,
      })),
      { put: endpointKey(cluster, nid, eid), value: JSON.stringify(record), lease: 'host' },
    ])
    if (ok) return
  }
  throw new AddressInUseError(nid, ips.join(' and '))
}
