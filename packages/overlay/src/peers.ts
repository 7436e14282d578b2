import { hasErrorCode, type KVEvent } from '@cnm/driverapi'
import { addFdbEntry, addNeighbour, deleteFdbEntry, deleteNeighbour, type Handle } from '@cnm/netlink'
import { type EndpointRecord, endpointsPrefix, parseEndpointRecordValue } from './cluster-keys.js'
import type { DriverResources, NetworkState } from './state.js'

/** A remote endpoint as programmed on this host. */
export interface Peer extends EndpointRecord {
  eid: string
}

/**
 * The other hosts' endpoints of one network, as this host programs them on the network's VXLAN
 * device: a static FDB entry (MAC → remote VTEP, the device's own table, permanent) and a permanent
 * neighbour entry (IP → MAC) the device answers ARP from (proxy), so nothing floods and nothing is
 * learned (libnetwork's peerdb). Changes are applied one at a time, in the order they arrive.
 */
export class PeerTable {
  readonly peers = new Map<string, Peer>()
  private queue: Promise<unknown> = Promise.resolve()
  /** Failures of programming (reported by `drain`), so a watch callback never throws. */
  readonly errors: unknown[] = []

  /** Runs `fn` after every change queued before it. */
  enqueue(fn: () => Promise<void>): Promise<void> {
    const p = this.queue.then(fn).catch((err: unknown) => {
      this.errors.push(err)
      if (this.errors.length > 20) this.errors.shift() // the last few, for inspection
    })
    this.queue = p
    return p
  }

  /** Waits for every queued change. */
  async drain(): Promise<void> {
    await this.queue
  }

  /** Programs (or moves) a remote endpoint. */
  async add(host: Handle, vxlanIndex: number, peer: Peer): Promise<void> {
    const old = this.peers.get(peer.eid)
    if (old && old.mac === peer.mac && old.vtep === peer.vtep && old.ipv4 === peer.ipv4 && old.ipv6 === peer.ipv6) {
      return
    }
    if (old) await this.remove(host, vxlanIndex, peer.eid)
    await addFdbEntry(host, vxlanIndex, { mac: peer.mac, dst: peer.vtep, replace: true })
    if (peer.ipv4) await addNeighbour(host, vxlanIndex, { ip: peer.ipv4, mac: peer.mac, replace: true })
    if (peer.ipv6) await addNeighbour(host, vxlanIndex, { ip: peer.ipv6, mac: peer.mac, replace: true })
    this.peers.set(peer.eid, peer)
  }

  /** Removes a remote endpoint's entries (ones already gone are fine). */
  async remove(host: Handle, vxlanIndex: number, eid: string): Promise<void> {
    const peer = this.peers.get(eid)
    if (!peer) return
    this.peers.delete(eid)
    const gone = (err: unknown): void => {
      if (!hasErrorCode(err, 'ENOENT') && !hasErrorCode(err, 'ENODEV')) throw err
    }
    if (peer.ipv4) await deleteNeighbour(host, vxlanIndex, peer.ipv4).catch(gone)
    if (peer.ipv6) await deleteNeighbour(host, vxlanIndex, peer.ipv6).catch(gone)
    await deleteFdbEntry(host, vxlanIndex, { mac: peer.mac, dst: peer.vtep }).catch(gone)
  }

  /** Forgets every peer (the device, and its entries with it, is going). */
  clear(): void {
    this.peers.clear()
  }
}

/** The endpoint id of a record key under the network's prefix. */
function eidOf(res: DriverResources, nid: string, key: string): string | undefined {
  const prefix = endpointsPrefix(res.cluster, nid)
  if (!key.startsWith(prefix)) return undefined
  const eid = key.slice(prefix.length)
  return /^[0-9A-Za-z]+$/u.test(eid) ? eid : undefined
}

/**
 * Holds a remote endpoint's address in this host's pool too, so this host does not offer it (and
 * lose the cluster's compare-and-swap) next time; gives it back when the endpoint goes.
 */
function holdRemote(res: DriverResources, net: NetworkState, eid: string, ip: string | undefined): void {
  const had = net.remoteIPs.get(eid)
  if (had === ip) return
  if (had !== undefined && net.pool) {
    res.allocator.releaseIP(net.pool, had)
    net.remoteIPs.delete(eid)
  }
  if (ip === undefined || !net.pool) return
  try {
    res.allocator.requestIP(net.pool, ip)
    net.remoteIPs.set(eid, ip)
  } catch {
    // Outside the range, or held here already: nothing to hold.
  }
}

function applyEvent(res: DriverResources, net: NetworkState, event: Pick<KVEvent, 'type' | 'key' | 'value'>): void {
  const eid = eidOf(res, net.id, event.key)
  const devices = net.devices
  if (!eid || !devices || net.endpoints.has(eid)) return
  if (event.type === 'delete') {
    holdRemote(res, net, eid, undefined)
    void net.peers.enqueue(() => net.peers.remove(res.host, devices.vxlanIndex, eid))
    return
  }
  const record = parseEndpointRecordValue(event.value)
  if (!record) return
  if (record.host !== res.cluster.host) holdRemote(res, net, eid, record.ipv4)
  if (record.host === res.cluster.host) {
    // One of this host's own (a record left by a previous run): not a peer.
    void net.peers.enqueue(() => net.peers.remove(res.host, devices.vxlanIndex, eid))
    return
  }
  void net.peers.enqueue(() => net.peers.add(res.host, devices.vxlanIndex, { ...record, eid }))
}

/**
 * Follows the network's endpoint records: programs every other host's endpoint that is there now,
 * then every change after that read (no gap, none twice). When the watch cannot continue (the
 * store compacted the revision it needed) it reads again, removes the peers that are gone and
 * watches anew. Returns the function that stops it.
 */
export async function watchPeers(res: DriverResources, net: NetworkState): Promise<() => Promise<void>> {
  const prefix = endpointsPrefix(res.cluster, net.id)
  let stopped = false
  let stop: (() => Promise<void>) | undefined
  const follow = async (): Promise<void> => {
    const now = await res.cluster.kv.range(prefix)
    const present = new Set(now.entries.map((e) => eidOf(res, net.id, e.key)))
    for (const eid of [...net.peers.peers.keys()]) {
      if (!present.has(eid)) applyEvent(res, net, { type: 'delete', key: `${prefix}${eid}`, value: '' })
    }
    for (const e of now.entries) applyEvent(res, net, { type: 'put', key: e.key, value: e.value })
    stop = await res.cluster.kv.watch(prefix, (event) => applyEvent(res, net, event), {
      fromRevision: String(BigInt(now.revision) + 1n),
      onError: (err) => {
        net.peers.errors.push(err)
        if (stopped) return
        void net.peers.enqueue(async () => {
          await stop?.()
          if (!stopped) await follow()
        })
      },
    })
  }
  await follow()
  await net.peers.drain()
  return async () => {
    stopped = true
    await stop?.()
  }
}

/** Forgets every peer and gives back the addresses held for them (the device is going). */
export function forgetPeers(res: DriverResources, net: NetworkState): void {
  net.peers.clear()
  for (const ip of net.remoteIPs.values()) if (net.pool) res.allocator.releaseIP(net.pool, ip)
  net.remoteIPs.clear()
}
