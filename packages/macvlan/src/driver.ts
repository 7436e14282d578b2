import path from 'node:path'
import {
  ActiveEndpointsError,
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
import { networksOverlap } from '@cnm/ip'
import { IPAllocator } from '@cnm/ipallocator'
import { openHandle } from '@cnm/netlink'
import { registerPools, releaseAddresses, releasePools } from './addresses.js'
import { MACVLAN_DRIVER_NAME } from './driver-name.js'
import { createEndpoint, deleteEndpoint, findEndpointLink } from './endpoint.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { ParentInUseError } from './errors.js'
import { DEFAULT_OWNER, endpointAlias } from './marks.js'
import { type NetworkConfig, parseNetworkConfig } from './network-config.js'
import { setupParent, teardownParent } from './parent.js'
import { endpointRecord, networkRecord, parseEndpointRecord, parseNetworkRecord } from './records.js'
import { newNetworkState, restoreEndpoint, restoreNetwork } from './restore.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'
import { removeStrays } from './strays.js'

/** Options for {@link createMacvlanDriver} (the controller's `DriverContext`). */
export interface MacvlanDriverOptions {
  /**
   * Who owns what this driver creates (a store's id, `[A-Za-z0-9_-]`): written in the links'
   * aliases, so that `removeStrays` only ever removes its own. Default `-`.
   */
  owner?: string
}

const ID = /^[0-9A-Za-z_-]+$/u

function checkIds(owner: string, nid: string, eid?: string): void {
  if (!ID.test(nid)) throw new InvalidConfigError(`network id ${JSON.stringify(nid)} must be [0-9A-Za-z_-]`)
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

/** Refuses a parent another network uses, and a subnet that overlaps another network's. */
function checkAgainstOthers(nid: string, cfg: NetworkConfig, others: Iterable<NetworkState>): void {
  for (const o of others) {
    if (o.config.parent.name === cfg.parent.name) throw new ParentInUseError(cfg.parent.name, o.id)
    for (const [mine, theirs] of [
      [cfg.addressIPv4, o.subnetV4],
      [cfg.fixedCIDRv6, o.subnetV6],
    ] as const) {
      if (mine && theirs && networksOverlap(mine, theirs)) {
        throw new InvalidConfigError(`network ${nid}: ${mine} overlaps network ${o.id} (${theirs})`)
      }
    }
  }
}

function networkInfo(n: NetworkState): NetworkInfo {
  return {
    id: n.id,
    device: n.config.parent.name,
    subnetV4: n.subnetV4,
    gatewayV4: n.gatewayV4,
    subnetV6: n.subnetV6,
    gatewayV6: n.gatewayV6,
    internal: n.config.internal,
    icc: n.config.mode !== 'private',
  }
}

function endpointInfo(ep: EndpointState): EndpointInfo {
  return { id: ep.id, ipv4: ep.ipv4, ipv6: ep.ipv6, macAddress: ep.mac || undefined, ports: [] }
}

function checkDriverConfig(raw: unknown): void {
  if (raw === undefined || raw === null) return
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('driver options must be an object')
  const key = Object.keys(raw)[0]
  if (key !== undefined) throw new InvalidConfigError(`unknown macvlan driver option ${JSON.stringify(key)}`)
}

/**
 * Docker's macvlan driver on the cnm contract: a network per parent interface (a VLAN
 * sub-interface when written `eth1.20`), an endpoint per macvlan link, born in its sandbox.
 */
export function createMacvlanDriver(options: MacvlanDriverOptions = {}): Driver {
  const owner = options.owner ?? DEFAULT_OWNER
  if (!/^[A-Za-z0-9_-]{1,64}$/u.test(owner)) {
    throw new InvalidConfigError(`invalid driver owner ${JSON.stringify(owner)}`)
  }
  const networks = new Map<string, NetworkState>()
  const allocator = new IPAllocator()
  let resources: Promise<DriverResources> | undefined
  let lock: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = lock.then(fn, fn)
    lock = p.catch(() => undefined)
    return p
  }
  const res = (): Promise<DriverResources> => {
    resources ??= openHandle().then(
      (host) => ({ owner, host, allocator }),
      (err: unknown) => {
        resources = undefined // a failed open can be tried again
        throw err
      },
    )
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

  const persistence: DriverPersistence = {
    exportNetwork: (nid) => networkRecord(network(nid)),
    exportEndpoint: (nid, eid) => endpointRecord(endpoint(nid, eid)),
    restoreNetwork: (nid, raw) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        const record = parseNetworkRecord(nid, raw)
        const check = (cfg: NetworkConfig): void => checkAgainstOthers(nid, cfg, others(nid))
        const { net, outcome } = await restoreNetwork(await res(), record, check)
        networks.set(nid, net)
        return outcome
      }),
    restoreEndpoint: (nid, eid, raw) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        return restoreEndpoint(await res(), net, parseEndpointRecord(eid, raw))
      }),
    forgetEndpoint: (nid, eid) =>
      serial(async () => {
        const net = network(nid)
        const ep = endpoint(nid, eid)
        releaseAddresses(allocator, net, ep)
        net.endpoints.delete(eid)
      }),
    forgetNetwork: (nid) =>
      serial(async () => {
        const net = network(nid)
        releasePools(allocator, net) // the endpoints' addresses go with the pools
        net.endpoints.clear()
        networks.delete(nid)
      }),
    removeStrays: (known) => serial(async () => removeStrays(await res(), networks, known)),
    endpointAlive: (nid, eid) =>
      serial(async () => (await findEndpointLink(await res(), nid, endpoint(nid, eid))) !== undefined),
  }

  return {
    name: MACVLAN_DRIVER_NAME,
    capabilities: { scope: 'local', publishesPorts: false, needsParent: true, namesInterfaces: true },
    async config(raw) {
      checkDriverConfig(raw)
      await res()
    },
    createNetwork: (nid, raw, ipam?: NetworkIpam) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        checkIds(owner, nid)
        const config = parseNetworkConfig(raw, ipam)
        checkAgainstOthers(nid, config, networks.values())
        const r = await res()
        const net = newNetworkState(nid, config)
        registerPools(allocator, net)
        try {
          await setupParent(r, net)
        } catch (err) {
          releasePools(allocator, net)
          throw err
        }
        networks.set(nid, net)
      }),
    deleteNetwork: (nid) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.size > 0) throw new ActiveEndpointsError(nid, net.endpoints.size)
        const errors: unknown[] = []
        await teardownParent(await res(), net).catch((err: unknown) => errors.push(err))
        releasePools(allocator, net)
        networks.delete(nid)
        if (errors.length > 0) throw new TeardownError(`delete network ${nid}`, errors)
      }),
    createEndpoint: (nid, eid, sandboxKey, raw) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        checkIds(owner, nid, eid)
        checkSandboxKey(sandboxKey)
        const cfg = parseEndpointConfig(raw)
        if (cfg.ipv4Address && !net.subnetV4) throw new InvalidConfigError(`network ${nid} has no IPv4 subnet`)
        if (cfg.ipv6Address && !net.subnetV6) throw new InvalidConfigError(`network ${nid} has no IPv6 subnet`)
        return createEndpoint(await res(), net, eid, sandboxKey, cfg)
      }),
    deleteEndpoint: (nid, eid) =>
      serial(async () => {
        const net = network(nid)
        const ep = endpoint(nid, eid)
        const errors = await deleteEndpoint(await res(), net, ep)
        if (errors.length > 0) throw new TeardownError(`delete endpoint ${eid}`, errors)
      }),
    join: (nid, eid, sandboxKey, raw) =>
      serial(async () => {
        const ep = endpoint(nid, eid)
        checkSandboxKey(sandboxKey)
        if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
          throw new InvalidConfigError('join options must be an object')
        }
        // The gateways are in the SandboxInfo already; the driver only learns where the link goes.
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
      // The kernel keeps every link; only this process's state and handle go.
      await serial(async () => {
        for (const net of networks.values()) releasePools(allocator, net)
        networks.clear()
        const r = await resources?.catch(() => undefined)
        resources = undefined
        r?.host.close()
      })
    },
  }
}
