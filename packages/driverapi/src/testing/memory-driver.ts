import { CnmError } from '../cnm-error.js'
import {
  ActiveEndpointsError,
  EndpointExistsError,
  InvalidConfigError,
  NetworkExistsError,
  NoEndpointError,
  NoNetworkError,
} from '../errors.js'
import { isEmptyIpam, type NetworkIpam } from '../ipam.js'
import type {
  Driver,
  DriverContext,
  DriverPersistence,
  DriverScope,
  EndpointInfo,
  KnownRecords,
  NetworkInfo,
  PortBinding,
  PublishedPort,
  SandboxInfo,
  StrayReport,
} from '../types.js'
import { createMemoryKernel, type MemoryKernel, portKeys } from './memory-kernel.js'

/** The name the in-memory driver registers under by default. */
export const MEMORY_DRIVER_NAME = 'memory'

/** Options of {@link createMemoryDriver}. */
export interface MemoryDriverOptions extends Partial<DriverContext> {
  /** The "kernel" it works on (share one between drivers to simulate a restart). Default: a new one. */
  kernel?: MemoryKernel
  /** The driver's name (default `memory`). */
  name?: string
  /** Without persistence the controller re-creates its networks and endpoints from their options. */
  persistent?: boolean
  /**
   * `global` plays a cluster-wide driver (an overlay): the controller then allocates subnets and
   * addresses in the cluster and passes them as `addressIPv4` (`10.A.B.1/24`: network index A·256+B)
   * and `ipv4Address` (`10.A.B.H`: host H), which the driver takes besides `index` and `host`.
   */
  scope?: DriverScope
}

interface NetState {
  id: string
  index: number
  internal: boolean
  link: string
  endpoints: Map<string, EpState>
}

interface EpState {
  id: string
  host: number
  mac: string
  link: string
  sandboxKey: string
  /** Its name in the sandbox, when born there. */
  ifname: string
  ports: PublishedPort[]
  joined: boolean
}

interface NetRecord {
  index: number
  internal: boolean
  link: string
}

interface EpRecord {
  host: number
  mac: string
  link: string
  sandboxKey: string
  ifname?: string
  ports: PublishedPort[]
}

const NET_KEYS = new Set(['index', 'internal'])
const EP_KEYS = new Set(['host', 'portBindings'])

function object(raw: unknown, what: string): Record<string, unknown> {
  if (raw === undefined || raw === null) return {}
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError(`${what} must be an object`)
  return raw as Record<string, unknown>
}

function int(v: unknown, what: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(v)} must be an integer ${min}–${max}`)
  }
  return v
}

/** `addressIPv4`/`ipv4Address` (global scope) as the memory driver's `index`/`host`. */
function fromAddresses(raw: unknown, what: string): unknown {
  const obj = { ...(object(raw, what) as Record<string, unknown>) }
  const { addressIPv4, ipv4Address } = obj
  if (typeof addressIPv4 === 'string') {
    const m = addressIPv4.match(/^10\.(\d{1,3})\.(\d{1,3})\.1\/24$/u)
    if (!m) throw new InvalidConfigError(`addressIPv4 ${addressIPv4}: the memory driver takes 10.A.B.1/24`)
    obj.index = Number(m[1]) * 256 + Number(m[2])
    delete obj.addressIPv4
  }
  if (typeof ipv4Address === 'string') {
    const m = ipv4Address.match(/^10\.\d{1,3}\.\d{1,3}\.(\d{1,3})$/u)
    if (!m) throw new InvalidConfigError(`ipv4Address ${ipv4Address}: the memory driver takes 10.A.B.H`)
    obj.host = Number(m[1])
    delete obj.ipv4Address
  }
  return obj
}

/** The IPAM data's one IPv4 subnet (`10.A.B.0/24`) as the memory driver's `index`. */
function withIpam(raw: unknown, ipam: NetworkIpam | undefined): unknown {
  if (!ipam || isEmptyIpam(ipam)) return raw
  if (ipam.v6.length > 0 || ipam.v4.length > 1) {
    throw new InvalidConfigError('the memory driver takes one IPv4 subnet (10.A.B.0/24)')
  }
  const subnet = ipam.v4[0]?.subnet
  const m = subnet?.cidr.match(/^10\.(\d{1,3})\.(\d{1,3})\.0\/24$/u)
  if (!m) throw new InvalidConfigError(`subnet ${subnet?.cidr}: the memory driver takes 10.A.B.0/24`)
  return { ...(object(raw, 'network options') as Record<string, unknown>), index: Number(m[1]) * 256 + Number(m[2]) }
}

function parseNetwork(raw: unknown): { index: number | undefined; internal: boolean } {
  const obj = object(raw, 'network options')
  const unknown = Object.keys(obj).find((k) => !NET_KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown memory network option ${JSON.stringify(unknown)}`)
  if (obj.internal !== undefined && typeof obj.internal !== 'boolean')
    throw new InvalidConfigError(`internal must be a boolean, got ${JSON.stringify(obj.internal)}`)
  return { index: int(obj.index, 'index', 0, 65535), internal: obj.internal === true }
}

function parseEndpoint(raw: unknown): { host: number | undefined; bindings: PortBinding[] } {
  const obj = object(raw, 'endpoint options')
  const unknown = Object.keys(obj).find((k) => !EP_KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown endpoint option ${JSON.stringify(unknown)}`)
  if (obj.portBindings !== undefined && !Array.isArray(obj.portBindings))
    throw new InvalidConfigError('portBindings must be an array')
  const bindings = ((obj.portBindings as unknown[] | undefined) ?? []).map((b) => {
    const x = object(b, 'a port binding')
    if (x.proto !== 'tcp' && x.proto !== 'udp' && x.proto !== 'sctp')
      throw new InvalidConfigError(`port binding protocol ${JSON.stringify(x.proto)} must be tcp, udp or sctp`)
    const containerPort = int(x.containerPort, 'containerPort', 1, 65535)
    if (containerPort === undefined) throw new InvalidConfigError('a port binding needs containerPort')
    const hostPort = int(x.hostPort, 'hostPort', 0, 65535)
    return { proto: x.proto, containerPort, ...(hostPort ? { hostPort } : {}) } satisfies PortBinding
  })
  return { host: int(obj.host, 'host', 2, 254), bindings }
}

const subnetOf = (index: number): string => `10.${index >> 8}.${index & 255}.0/24`
const addressOf = (index: number, host: number): string => `10.${index >> 8}.${index & 255}.${host}`
const macOf = (index: number, host: number): string =>
  `02:42:0a:${(index >> 8).toString(16).padStart(2, '0')}:${(index & 255).toString(16).padStart(2, '0')}:${host.toString(16).padStart(2, '0')}`

/**
 * An in-memory network driver for tests that must run without root: every network gets a /24 of
 * 10.0.0.0/8 (`index` picks which), every endpoint an address in it, published ports are "held" in
 * the shared {@link MemoryKernel} (a port another endpoint holds is refused), and what it "creates"
 * are entries in that kernel, marked with the owner, so restore, forget, strays and liveness behave
 * as a kernel driver's do. It passes the conformance suite, and the controller's tests use it.
 */
export function createMemoryDriver(options: MemoryDriverOptions = {}): Driver & { readonly kernel: MemoryKernel } {
  const kernel = options.kernel ?? createMemoryKernel()
  const owner = options.owner ?? '-'
  const networks = new Map<string, NetState>()
  const net = (nid: string): NetState => {
    const n = networks.get(nid)
    if (!n) throw new NoNetworkError(nid)
    return n
  }
  const ep = (nid: string, eid: string): EpState => {
    const e = net(nid).endpoints.get(eid)
    if (!e) throw new NoEndpointError(eid)
    return e
  }
  const usedIndexes = (): Set<number> => new Set([...networks.values()].map((n) => n.index))
  const freeIndex = (): number => {
    const used = usedIndexes()
    for (let i = 1; i < 65536; i++) if (!used.has(i)) return i
    throw new CnmError('ERR_NO_AVAILABLE_NETWORKS', 'conflict', 'no free memory network index')
  }
  const publish = (eid: string, index: number, host: number, bindings: PortBinding[]): PublishedPort[] => {
    const out: PublishedPort[] = []
    for (const b of bindings) {
      let port = b.hostPort ?? 0
      if (port === 0) for (port = 49153; kernel.ports.has(`${b.proto}/${port}`); port++);
      if (kernel.ports.has(`${b.proto}/${port}`) || out.some((p) => p.proto === b.proto && p.hostPort === port)) {
        throw new CnmError(
          'ERR_PORT_ALREADY_ALLOCATED',
          'conflict',
          `Bind for 0.0.0.0:${port} failed: port is already allocated`,
        )
      }
      out.push({
        proto: b.proto,
        containerIP: addressOf(index, host),
        containerPort: b.containerPort,
        containerPortEnd: b.containerPort,
        hostIP: '0.0.0.0',
        hostPort: port,
        hostPortEnd: port,
      })
    }
    for (const p of out) for (const k of portKeys(p)) kernel.ports.set(k, eid)
    return out
  }
  const release = (e: EpState): void => {
    for (const p of e.ports) for (const k of portKeys(p)) if (kernel.ports.get(k) === e.id) kernel.ports.delete(k)
  }
  const info = (n: NetState): NetworkInfo => ({
    id: n.id,
    device: n.link,
    subnetV4: subnetOf(n.index),
    gatewayV4: addressOf(n.index, 1),
    subnetV6: undefined,
    gatewayV6: undefined,
    internal: n.internal,
    icc: true,
  })
  const sandboxInfo = (n: NetState, e: EpState): SandboxInfo => ({
    interfaces: [
      {
        // Born in the sandbox as its next free ethN (as a kernel driver does), or waiting on the host.
        srcName: e.sandboxKey ? e.ifname : e.link,
        dstName: e.sandboxKey ? e.ifname : 'eth0',
        address: `${addressOf(n.index, e.host)}/24`,
        macAddress: e.mac,
      },
    ],
    ...(n.internal ? {} : { gateway: addressOf(n.index, 1) }),
  })

  const persistence: DriverPersistence = {
    exportNetwork(nid) {
      const n = net(nid)
      return { index: n.index, internal: n.internal, link: n.link } satisfies NetRecord
    },
    exportEndpoint(nid, eid) {
      const e = ep(nid, eid)
      return {
        host: e.host,
        mac: e.mac,
        link: e.link,
        sandboxKey: e.sandboxKey,
        ifname: e.ifname,
        ports: e.ports,
      } satisfies EpRecord
    },
    async restoreNetwork(nid, raw) {
      kernel.check('restoreNetwork')
      if (networks.has(nid)) throw new NetworkExistsError(nid)
      const r = raw as NetRecord
      const present = kernel.links.has(r.link)
      if (!present) kernel.links.set(r.link, { name: r.link, owner, network: nid })
      networks.set(nid, { id: nid, index: r.index, internal: r.internal, link: r.link, endpoints: new Map() })
      return present ? 'restored' : 'rebuilt'
    },
    async restoreEndpoint(nid, eid, raw) {
      kernel.check('restoreEndpoint')
      const n = net(nid)
      if (n.endpoints.has(eid)) throw new EndpointExistsError(eid)
      const r = raw as EpRecord
      if (!kernel.links.has(r.link)) return 'gone'
      const e: EpState = {
        id: eid,
        host: r.host,
        mac: r.mac,
        link: r.link,
        sandboxKey: r.sandboxKey,
        ifname: r.ifname ?? 'eth0',
        ports: [],
        joined: false,
      }
      for (const p of r.ports) {
        const holder = portKeys(p)
          .map((k) => kernel.ports.get(k))
          .find((h) => h !== undefined && h !== eid)
        if (holder)
          throw new CnmError(
            'ERR_PORT_ALREADY_ALLOCATED',
            'conflict',
            `port ${p.proto}/${p.hostPort} is held by ${holder}`,
          )
      }
      e.ports = r.ports.map((p) => ({ ...p }))
      for (const p of e.ports) for (const k of portKeys(p)) kernel.ports.set(k, eid)
      n.endpoints.set(eid, e)
      return 'restored'
    },
    async forgetNetwork(nid) {
      net(nid)
      networks.delete(nid)
    },
    async forgetEndpoint(nid, eid) {
      ep(nid, eid)
      net(nid).endpoints.delete(eid)
    },
    async removeStrays(known: KnownRecords): Promise<StrayReport> {
      kernel.check('removeStrays')
      const report: StrayReport = { links: [], firewallNetworks: [], firewallPorts: [], errors: [] }
      const held = new Set(
        [...networks.values()].flatMap((n) => [n.link, ...[...n.endpoints.values()].map((e) => e.link)]),
      )
      // Endpoints first, as a kernel driver deletes veths before their bridge.
      const links = [...kernel.links.values()].sort((a, b) => (a.endpoint ? 0 : 1) - (b.endpoint ? 0 : 1))
      for (const link of links) {
        if (link.owner !== owner || held.has(link.name)) continue
        const recorded = link.endpoint ? known.endpoints.has(link.endpoint) : known.networks.has(link.network)
        if (recorded) continue
        kernel.links.delete(link.name)
        report.links.push(link.name)
        if (link.endpoint) {
          for (const [k, holder] of kernel.ports) {
            if (holder !== link.endpoint) continue
            kernel.ports.delete(k)
            report.firewallPorts.push(k)
          }
        }
      }
      // Published ports whose endpoint no one holds or records (their link may be gone already).
      const heldEndpoints = new Set([...networks.values()].flatMap((n) => [...n.endpoints.keys()]))
      for (const [k, holder] of kernel.ports) {
        if (heldEndpoints.has(holder) || known.endpoints.has(holder)) continue
        if ([...kernel.links.values()].some((l) => l.endpoint === holder && l.owner !== owner)) continue
        kernel.ports.delete(k)
        report.firewallPorts.push(k)
      }
      return report
    },
    async endpointAlive(nid, eid) {
      return kernel.links.has(ep(nid, eid).link)
    },
  }

  return {
    name: options.name ?? MEMORY_DRIVER_NAME,
    kernel,
    capabilities: { scope: options.scope ?? 'local', publishesPorts: true, needsParent: false },
    async config(raw) {
      kernel.check('config')
      object(raw, 'driver options')
    },
    async createNetwork(nid, raw, ipam) {
      kernel.check('createNetwork')
      if (networks.has(nid)) throw new NetworkExistsError(nid)
      const cfg = parseNetwork(withIpam(options.scope === 'global' ? fromAddresses(raw, 'network options') : raw, ipam))
      if (cfg.index !== undefined && usedIndexes().has(cfg.index)) {
        throw new CnmError('ERR_NETWORK_OVERLAPS', 'conflict', `network ${nid}: ${subnetOf(cfg.index)} is in use`)
      }
      const index = cfg.index ?? freeIndex()
      const link = `mem-${nid.slice(0, 12)}`
      kernel.links.set(link, { name: link, owner, network: nid })
      networks.set(nid, { id: nid, index, internal: cfg.internal, link, endpoints: new Map() })
    },
    async deleteNetwork(nid) {
      const n = net(nid)
      if (n.endpoints.size > 0) throw new ActiveEndpointsError(nid, n.endpoints.size)
      kernel.check('deleteNetwork')
      kernel.links.delete(n.link)
      networks.delete(nid)
    },
    async createEndpoint(nid, eid, sandboxKey, raw) {
      const n = net(nid)
      if (n.endpoints.has(eid)) throw new EndpointExistsError(eid)
      const cfg = parseEndpoint(options.scope === 'global' ? fromAddresses(raw, 'endpoint options') : raw)
      kernel.check('createEndpoint')
      const used = new Set([...n.endpoints.values()].map((e) => e.host))
      let host = cfg.host ?? 2
      if (cfg.host !== undefined && used.has(host)) {
        throw new CnmError('ERR_IP_ALREADY_ALLOCATED', 'conflict', `${addressOf(n.index, host)} is already allocated`)
      }
      while (used.has(host)) host++
      if (host > 254)
        throw new CnmError('ERR_NO_AVAILABLE_IPS', 'conflict', `no available addresses in ${subnetOf(n.index)}`)
      const link = `mem-${eid.slice(0, 12)}`
      const inSandbox = [...networks.values()]
        .flatMap((x) => [...x.endpoints.values()])
        .filter((x) => x.sandboxKey === sandboxKey)
      const names = new Set(inSandbox.map((x) => x.ifname))
      let i = 0
      while (names.has(`eth${i}`)) i++
      const e: EpState = {
        id: eid,
        host,
        mac: macOf(n.index, host),
        link,
        sandboxKey,
        ifname: `eth${i}`,
        ports: [],
        joined: false,
      }
      e.ports = publish(eid, n.index, host, cfg.bindings)
      kernel.links.set(link, { name: link, owner, network: nid, endpoint: eid })
      n.endpoints.set(eid, e)
      return sandboxInfo(n, e)
    },
    async deleteEndpoint(nid, eid) {
      const e = ep(nid, eid)
      kernel.check('deleteEndpoint')
      release(e)
      kernel.links.delete(e.link)
      net(nid).endpoints.delete(eid)
    },
    async publishPorts(nid, eid, bindings) {
      const n = net(nid)
      const e = ep(nid, eid)
      kernel.check('publishPorts')
      const out = publish(eid, n.index, e.host, [...bindings])
      e.ports.push(...out)
      return out.map((p) => ({ ...p }))
    },
    async unpublishPorts(nid, eid, ports) {
      const e = ep(nid, eid)
      kernel.check('unpublishPorts')
      const named = (p: PublishedPort): boolean =>
        ports.some((q) => q.proto === p.proto && q.hostIP === p.hostIP && q.hostPort === p.hostPort)
      release({ ...e, ports: e.ports.filter(named) })
      e.ports = e.ports.filter((p) => !named(p))
    },
    async join(nid, eid) {
      const e = ep(nid, eid)
      kernel.check('join')
      e.joined = true
      return {}
    },
    async leave(nid, eid) {
      const e = ep(nid, eid)
      kernel.check('leave')
      e.joined = false
    },
    networkInfo: (nid) => {
      const n = networks.get(nid)
      return n ? info(n) : undefined
    },
    endpointInfo(nid, eid): EndpointInfo {
      const n = net(nid)
      const e = ep(nid, eid)
      return {
        id: eid,
        ipv4: addressOf(n.index, e.host),
        ipv6: undefined,
        macAddress: e.mac,
        ports: e.ports.map((p) => ({ ...p })),
      }
    },
    ...(options.persistent === false ? {} : { persistence }),
    async close() {
      networks.clear()
    },
  }
}
