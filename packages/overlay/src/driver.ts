import path from 'node:path'
import {
  ActiveEndpointsError,
  type ClusterContext,
  type Driver,
  type DriverPersistence,
  EndpointExistsError,
  type EndpointInfo,
  InvalidConfigError,
  NetworkExistsError,
  type NetworkInfo,
  type NetworkIpam,
  NoEndpointError,
  NoNetworkError,
  TeardownError,
} from '@cnm/driverapi'
import { createFirewall, type Firewall, type FirewallBackendName } from '@cnm/firewall'
import { containsAddress, networksOverlap, parseAddress } from '@cnm/ip'
import { IPAllocator } from '@cnm/ipallocator'
import { openHandle } from '@cnm/netlink'
import { registerPool, releasePool } from './addresses.js'
import { OVERLAY_DRIVER_NAME } from './driver-name.js'
import { createEndpoint, deleteEndpoint } from './endpoint.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { NoClusterError } from './errors.js'
import { DEFAULT_OWNER, endpointAlias } from './marks.js'
import { type NetworkConfig, parseNetworkConfig } from './network-config.js'
import { endpointRecord, networkRecord, parseEndpointRecord, parseNetworkRecord } from './records.js'
import { republishAll } from './republish.js'
import { dropRecords, newNetworkState, restoreEndpoint, restoreNetworkState } from './restore.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'
import { removeStrays } from './strays.js'
import { claimVni, releaseVni } from './vni.js'

/** Options for {@link createOverlayDriver} (the controller's `DriverContext`, and a few of its own). */
export interface OverlayDriverOptions {
  /** Who owns what this driver creates (a store's id), written in its links' aliases. Default `-`. */
  owner?: string
  /** The cluster this host joined: without one every network is refused (`ERR_NO_CLUSTER`). */
  cluster?: ClusterContext
  /** The firewall backend (default: nftables when it works, else iptables; `none` writes no rules). */
  firewallBackend?: FirewallBackendName
  /**
   * A bound network namespace to work in instead of the caller's (several "hosts" in one test
   * process). The firewall acts on the caller's namespace only, so this needs `firewallBackend: 'none'`.
   */
  netns?: string
}

const ID = /^[0-9A-Za-z_-]+$/u

function checkIds(owner: string, nid: string, eid?: string): void {
  if (!ID.test(nid) || nid.length < 12) {
    throw new InvalidConfigError(`network id ${JSON.stringify(nid)} must be 12 or more of [0-9A-Za-z_-]`)
  }
  if (eid === undefined) return
  if (!/^[0-9A-Za-z]{12,}$/u.test(eid)) {
    throw new InvalidConfigError(`endpoint id ${JSON.stringify(eid)} must be 12 or more alphanumerics`)
  }
  if (Buffer.byteLength(endpointAlias(owner, nid, eid)) > 255) {
    throw new InvalidConfigError(`network id ${nid} and endpoint id ${eid} are too long together`)
  }
}

function checkSandboxKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || (key !== '' && (!path.isAbsolute(key) || path.normalize(key) !== key))) {
    throw new InvalidConfigError(`sandbox key ${JSON.stringify(key)} must be an absolute path (or '')`)
  }
}

/** Refuses a subnet that overlaps another overlay network's of this driver (and a VNI it uses). */
function checkAgainstOthers(nid: string, cfg: NetworkConfig, others: Iterable<NetworkState>): void {
  for (const o of others) {
    for (const [mine, theirs] of [
      [cfg.ipv4, o.config.ipv4],
      [cfg.ipv6, o.config.ipv6],
    ]) {
      if (mine && theirs && networksOverlap(mine.subnet, theirs.subnet)) {
        throw new InvalidConfigError(
          `network ${nid}: ${mine.subnet.cidr} overlaps network ${o.id} (${theirs.subnet.cidr})`,
        )
      }
    }
  }
}

/**
 * Addresses asked for must fit the network: an IPv4 one needs an IPv4 subnet, an IPv6 one must be a
 * host address of the IPv6 subnet (not its gateway).
 */
function checkAddresses(net: NetworkState, ip: string | undefined, ipv4: string | undefined): void {
  if (ipv4 !== undefined && !net.config.ipv4) {
    throw new InvalidConfigError(`ipv4Address ${ipv4}: network ${net.id} is IPv6-only`)
  }
  if (ip === undefined) return
  const v6 = net.config.ipv6
  if (!v6) throw new InvalidConfigError(`ipv6Address ${ip}: network ${net.id} has no IPv6 subnet`)
  const address = parseAddress(ip)
  if (!containsAddress(v6.subnet, address) || address.value === v6.gateway.value) {
    throw new InvalidConfigError(`ipv6Address ${ip} is not a free host address of ${v6.subnet.cidr}`)
  }
}

function checkDriverConfig(raw: unknown): void {
  if (raw === undefined || raw === null) return
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('driver options must be an object')
  const key = Object.keys(raw)[0]
  if (key !== undefined) throw new InvalidConfigError(`unknown overlay driver option ${JSON.stringify(key)}`)
}

function networkInfo(n: NetworkState): NetworkInfo {
  return {
    id: n.id,
    device: n.devices?.bridge,
    subnetV4: n.config.ipv4?.subnet.cidr,
    gatewayV4: n.config.ipv4?.gateway.text,
    subnetV6: n.config.ipv6?.subnet.cidr,
    gatewayV6: n.config.ipv6?.gateway.text,
    internal: n.config.internal,
    icc: true,
  }
}

function endpointInfo(ep: EndpointState): EndpointInfo {
  return { id: ep.id, ipv4: ep.ipv4, ipv6: ep.ipv6, macAddress: ep.mac, ports: [] }
}

/**
 * libnetwork's `overlay` driver on the cnm contract: one network across the hosts of a cluster over
 * VXLAN. On each host with endpoints: a bridge and a VXLAN device; every other host's endpoint is a
 * static FDB entry and a neighbour entry programmed from the cluster's records (no flooding, no
 * learning). VNIs, addresses and endpoint records live in the cluster store (compare-and-swap,
 * records bound to the host's lease).
 */
export function createOverlayDriver(options: OverlayDriverOptions = {}): Driver {
  const owner = options.owner ?? DEFAULT_OWNER
  if (!/^[A-Za-z0-9_-]{1,64}$/u.test(owner))
    throw new InvalidConfigError(`invalid driver owner ${JSON.stringify(owner)}`)
  const cluster = options.cluster
  if (options.netns !== undefined && options.firewallBackend !== 'none') {
    throw new InvalidConfigError('an overlay driver working in another namespace (netns) needs firewallBackend none')
  }
  const networks = new Map<string, NetworkState>()
  const allocator = new IPAllocator()
  let resources: Promise<DriverResources> | undefined
  let unsubscribeLease: (() => void) | undefined
  let lock: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = lock.then(fn, fn)
    lock = p.catch(() => undefined)
    return p
  }
  const res = (nid?: string): Promise<DriverResources> => {
    if (!cluster) return Promise.reject(new NoClusterError(nid ?? '(any)'))
    resources ??= (async () => {
      const host = await openHandle(options.netns !== undefined ? { netns: options.netns } : {})
      let firewall: Firewall
      try {
        firewall = await createFirewall(options.firewallBackend ? { backend: options.firewallBackend } : {})
      } catch (err) {
        host.close()
        throw err
      }
      const r: DriverResources = { owner, host, allocator, firewall, cluster }
      // A lost lease took this host's records with it: write them again under the new one.
      unsubscribeLease = cluster.kv.onLease((event) => {
        if (event === 'granted') void serial(() => republishAll(r, networks))
      })
      return r
    })().catch((err: unknown) => {
      resources = undefined // a failed open can be tried again
      throw err
    })
    return resources
  }
  const network = (nid: string): NetworkState => {
    const n = networks.get(nid)
    if (!n) throw new NoNetworkError(nid)
    return n
  }
  const endpoint = (nid: string, eid: string): EndpointState => {
    const ep = network(nid).endpoints.get(eid)
    if (!ep) throw new NoEndpointError(eid)
    return ep
  }
  const others = (nid: string): NetworkState[] => [...networks.values()].filter((n) => n.id !== nid)
  /** Stops following the cluster for a network and drops it from memory (the kernel keeps its devices). */
  const drop = async (net: NetworkState): Promise<void> => {
    await net.devices?.stopWatch?.()
    await net.peers.drain()
    releasePool(allocator, net)
    networks.delete(net.id)
  }

  const persistence: DriverPersistence = {
    exportNetwork: (nid) => networkRecord(network(nid)),
    exportEndpoint: (nid, eid) => endpointRecord(endpoint(nid, eid)),
    restoreNetwork: (nid, raw) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        const net = restoreNetworkState(parseNetworkRecord(nid, raw))
        checkAgainstOthers(nid, net.config, others(nid))
        await res(nid)
        registerPool(allocator, net)
        networks.set(nid, net)
        return 'restored' as const
      }),
    restoreEndpoint: (nid, eid, raw) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        const record = parseEndpointRecord(eid, raw)
        const r = await res(nid)
        const outcome = await restoreEndpoint(r, net, record)
        if (outcome === 'gone') await dropRecords(r, nid, record)
        return outcome
      }),
    forgetEndpoint: (nid, eid) =>
      serial(async () => {
        const net = network(nid)
        const ep = endpoint(nid, eid)
        if (net.pool && ep.ipv4) allocator.releaseIP(net.pool, ep.ipv4)
        net.endpoints.delete(eid)
      }),
    forgetNetwork: (nid) => serial(async () => drop(network(nid))),
    // A host that joined no cluster has no overlay network to keep or sweep (the controller asks
    // every registered driver at each reconcile): nothing to report.
    removeStrays: (known) =>
      cluster
        ? serial(async () => removeStrays(await res(), networks, known))
        : Promise.resolve({ links: [], firewallNetworks: [], firewallPorts: [], errors: [] }),
    endpointAlive: (nid, eid) =>
      serial(async () => {
        const ep = endpoint(nid, eid)
        const link = await (await res(nid)).host.findLink(ep.hostVeth)
        return link?.alias === endpointAlias(owner, nid, eid)
      }),
  }

  return {
    name: OVERLAY_DRIVER_NAME,
    capabilities: {
      scope: 'global',
      publishesPorts: false,
      needsParent: false,
      claimsAddresses: true,
      deletesInterfaceAnywhere: true,
    },
    async config(raw) {
      checkDriverConfig(raw)
      if (cluster) await res()
    },
    createNetwork: (nid, raw, ipam?: NetworkIpam) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        checkIds(owner, nid)
        const config = parseNetworkConfig(raw, ipam)
        checkAgainstOthers(nid, config, networks.values())
        const r = await res(nid)
        const vni = await claimVni(r.cluster, nid, config.vni)
        const net = newNetworkState(nid, config, vni)
        registerPool(allocator, net)
        networks.set(nid, net)
      }),
    deleteNetwork: (nid) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.size > 0) throw new ActiveEndpointsError(nid, net.endpoints.size)
        const r = await res(nid)
        await drop(net)
        // The VNI and the cluster's record go when no host has an endpoint on the network any more.
        await releaseVni(r.cluster, nid, net.vni).catch((err: unknown) => {
          throw new TeardownError(`delete network ${nid}`, [err])
        })
      }),
    createEndpoint: (nid, eid, sandboxKey, raw) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        checkIds(owner, nid, eid)
        checkSandboxKey(sandboxKey)
        const cfg = parseEndpointConfig(raw)
        checkAddresses(net, cfg.ipv6Address, cfg.ipv4Address)
        return createEndpoint(await res(nid), net, eid, sandboxKey, cfg)
      }),
    deleteEndpoint: (nid, eid) =>
      serial(async () => {
        const net = network(nid)
        const ep = endpoint(nid, eid)
        const errors = await deleteEndpoint(await res(nid), net, ep)
        if (errors.length > 0) throw new TeardownError(`delete endpoint ${eid}`, errors)
      }),
    join: (nid, eid, sandboxKey, raw) =>
      serial(async () => {
        const ep = endpoint(nid, eid)
        checkSandboxKey(sandboxKey)
        if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
          throw new InvalidConfigError('join options must be an object')
        }
        ep.joinedKey = sandboxKey === '' || sandboxKey === ep.sandboxKey ? undefined : sandboxKey
        return {}
      }),
    leave: (nid, eid) =>
      serial(async () => {
        endpoint(nid, eid).joinedKey = undefined
      }),
    networkInfo: (nid) => {
      const n = networks.get(nid)
      return n ? networkInfo(n) : undefined
    },
    endpointInfo: (nid, eid) => endpointInfo(endpoint(nid, eid)),
    persistence,
    async close() {
      // The kernel keeps every device and entry, the cluster every record: only this process's state goes.
      await serial(async () => {
        for (const net of [...networks.values()]) await drop(net)
        unsubscribeLease?.()
        unsubscribeLease = undefined
        const r = await resources?.catch(() => undefined)
        resources = undefined
        r?.host.close()
      })
    },
  }
}
