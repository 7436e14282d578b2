import type { RestoreOutcome } from '@cnm/driverapi'
import { releaseClaim, republish } from './addresses.js'
import { endpointKey, parseEndpointRecordValue } from './cluster-keys.js'
import { adoptDevices } from './devices.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { endpointAlias } from './marks.js'
import { type NetworkConfig, parseNetworkConfig } from './network-config.js'
import { PeerTable } from './peers.js'
import type { OverlayEndpointRecord, OverlayNetworkRecord } from './records.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'

/** A network's state from its validated config and VNI (no pool registered, no devices yet). */
export function newNetworkState(id: string, config: NetworkConfig, vni: number): NetworkState {
  return {
    id,
    config,
    vni,
    pool: undefined,
    endpoints: new Map(),
    devices: undefined,
    peers: new PeerTable(),
    remoteIPs: new Map(),
  }
}

/** A network from its record: nothing to take back in the kernel until an endpoint is restored. */
export function restoreNetworkState(record: OverlayNetworkRecord): NetworkState {
  return newNetworkState(record.id, parseNetworkConfig(record.options), record.vni)
}

/**
 * Takes an endpoint back: its veth (found by name and mark) must still be there, else it is `gone`
 * (nothing held). The network's devices are adopted (or rebuilt) with the first endpoint, the
 * address is held again here, and the claim and record are written again in the cluster (the
 * host's lease may be a new one).
 */
export async function restoreEndpoint(
  res: DriverResources,
  net: NetworkState,
  record: OverlayEndpointRecord,
): Promise<RestoreOutcome> {
  const veth = await res.host.findLink(record.hostVeth)
  if (!veth || veth.alias !== endpointAlias(res.owner, net.id, record.id)) return 'gone'
  const pool = net.pool
  if (record.ipv4 !== undefined) {
    if (!pool) throw new Error(`overlay network ${net.id} has no address pool`)
    res.allocator.requestIP(pool, record.ipv4)
  }
  try {
    await republish(res, net.id, record.id, {
      host: res.cluster.host,
      vtep: res.cluster.advertise,
      mac: record.mac,
      ...(record.ipv4 ? { ipv4: record.ipv4 } : {}),
      ...(record.ipv6 ? { ipv6: record.ipv6 } : {}),
    })
    let outcome: RestoreOutcome = 'restored'
    if (!net.devices) outcome = await adoptDevices(res, net)
    const devices = net.devices
    if (devices && veth.master !== (await res.host.getLink(devices.bridge)).index) {
      await res.host.setMaster(record.hostVeth, devices.bridge)
      outcome = 'rebuilt'
    }
    const ep: EndpointState = {
      id: record.id,
      hostVeth: record.hostVeth,
      linkName: record.linkName,
      ifName: record.ifName,
      sandboxKey: record.sandboxKey,
      joinedKey: record.joinedKey,
      ipv4: record.ipv4,
      ipv6: record.ipv6,
      mac: record.mac,
      config: parseEndpointConfig(record.options),
    }
    net.endpoints.set(ep.id, ep)
    return outcome
  } catch (err) {
    if (pool && record.ipv4 !== undefined) res.allocator.releaseIP(pool, record.ipv4)
    throw err
  }
}

/** Deletes an endpoint's record and address claim from the cluster (its kernel parts are gone). */
export async function dropRecords(res: DriverResources, nid: string, record: OverlayEndpointRecord): Promise<void> {
  const { cluster } = res
  const key = endpointKey(cluster, nid, record.id)
  const entry = await cluster.kv.get(key)
  if (entry && parseEndpointRecordValue(entry.value)?.host !== cluster.host) return // another host's now
  await releaseClaim(res, nid, record.id, record.ipv4, record.ipv6)
}
