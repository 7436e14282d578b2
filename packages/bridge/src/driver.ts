import { readFileSync } from 'node:fs'
import path from 'node:path'
import {
  ActiveEndpointsError,
  CnmError,
  type Driver,
  type DriverContext,
  type DriverPersistence,
  EndpointExistsError,
  type EndpointInfo,
  hasErrorCode,
  InvalidConfigError,
  NetworkExistsError,
  type NetworkInfo,
  type NetworkIpam,
  type NetworkSubnet,
  NoEndpointError,
  NoNetworkError,
  type SandboxInfo,
  TeardownError,
} from '@cnm/driverapi'
import { createFirewall } from '@cnm/firewall'
import { containsAddress, type IPPrefix, parseCIDR, tryParseAddress } from '@cnm/ip'
import { ERR_NO_AVAILABLE_IPS, IPAllocator, networksOverlap } from '@cnm/ipallocator'
import { type ConntrackWatch, openHandle } from '@cnm/netlink'
import type { PortAllocator } from '@cnm/portallocator'
import { PortMapper } from '@cnm/portmapper'
import { sweepConntrack } from './conntrack-sweep.js'
import { parseDriverConfig } from './driver-config.js'
import { BRIDGE_DRIVER_NAME, defaultBridgeName } from './driver-name.js'
import { createEndpoint, deleteEndpoint } from './endpoint.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { hostVethName } from './endpoint-names.js'
import { publishEndpointPorts, unpublishEndpointPorts } from './endpoint-ports.js'
import { type FirewallWatchOptions, heldRules, watchFirewall } from './firewall-watch.js'
import { createFlushQueue } from './flush-queue.js'
import { createHostView, type HostView } from './host-view.js'
import { DEFAULT_OWNER } from './marks.js'
import { type NetworkConfig, parseNetworkConfig } from './network-config.js'
import { newNetworkState } from './network-state.js'
import { flushWatched } from './publish.js'
import { endpointRecord, networkRecord } from './records.js'
import type { DeferredTeardown, DriverResources, EndpointState, NetworkContext, NetworkState } from './resources.js'
import { endpointRecordOf, networkRecordOf, restoreEndpoint, restoreNetwork } from './restore.js'
import { checkGateway } from './steps/check-gateway.js'
import { setupAcceptRA } from './steps/setup-accept-ra.js'
import { setupDevice, setupDeviceUp } from './steps/setup-device.js'
import { setupFirewall } from './steps/setup-firewall.js'
import { setupIPForwarding } from './steps/setup-ip-forwarding.js'
import { setupIPv4 } from './steps/setup-ipv4.js'
import { setupIPv6 } from './steps/setup-ipv6.js'
import { setupMoreSubnets } from './steps/setup-more-subnets.js'
import { runSteps, type Step, undoSteps } from './steps/step.js'
import { removeStrays } from './strays.js'
import { allSubnets, subnetHolding, subnetsOf } from './subnets.js'
import { RETAKE_MS, retakePorts, unheldPorts } from './unheld-ports.js'

/** A MAC address another endpoint of the network already has. */
export const ERR_MAC_IN_USE = 'ERR_MAC_IN_USE'

/** The setup steps of a network, in order (undone in reverse). */
const NETWORK_STEPS: readonly Step<NetworkContext>[] = [
  checkGateway,
  setupDevice,
  setupAcceptRA,
  setupIPv4,
  setupIPv6,
  setupMoreSubnets,
  setupIPForwarding,
  setupFirewall,
  setupDeviceUp,
]

/** Options for {@link createBridgeDriver} (a {@link DriverContext} and more). */
export interface BridgeDriverOptions extends Partial<DriverContext> {
  /** The host port allocator the port mapper uses (default: the shared one). */
  portAllocator?: PortAllocator
  /** Where nameservers are read for the overlap check (default `/etc/resolv.conf`). */
  resolvConfPath?: string
  /** Told what a repair of the firewall rules (with `watchKernel`) found missing and put back, or why it failed. */
  onFirewallRepair?: FirewallWatchOptions['onRepair']
  /**
   * With `watchKernel`: told, in words, of a published port held again after the program that had
   * it bound (it took it while no cnm process held it) let go; tried every 10 s while there is one.
   */
  onPortHeldAgain?: (what: string) => void
  /**
   * Delete a deleted endpoint's veth and flush its conntrack entries after its delete answered, its
   * addresses reserved until then (deferred-teardown.ts), and sweep the entries of free addresses at
   * the first stray check. Default: `soleWriter` (no other process can hand out an address this one
   * still holds; a one-shot command waits for them anyway).
   */
  deferTeardown?: boolean
  /**
   * With `deferTeardown`: how long a deleted endpoint's flush waits before it starts (ms,
   * integer 0–600000; default 0, at once: its dump is read on the thread pool, so it holds up no
   * request), unless an endpoint, publish, network delete or close needs it done first. Flushes
   * asked while one runs share the next dump.
   */
  conntrackFlushDelayMs?: number
  /**
   * Told why a step of a deleted endpoint's teardown after its delete answered (the veth's deletion,
   * the conntrack flush, the release) failed; the steps after it ran anyway (default: ignored).
   */
  onTeardownError?: (err: unknown, endpointId: string) => void
}

/** A network as the driver holds it, for inspection. */
export interface BridgeNetworkInfo {
  id: string
  bridgeName: string
  subnetV4: string | undefined
  gatewayV4: string | undefined
  subnetV6: string | undefined
  gatewayV6: string | undefined
  /** Every subnet with its gateway, IPv4 first (the first of each family is `subnetV4`/`subnetV6`). */
  subnets: NetworkSubnet[]
  config: NetworkConfig
  endpoints: EndpointState[]
}

/** The bridge driver: the `Driver` contract (with persistence), plus bridge-specific inspection. */
export interface BridgeDriver extends Driver {
  readonly persistence: DriverPersistence
  /** Ports published on an existing endpoint (the contract's optional verbs, which the bridge has). */
  publishPorts: NonNullable<Driver['publishPorts']>
  unpublishPorts: NonNullable<Driver['unpublishPorts']>
  /** A network as the bridge driver holds it (its bridge, config and endpoints). */
  network(nid: string): BridgeNetworkInfo | undefined
  /**
   * Every network the bridge driver holds (created or restored in this process), in creation order;
   * empty before the first network.
   */
  networks(): BridgeNetworkInfo[]
  /** The firewall backend in use (after the first `config` or network). */
  firewallBackend(): string | undefined
}

/** Every subnet of a network with its gateway, IPv4 first. */
function subnetList(n: NetworkState): NetworkSubnet[] {
  return [...subnetsOf(n, 4), ...subnetsOf(n, 6)].map((s) => ({ subnet: s.subnet, gateway: s.gateway }))
}

function info(n: NetworkState): BridgeNetworkInfo {
  return {
    id: n.id,
    bridgeName: n.bridgeName,
    subnetV4: n.subnetV4,
    gatewayV4: n.gatewayV4,
    subnetV6: n.subnetV6,
    gatewayV6: n.gatewayV6,
    subnets: subnetList(n),
    config: n.config,
    endpoints: [...n.endpoints.values()].map((e) => ({ ...e, ports: [...e.ports] })),
  }
}

function networkInfo(n: NetworkState): NetworkInfo {
  return {
    id: n.id,
    device: n.bridgeName,
    subnetV4: n.subnetV4,
    gatewayV4: n.gatewayV4,
    subnetV6: n.subnetV6,
    gatewayV6: n.gatewayV6,
    internal: n.config.internal,
    icc: n.config.enableICC,
    subnets: subnetList(n),
  }
}

function endpointInfo(ep: EndpointState): EndpointInfo {
  return {
    id: ep.id,
    ipv4: ep.ipv4,
    ipv6: ep.ipv6,
    macAddress: ep.mac || undefined,
    ports: ep.ports.map((p) => ({ ...p })),
  }
}

function checkAgainstOthers(nid: string, cfg: NetworkConfig, others: NetworkState[]): void {
  for (const o of others) {
    if (cfg.bridgeName !== undefined && o.bridgeName === cfg.bridgeName) {
      throw new InvalidConfigError(`bridge ${cfg.bridgeName} is already used by network ${o.id}`)
    }
    const mine = [cfg.addressIPv4, cfg.fixedCIDRv6, ...cfg.moreSubnets.map((m) => m.subnet)]
    for (const theirs of allSubnets(o)) {
      const hit = mine.find((m) => m !== undefined && networksOverlap(m, theirs))
      if (hit) throw new InvalidConfigError(`network ${nid}: ${hit.cidr} overlaps network ${o.id} (${theirs})`)
    }
  }
  if (cfg.bridgeName === undefined && !/^[0-9a-f]{12,}$/u.test(nid)) {
    throw new InvalidConfigError(`network id ${JSON.stringify(nid)}: a bridgeName is needed when the id is not hex`)
  }
}

/** Creates the bridge driver (name `bridge`; the controller also accepts `simplebridge`). */
export function createBridgeDriver(options: BridgeDriverOptions = {}): BridgeDriver {
  const networks = new Map<string, NetworkState>()
  let resources: Promise<DriverResources> | undefined
  let ready: DriverResources | undefined
  const resourcesNow = (): DriverResources | undefined => ready
  let backend: string | undefined
  /** With `watchKernel`: the firewall rules put back when someone else takes them. */
  let watch: { close(): void } | undefined
  /** With `watchKernel`: the published ports another program had, tried again. */
  let retake: ReturnType<typeof setInterval> | undefined
  /** The host handle's view, and whether the controller is in a batch (see beginBatch). */
  let view: HostView | undefined
  let batching = false
  let lock: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = lock.then(fn, fn)
    lock = p.catch(() => undefined)
    return p
  }
  const resolvConfPath = options.resolvConfPath ?? '/etc/resolv.conf'
  const owner = options.owner ?? DEFAULT_OWNER
  if (!/^[A-Za-z0-9_-]{1,64}$/u.test(owner))
    throw new InvalidConfigError(`invalid driver owner ${JSON.stringify(owner)}`)

  const setup = async (raw: unknown): Promise<DriverResources> => {
    const config = parseDriverConfig(raw)
    const firewall = await createFirewall(config.firewallBackend ? { backend: config.firewallBackend } : {})
    backend = firewall.backend
    if (options.watchKernel && firewall.backend !== 'none') {
      const onRepair = options.onFirewallRepair
      watch = watchFirewall({
        firewall,
        held: () => heldRules(networks.values()),
        serial,
        // The iptables backend writes through iptables-restore, another process: its own additions
        // would each set a check off. It covers a Docker bridge marked later at its next repair.
        dockerMarks: firewall.backend === 'nftables',
        ...(onRepair ? { onRepair } : {}),
      })
      let retaking = false // one tick at a time, and none queued while nothing waits
      retake ??= setInterval(() => {
        if (retaking || ![...networks.values()].some((n) => n.portMapper?.hasTaken)) return
        retaking = true
        serial(() => retakePorts(networks.values(), options.onPortHeldAgain))
          .catch(() => undefined)
          .finally(() => {
            retaking = false
          })
      }, RETAKE_MS).unref()
    }
    const host = createHostView(await openHandle())
    view = host
    // A long-lived owner learns from the kernel's events which of its addresses have flows, so a
    // deleted endpoint that had none costs no dump of the table (the common `docker network
    // disconnect` of a container that talked to nothing). Without conntrack events: every flush dumps.
    let conntrack: ConntrackWatch | undefined
    if (deferTeardown) {
      try {
        conntrack = host.watchConntrack(ourAddress)
      } catch {} // no ctnetlink here: flushes dump the table (or find it unsupported)
    }
    if (batching) {
      host.beginBatch()
      firewall.beginBatch()
    }
    return {
      owner,
      config,
      host,
      allocator: new IPAllocator(),
      firewall,
      newPortMapper: (bridge, holdPorts) =>
        new PortMapper({
          firewall,
          bridge,
          ...(holdPorts === false ? { holdPorts: false } : {}),
          ...(options.portAllocator ? { allocator: options.portAllocator } : {}),
        }),
      resolvConf: () => {
        try {
          return readFileSync(resolvConfPath, 'utf8')
        } catch {
          return ''
        }
      },
      deferTeardown,
      flushDelayMs,
      deferred,
      conntrack,
      flushes: createFlushQueue((matches) => flushWatched(host, matches, conntrack)),
      onTeardownError: options.onTeardownError ?? (() => undefined),
    }
  }
  const deferTeardown = options.deferTeardown ?? options.soleWriter === true
  /** Every subnet of the driver's networks, parsed (undefined: to be read again). */
  let ourSubnets: IPPrefix[] | undefined
  /** Whether an address lies in a subnet of one of the driver's networks (the conntrack watch's filter). */
  const ourAddress = (ip: string): boolean => {
    ourSubnets ??= [...networks.values()].flatMap((n) => allSubnets(n).map((s) => parseCIDR(s)))
    const address = tryParseAddress(ip) // once, not once per subnet: this runs for every new flow
    return address !== undefined && ourSubnets.some((s) => containsAddress(s, address))
  }
  /** A network came or went: the watch's filter changed (a new subnet's flows were not recorded). */
  const subnetsChanged = (): void => {
    ourSubnets = undefined
    resourcesNow()?.conntrack?.invalidate()
  }
  /**
   * Whether the sweep of a start (conntrack-sweep.ts) is still to run: not after a clean stop of the
   * store's last writer (its teardowns all ran before it closed).
   */
  let sweep = deferTeardown && options.uncleanStart !== false
  const flushDelayMs = options.conntrackFlushDelayMs ?? 0
  if (!Number.isInteger(flushDelayMs) || flushDelayMs < 0 || flushDelayMs > 600_000) {
    throw new InvalidConfigError(`conntrackFlushDelayMs ${JSON.stringify(flushDelayMs)} must be an integer 0–600000`)
  }
  /** The deferred teardowns not done yet (deferred-teardown.ts). */
  const deferred = new Set<DeferredTeardown>()
  /** Waits for every deferred teardown of `nets`, their flushes started now. */
  const flushed = async (nets: Iterable<NetworkState>): Promise<void> => {
    const wanted = new Set(nets)
    const waits: Promise<void>[] = []
    for (const d of deferred) {
      if (!wanted.has(d.net)) continue
      d.go()
      waits.push(d.done)
    }
    await Promise.all(waits)
  }
  /** Every deferred teardown, its flush started now, done. */
  const settled = (): Promise<void> => flushed(networks.values())
  /**
   * The deferred teardowns a new endpoint `eid` (or a publish) on `net` must not overtake, their
   * flushes started now, done as far as it needs: one of the same veth name (any network) until its
   * veth is gone; one of `net` holding an address it asks for, and those of endpoints that had host
   * ports when it publishes any (the port allocator may hand one of theirs out again, and an old
   * flush must not delete the new mapping's flows), until their flush ran and their addresses are
   * released. Others go on on their own: a `docker network connect` just after a disconnect pays
   * for none of them.
   */
  const settledFor = (
    net: NetworkState,
    eid: string | undefined,
    addresses: readonly (string | undefined)[],
    publishes: boolean,
  ): Promise<void> => {
    const asked = addresses.filter((a): a is string => a !== undefined)
    const veth = eid === undefined ? undefined : hostVethName(eid)
    const waits: Promise<void>[] = []
    for (const d of deferred) {
      // Its veth's name (a prefix of its id, one namespace for every network), or its addresses.
      const sameVeth = hostVethName(d.endpointId) === veth
      if (!sameVeth && !(d.net === net && asked.some((a) => d.addresses.includes(a))) && !(publishes && d.ports))
        continue
      d.go()
      waits.push(sameVeth ? d.done : d.released)
    }
    return waits.length > 0 ? Promise.all(waits).then(() => undefined) : Promise.resolve()
  }
  const res = (): Promise<DriverResources> => {
    resources ??= track(setup({}))
    return resources
  }
  const track = (p: Promise<DriverResources>): Promise<DriverResources> =>
    p.then(
      (r) => {
        ready = r
        return r
      },
      (err: unknown) => {
        resources = undefined // a failed set-up can be tried again
        throw err
      },
    )
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
  const persistence: DriverPersistence = {
    exportNetwork: (nid) => networkRecord(network(nid), network(nid).rawOptions),
    exportEndpoint: (nid, eid) => {
      const ep = endpoint(nid, eid)
      return endpointRecord(ep, ep.config)
    },
    restoreNetwork: (nid, raw) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        const record = networkRecordOf(nid, raw)
        const others = [...networks.values()].flatMap(allSubnets)
        const { net, outcome } = await restoreNetwork(await res(), NETWORK_STEPS, record, others)
        networks.set(nid, net)
        subnetsChanged()
        return outcome
      }),
    restoreEndpoint: (nid, eid, raw) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        const record = endpointRecordOf(eid, raw)
        // its addresses and ports taken as if earlier deletes' flushes had run within them
        await settledFor(net, eid, [record.ipv4, record.ipv6], record.ports.length > 0)
        return restoreEndpoint(await res(), net, record)
      }),
    async forgetEndpoint(nid, eid) {
      const net = network(nid)
      const ep = endpoint(nid, eid)
      for (const p of ep.ports) net.portMapper?.forget(p)
      for (const ip of [ep.ipv4, ep.ipv6]) {
        const pool = subnetHolding(net, ip)?.subnet
        if (pool && ip) resourcesNow()?.allocator.releaseIP(pool, ip)
      }
      net.endpoints.delete(eid)
    },
    forgetNetwork: (nid) =>
      serial(async () => {
        const net = network(nid)
        const r = await res()
        await settled()
        for (const eid of [...net.endpoints.keys()]) {
          const ep = net.endpoints.get(eid)
          for (const p of ep?.ports ?? []) net.portMapper?.forget(p)
        }
        for (const pool of net.pools) r.allocator.unregisterNetwork(pool)
        await net.portMapper?.close()
        networks.delete(nid)
        ourSubnets = undefined
      }),
    removeStrays: (known) =>
      serial(async () => {
        const r = await res()
        const report = await removeStrays(r, networks, known)
        if (sweep) {
          sweep = false // once, tried or not
          const problem = await sweepConntrack(r, networks, known)
          if (problem) report.errors.push(problem)
        }
        return report
      }),
    unheldPorts: () => serial(() => unheldPorts(networks.values())),
    async endpointAlive(nid, eid) {
      const ep = endpoint(nid, eid)
      return (await (await res()).host.findLink(ep.hostVeth)) !== undefined
    },
    // Restores and liveness checks in a batch read links, addresses and rules from one dump each.
    beginBatch() {
      batching = true
      view?.beginBatch()
      resourcesNow()?.firewall.beginBatch()
    },
    endBatch() {
      batching = false
      view?.endBatch()
      resourcesNow()?.firewall.endBatch()
    },
  }

  return {
    name: BRIDGE_DRIVER_NAME,
    capabilities: {
      scope: 'local',
      publishesPorts: true,
      needsParent: false,
      namesInterfaces: true,
      deletesInterfaceAnywhere: true,
    },
    persistence,
    async config(raw) {
      if (resources) throw new InvalidConfigError('the bridge driver is already configured')
      parseDriverConfig(raw)
      resources = track(setup(raw))
      await resources
    },
    createNetwork: (nid, raw, ipam?: NetworkIpam) =>
      serial(async () => {
        if (networks.has(nid)) throw new NetworkExistsError(nid)
        const config = parseNetworkConfig(raw, ipam)
        checkAgainstOthers(nid, config, [...networks.values()])
        const r = await res()
        const net = newNetworkState(nid, config, config.bridgeName ?? defaultBridgeName(nid), raw)
        const otherSubnets = [...networks.values()].flatMap(allSubnets)
        await runSteps(NETWORK_STEPS, { res: r, net, otherSubnets })
        networks.set(nid, net)
        subnetsChanged()
      }),
    deleteNetwork: (nid) =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.size > 0) throw new ActiveEndpointsError(nid, net.endpoints.size)
        await settled() // its endpoints' addresses back in its pools before they go
        const errors = await undoSteps(NETWORK_STEPS, { res: await res(), net, otherSubnets: [] })
        networks.delete(nid)
        ourSubnets = undefined
        if (errors.length > 0) throw new TeardownError(`delete network ${nid}`, errors)
      }),
    createEndpoint: (nid, eid, sandboxKey, raw): Promise<SandboxInfo> =>
      serial(async () => {
        const net = network(nid)
        if (net.endpoints.has(eid)) throw new EndpointExistsError(eid)
        if (!/^[0-9a-zA-Z]{11,}$/u.test(eid))
          throw new InvalidConfigError(`endpoint id ${JSON.stringify(eid)} must be 11+ alphanumerics`)
        if (sandboxKey && (!path.isAbsolute(sandboxKey) || path.normalize(sandboxKey) !== sandboxKey)) {
          throw new InvalidConfigError(`sandbox key ${JSON.stringify(sandboxKey)} must be an absolute path`)
        }
        const cfg = parseEndpointConfig(raw)
        if (cfg.portBindings.length > 0 && net.config.internal) {
          throw new InvalidConfigError(
            `network ${nid} is internal: nothing can reach it from outside, so ports cannot be published on it`,
          )
        }
        if (cfg.ipv6Address !== undefined && !net.subnetV6) {
          throw new InvalidConfigError(
            `ipv6Address ${cfg.ipv6Address}: network ${nid} has no IPv6 subnet (create it with enableIPv6)`,
          )
        }
        if (cfg.macAddress !== undefined) {
          const taken = [...net.endpoints.values()].find((e) => e.mac === cfg.macAddress)
          if (taken) {
            throw new CnmError(
              ERR_MAC_IN_USE,
              'conflict',
              `macAddress ${cfg.macAddress} is already used by endpoint ${taken.id} on network ${nid}`,
            )
          }
        }
        // Addresses handed out, and host ports published (on any network), as if the flushes had
        // run within their deletes.
        await settledFor(net, eid, [cfg.ipv4Address, cfg.ipv6Address], cfg.portBindings.length > 0)
        const r = await res()
        try {
          return await createEndpoint(r, net, eid, sandboxKey, cfg)
        } catch (err) {
          // A full pool whose free addresses are still held for their flushes: not full once they ran.
          if (!hasErrorCode(err, ERR_NO_AVAILABLE_IPS) || ![...deferred].some((d) => d.net === net)) throw err
          await flushed([net])
          return createEndpoint(r, net, eid, sandboxKey, cfg)
        }
      }),
    deleteEndpoint: (nid, eid) =>
      serial(async () => {
        const net = network(nid)
        const ep = net.endpoints.get(eid)
        if (!ep) throw new NoEndpointError(eid)
        const errors = await deleteEndpoint(await res(), net, ep)
        if (errors.length > 0) throw new TeardownError(`delete endpoint ${eid}`, errors)
      }),
    publishPorts: (nid, eid, bindings) =>
      serial(async () => {
        const net = network(nid)
        // a host port's old flows (to a deleted endpoint) flushed before it is published again
        if (bindings.length > 0) await settledFor(net, undefined, [], true)
        return publishEndpointPorts(await res(), net, endpoint(nid, eid), bindings)
      }),
    unpublishPorts: (nid, eid, ports) =>
      serial(async () => {
        const errors = await unpublishEndpointPorts(await res(), network(nid), endpoint(nid, eid), ports)
        if (errors.length > 0) throw new TeardownError(`unpublish ports of endpoint ${eid}`, errors)
      }),
    async join(nid, eid) {
      endpoint(nid, eid) // a bridge endpoint is ready once created: nothing more to do on join
      return {}
    },
    async leave(nid, eid) {
      endpoint(nid, eid)
    },
    networkInfo: (nid) => {
      const n = networks.get(nid)
      return n ? networkInfo(n) : undefined
    },
    endpointInfo: (nid, eid) => endpointInfo(endpoint(nid, eid)),
    network: (nid) => {
      const n = networks.get(nid)
      return n ? info(n) : undefined
    },
    networks: () => [...networks.values()].map(info),
    firewallBackend: () => backend,
    close: () =>
      serial(async () => {
        await settled() // the flushes of deleted endpoints finish first
        // The kernel keeps every network, endpoint and rule; only this process's reservations go.
        for (const net of networks.values()) {
          for (const p of net.portMapper?.published() ?? []) net.portMapper?.forget(p)
          await net.portMapper?.close()
        }
        networks.clear()
        watch?.close()
        watch = undefined
        clearInterval(retake)
        retake = undefined
        if (!resources) return
        const r = await resources.catch(() => undefined)
        resources = undefined // closing twice is harmless
        ready = undefined
        r?.host.close()
      }),
  }
}
