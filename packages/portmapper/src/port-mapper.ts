import { ERR_NOT_SUPPORTED, hasErrorCode, type PortBinding, type PublishedPort, withUndo } from '@cnm/driverapi'
import { createFirewall, type Firewall, type PortMapping as FirewallMapping } from '@cnm/firewall'
import { type Handle, openHandle } from '@cnm/netlink'
import { ERR_PORT_ALREADY_ALLOCATED, getPortAllocator, type PortAllocator } from '@cnm/portallocator'
import { type BoundIndex, type BoundSocket, EMPTY_BOUND_INDEX, indexBound } from './bound-index.js'
import {
  ERR_INVALID_PORT_RANGE,
  ERR_INVALID_TRANSPORT_ADDRESS,
  ERR_PORT_MAPPED_FOR_IP,
  ERR_PORT_NOT_MAPPED,
  PortMapperError,
} from './errors.js'
import { foreignBoundPorts, kernelHasMapping, PortHolds, reserveAdopted } from './port-holds.js'
import {
  canonicalIP,
  formatTransportAddress,
  ipFamily,
  isWildcardIP,
  type TransportAddress,
  type TransportRange,
  validatePort,
  validateTransportAddress,
} from './transport-address.js'

/** Options of {@link PortMapper}. */
export interface PortMapperOptions {
  /** Where host ports come from. Default: the process-wide `getPortAllocator()`. */
  allocator?: PortAllocator
  /** Where DNAT is programmed. Default: `createFirewall()` (made on the first `publish`). */
  firewall?: Firewall
  /** The bridge the containers are on: recorded with each rule (shown by the firewall's inventory). */
  bridge?: string
  /**
   * Hold each published host port with a bound socket, so another program's `bind` of it fails
   * (EADDRINUSE) while it is published. Default: when the allocator syncs with the OS (the shared
   * `getPortAllocator()` does); an allocator that ignores the OS (tests) holds nothing.
   */
  holdPorts?: boolean
}

/** Options of one {@link PortMapper.publish}. */
export interface PublishOptions {
  /**
   * `false`: this mapping's host ports are not held with bound sockets even when the mapper holds
   * ports (the caller's runtime reserves them itself, as CNI runtimes do); a port another socket
   * has bound when it is published is still refused. Default: the mapper's `holdPorts`.
   */
  hold?: boolean
}

/** The host side of a published port, which names it: `tcp/0.0.0.0:8080` (a block by its first port). */
export type HostPort = Pick<PublishedPort, 'proto' | 'hostIP' | 'hostPort'>

function hostAddress(port: HostPort): TransportAddress {
  return { proto: port?.proto, ip: port?.hostIP, port: port?.hostPort }
}

function publishedOf(host: TransportRange, container: TransportRange): PublishedPort {
  return {
    proto: host.proto,
    containerIP: container.ip,
    containerPort: container.port,
    containerPortEnd: container.endPort,
    hostIP: host.ip,
    hostPort: host.port,
    hostPortEnd: host.endPort,
  }
}

interface Entry {
  host: TransportRange
  container: TransportRange
  rule: FirewallMapping
  /** Whether the allocator holds its ports for this mapper (not for a mapping adopted while another process holds them). */
  reserved: boolean
  /** Host ports of an adopted mapping that another socket had bound when it was held (not held). */
  taken: number[]
}

/**
 * A published port this mapper could not hold: another socket had it bound when the mapping was
 * taken back from the kernel (a program bound it while cnm was not running). Its DNAT still sends
 * the port's traffic to the container, not to that program.
 */
export interface UnheldPort {
  proto: 'tcp' | 'udp'
  hostIP: string
  hostPort: number
  /** Where the mapping sends it. */
  containerIP: string
  containerPort: number
  /**
   * The sockets bound there that keep it from being held (inode and owner uid, as sock_diag gives
   * them): `socketHolders` names their processes (one scan of `/proc` for every mapper's).
   */
  sockets: { inode: number; uid: number }[]
}

/** What to ask the allocator for. */
type HostRequest =
  | { kind: 'any'; count: number }
  | { kind: 'exact'; start: number; end: number }
  | { kind: 'one-of'; start: number; end: number }

/** Mappings are known by their first host address: `tcp/0.0.0.0:8080`. */
function keyOf(host: TransportAddress): string {
  return formatTransportAddress({ proto: host.proto, ip: host.ip, port: host.port })
}

function notMapped(host: TransportAddress): PortMapperError {
  return new PortMapperError(ERR_PORT_NOT_MAPPED, `${formatTransportAddress(host)}: port is not mapped`)
}

/**
 * ERR_PORT_MAPPED_FOR_IP, in Docker's words for a host port taken (`Bind for 0.0.0.0:8080 failed:
 * port is already allocated`), naming where the mapping holding it sends it.
 */
function mappedForIP(host: TransportRange, holder: Entry): PortMapperError {
  const where = (t: TransportRange): string => formatTransportAddress(t).split('/')[1] as string
  return new PortMapperError(
    ERR_PORT_MAPPED_FOR_IP,
    `Bind for ${where(host)} failed: port is already allocated (published to ${where(holder.container)})`,
  )
}

/** Whether a socket bound on `b` keeps `ip` from binding `port` (wildcards, and `::` dual-stack). */
function blocks(b: BoundSocket, ip: string, family: 4 | 6, port: number): boolean {
  if (b.port !== port) return false
  const any = family === 4 ? '0.0.0.0' : '::'
  if (b.family === family) return b.ip === ip || b.ip === any || ip === any
  return b.family === 6 && b.ip === '::' && family === 4
}

/** Whether a bound socket holds a port of the block. */
function osBound(bound: BoundIndex, host: TransportRange): boolean {
  const family = ipFamily(host.ip)
  for (let port = host.port; port <= host.endPort; port++) {
    if (bound.on(port).some((b) => blocks(b, host.ip, family, port))) return true
  }
  return false
}

/** ERR_PORT_ALREADY_ALLOCATED (saying the OS uses it) when a bound socket holds a port of the block. */
function osFree(bound: BoundIndex, ip: string, proto: TransportRange['proto'], start: number, end: number): void {
  const family = ipFamily(ip)
  for (let port = start; port <= end; port++) {
    if (bound.on(port).some((b) => blocks(b, ip, family, port))) {
      const where = formatTransportAddress({ proto, ip, port }).split('/')[1]
      throw new PortMapperError(
        ERR_PORT_ALREADY_ALLOCATED,
        `Bind for ${where} failed: port is already allocated (the OS already uses it: a socket on this machine has it bound)`,
      )
    }
  }
}

function hostIPFor(raw: unknown, containerIP: string): string {
  const family = ipFamily(containerIP)
  if (raw === undefined || raw === null || raw === '') return family === 4 ? '0.0.0.0' : '::'
  const ip = canonicalIP(raw)
  if (ip === undefined) {
    throw new PortMapperError(
      ERR_INVALID_TRANSPORT_ADDRESS,
      `invalid host IP ${JSON.stringify(raw)}: not an IP address`,
    )
  }
  if (ipFamily(ip) !== family) {
    throw new PortMapperError(
      ERR_INVALID_TRANSPORT_ADDRESS,
      `host IP ${ip} and container IP ${containerIP} are of different families`,
    )
  }
  return ip
}

/** Turns the host port arguments into an allocator request for a block of `count` ports. */
export function hostRequest(count: number, hostPort: number, hostEndPort: number): HostRequest {
  const range = (why: string): PortMapperError =>
    new PortMapperError(ERR_INVALID_PORT_RANGE, `invalid host port range ${hostPort}-${hostEndPort}: ${why}`)
  if (hostPort === 0) {
    if (hostEndPort !== 0) throw range('an end without a start')
    return { kind: 'any', count }
  }
  if (hostEndPort === 0 || hostEndPort === hostPort) {
    if (hostPort + count - 1 > 65535) throw range(`${count} ports from ${hostPort} pass 65535`)
    return { kind: 'exact', start: hostPort, end: hostPort + count - 1 }
  }
  if (hostEndPort < hostPort) throw range('reversed')
  const size = hostEndPort - hostPort + 1
  if (size === count) return { kind: 'exact', start: hostPort, end: hostEndPort }
  if (count === 1) return { kind: 'one-of', start: hostPort, end: hostEndPort }
  throw range(`${size} host ports for ${count} container ports`)
}

/**
 * Publishes container ports on the host: a host port from the allocator (given, or any free one),
 * then DNAT through the firewall. A failure after the allocation releases the port and removes
 * whatever was programmed. Calls may run concurrently; two of them never get one host port.
 */
export class PortMapper {
  readonly #allocator: PortAllocator
  readonly #checkOS: boolean
  #host: Promise<Handle> | undefined
  readonly #bridge: string | undefined
  #firewall: Promise<Firewall> | undefined
  readonly #entries = new Map<string, Entry>()
  /** Mappings between allocation and programming (their host ports are taken). */
  readonly #pending = new Set<Entry>()
  readonly #holds: PortHolds

  constructor(options: PortMapperOptions = {}) {
    this.#allocator = options.allocator ?? getPortAllocator()
    this.#checkOS = (this.#allocator as { syncWithOS?: unknown }).syncWithOS !== false
    this.#bridge = options.bridge
    this.#holds = new PortHolds(options.holdPorts ?? this.#checkOS)
    if (options.firewall) this.#firewall = Promise.resolve(options.firewall)
  }

  /** The firewall in use (the default one is made on first use). */
  firewall(): Promise<Firewall> {
    if (this.#firewall) return this.#firewall
    const made = createFirewall()
    this.#firewall = made
    made.catch(() => {
      if (this.#firewall === made) this.#firewall = undefined // retry on the next call
    })
    return made
  }

  /**
   * Publishes one binding for the container address `containerIP`: the container port (or block
   * `containerPort`–`containerPortEnd`) on `hostIP` (absent, `''` or the wildcard: every address of
   * the container IP's family, `0.0.0.0` or `::`) and `hostPort` (absent or 0: any free port; with
   * `hostPortEnd`, a block of host ports of the same size, or for one container port any free port
   * of that range). Returns the binding as published, every side resolved.
   */
  async publish(containerIP: string, binding: PortBinding, options: PublishOptions = {}): Promise<PublishedPort> {
    const b = binding ?? ({} as PortBinding)
    const c = validateTransportAddress({ proto: b.proto, ip: containerIP, port: b.containerPort }, 'container address')
    const endPort = b.containerPortEnd === undefined ? c.port : validatePort(b.containerPortEnd, 'container end port')
    if (endPort < c.port) {
      throw new PortMapperError(ERR_INVALID_PORT_RANGE, `invalid container port range ${c.port}-${endPort}: reversed`)
    }
    const hold = options.hold !== false
    const { host, container } = await this.#map({ ...c, endPort }, b.hostIP, b.hostPort ?? 0, b.hostPortEnd ?? 0, hold)
    return publishedOf(host, container)
  }

  /** Removes a published port by its host side (for a block: its first port, as `publish` returned it). */
  async unpublish(port: HostPort): Promise<void> {
    const h = validateTransportAddress(hostAddress(port), 'host address', true)
    const key = keyOf(h)
    const entry = this.#entries.get(key)
    if (!entry) throw notMapped(h)
    this.#entries.delete(key)
    try {
      await (await this.firewall()).deletePorts([entry.rule])
    } catch (err) {
      this.#entries.set(key, entry) // still programmed: keep it (and its ports) to retry
      throw err
    }
    this.#holds.release(key)
    if (entry.reserved) this.#release(entry.host)
  }

  /**
   * Forgets a published port that is gone from the kernel already (another process unpublished it):
   * releases its host ports in the allocator and drops it, without touching the firewall. Unknown:
   * a no-op.
   */
  forget(port: HostPort): void {
    const key = keyOf(validateTransportAddress(hostAddress(port), 'host address', true))
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#entries.delete(key)
    this.#holds.release(key)
    if (entry.reserved) this.#release(entry.host)
  }

  /**
   * Closes the handle used to read bound sockets and the sockets holding published ports (the
   * mappings stay in the kernel).
   */
  async close(): Promise<void> {
    this.#holds.releaseAll()
    const host = this.#host
    this.#host = undefined
    if (host) (await host.catch(() => undefined))?.close()
  }

  /**
   * The published ports this mapper holds for nobody: adopted from the kernel while another socket
   * had them bound, with those sockets (the caller tells this process's own apart, the `[::]` side
   * of a dual-stack port: `socketHolders`). Asks the kernel again: a port whose socket was closed
   * since is left out (a restore, or {@link holdTaken}, holds it again).
   */
  async unheld(): Promise<UnheldPort[]> {
    const wanted = [...this.#entries.values()].filter((e) => e.taken.length > 0)
    if (wanted.length === 0) return []
    this.#host ??= openHandle()
    const host = await this.#host
    const indexes = new Map<'tcp' | 'udp', BoundIndex>()
    const out: UnheldPort[] = []
    for (const entry of wanted) {
      const proto = entry.host.proto
      if (proto === 'sctp') continue
      let index = indexes.get(proto)
      if (!index) {
        index = indexBound(await host.boundPorts(proto)) // IPv4-mapped sockets indexed as IPv4
        indexes.set(proto, index)
      }
      const family = ipFamily(entry.host.ip)
      for (const port of entry.taken) {
        const sockets = index.on(port).filter((b) => blocks(b, entry.host.ip, family, port))
        if (sockets.length === 0) continue // closed since: a restore (or holdTaken) holds it
        out.push({
          proto,
          hostIP: entry.host.ip,
          hostPort: port,
          containerIP: entry.container.ip,
          containerPort: entry.container.port + (port - entry.host.port),
          sockets: sockets.map((b) => ({ inode: b.inode ?? 0, uid: b.uid ?? 0 })),
        })
      }
    }
    return out
  }

  /**
   * Tries again to hold the ports {@link unheld} lists (another program had them bound): returns
   * those it holds now, that program having let go.
   */
  async holdTaken(): Promise<TransportAddress[]> {
    const out: TransportAddress[] = []
    for (const entry of [...this.#entries.values()]) {
      if (entry.taken.length === 0) continue
      // Only while the kernel still maps it so: another controller of the store that unpublished it
      // (to publish it again) must find it free.
      if (!(await kernelHasMapping(await this.firewall(), entry.host, entry.container))) continue
      const key = keyOf(entry.host)
      const before = entry.taken
      entry.taken = await this.#holds.holdMore(key, entry.host, before, entry.container)
      // Forgotten or unpublished meanwhile (the binds are awaited): what was just held goes again.
      if (this.#entries.get(key) !== entry) {
        if (!this.#entries.has(key)) this.#holds.release(key)
        continue
      }
      for (const port of before) {
        if (!entry.taken.includes(port)) out.push({ proto: entry.host.proto, ip: entry.host.ip, port })
      }
    }
    return out
  }

  /** Whether any published port is one {@link holdTaken} would try again (no kernel request). */
  get hasTaken(): boolean {
    for (const e of this.#entries.values()) if (e.taken.length > 0) return true
    return false
  }

  /** What this mapper publishes now, in the order it was published. */
  published(): PublishedPort[] {
    return [...this.#entries.values()].map(({ host, container }) => publishedOf(host, container))
  }

  async #map(
    container: TransportRange,
    rawHostIP: unknown,
    rawPort: unknown,
    rawEnd: unknown,
    hold: boolean,
  ): Promise<Entry> {
    const ip = hostIPFor(rawHostIP, container.ip)
    const request = hostRequest(
      container.endPort - container.port + 1,
      validatePort(rawPort, 'host port', true),
      validatePort(rawEnd, 'host end port', true),
    )
    const firewall = await this.firewall()
    if (!firewall.protocols.includes(container.proto)) {
      throw new PortMapperError(
        ERR_NOT_SUPPORTED,
        `map ${formatTransportAddress(container)}: ${container.proto} is not supported here (firewall ${firewall.backend}: ${firewall.protocols.join(', ')})`,
      )
    }
    if (request.kind === 'exact')
      this.#checkFree({ proto: container.proto, ip, port: request.start, endPort: request.end })
    const bound = request.kind === 'any' ? EMPTY_BOUND_INDEX : await this.#boundPorts(container.proto)
    // A port some socket has bound is refused, unless the kernel maps it exactly so already: a
    // mapping taken back from the kernel (restore), whose ports its other owner may be holding.
    const wanted =
      request.kind === 'exact' ? { proto: container.proto, ip, port: request.start, endPort: request.end } : undefined
    const adopted =
      wanted !== undefined && osBound(bound, wanted) && (await kernelHasMapping(firewall, wanted, container))
    const [start, end] =
      wanted && adopted ? [wanted.port, wanted.endPort] : this.#allocate(ip, container.proto, request, bound, hold)
    const host: TransportRange = { proto: container.proto, ip, port: start, endPort: end }
    const reserved = !adopted || reserveAdopted(this.#allocator, host)
    const entry: Entry = { host, container, rule: this.#rule(host, container), reserved, taken: [] }
    return withUndo(async (undo) => {
      undo.push(() => reserved && this.#release(host))
      this.#checkFree(host)
      this.#pending.add(entry)
      undo.push(() => this.#pending.delete(entry))
      // Before DNAT: a port bound meanwhile is refused (an adopted one is kept, and told by unheld()).
      if (hold) entry.taken = await this.#holds.hold(keyOf(host), host, adopted, container)
      undo.push(() => this.#holds.release(keyOf(host)))
      await firewall.addPorts([entry.rule]) // one transaction: on failure nothing was programmed
      undo.push(() => firewall.deletePorts([entry.rule]))
      this.#entries.set(keyOf(host), entry)
      this.#pending.delete(entry)
      return entry
    })
  }

  /** ERR_PORT_MAPPED_FOR_IP when a mapping of this mapper (made or in progress) holds any of the ports. */
  #checkFree(host: TransportRange): void {
    for (const e of [...this.#entries.values(), ...this.#pending]) {
      const h = e.host
      if (h.proto === host.proto && h.ip === host.ip && h.port <= host.endPort && host.port <= h.endPort) {
        throw mappedForIP(host, e)
      }
    }
  }

  #allocate(
    ip: string,
    proto: TransportRange['proto'],
    request: HostRequest,
    bound: BoundIndex,
    hold: boolean,
  ): [number, number] {
    const a = this.#allocator
    if (request.kind === 'any') {
      if (request.count === 1) {
        const port = a.requestPort(ip, proto, 0)
        return [port, port]
      }
      return a.requestPortRange(ip, proto, 0, 0, request.count)
    }
    // Ports asked for by number were just checked against the sockets bound now (`bound`, read
    // through NETLINK_SOCK_DIAG) and, when held, are bound next by their hold (which fails on a
    // socket bound meanwhile): the allocator need not read its own snapshot of the socket tables
    // (/proc/net/{tcp,udp}{,6}: 12–18 ms a publish on a host whose snapshot went stale, as it does
    // between two `docker run -p`). A mapping not held keeps the allocator's own check too.
    const checked = { osChecked: bound !== EMPTY_BOUND_INDEX && hold && this.#holds.enabled }
    if (request.kind === 'exact') {
      osFree(bound, ip, proto, request.start, request.end)
      if (request.start === request.end) return [a.requestPort(ip, proto, request.start, checked), request.start]
      return a.requestPortRange(ip, proto, request.start, request.end, undefined, checked)
    }
    let last: unknown
    for (let port = request.start; port <= request.end; port++) {
      try {
        this.#checkFree({ proto, ip, port, endPort: port })
        osFree(bound, ip, proto, port, port)
        return [a.requestPort(ip, proto, port, checked), port]
      } catch (err) {
        if (!hasErrorCode(err, ERR_PORT_ALREADY_ALLOCATED) && !hasErrorCode(err, ERR_PORT_MAPPED_FOR_IP)) throw err
        last = err
      }
    }
    throw new PortMapperError(
      ERR_PORT_ALREADY_ALLOCATED,
      `Bind for ${formatTransportAddress({ proto, ip, port: request.start, endPort: request.end }).split('/')[1]} failed: every port of the range is already allocated`,
      { cause: last },
    )
  }

  /**
   * For host ports asked for by number: the sockets bound on the machine right now, read through
   * NETLINK_SOCK_DIAG (the shared allocator trusts its snapshot of the socket tables for up to 2 s,
   * and a port a host process bound a moment ago must not be taken over). Listening TCP sockets come
   * from the listening hash alone, so this stays cheap however busy the machine is. Empty when the
   * allocator does not sync with the OS, and for sctp (no socket table to ask).
   */
  async #boundPorts(proto: TransportRange['proto']): Promise<BoundIndex> {
    if (!this.#checkOS || proto === 'sctp') return EMPTY_BOUND_INDEX
    this.#host ??= openHandle()
    const host = await this.#host
    if (this.#holds.enabled) return foreignBoundPorts(proto, () => host.boundPorts(proto)) // see foreignBoundPorts
    return indexBound(await host.boundPorts(proto))
  }

  #release(host: TransportRange): void {
    for (let port = host.port; port <= host.endPort; port++) this.#allocator.releasePort(host.ip, host.proto, port)
  }

  #rule(host: TransportRange, container: TransportRange): FirewallMapping {
    return {
      proto: host.proto,
      ...(isWildcardIP(host.ip) ? {} : { hostIP: host.ip }),
      hostPort: host.port,
      ...(host.endPort !== host.port ? { hostPortEnd: host.endPort } : {}),
      containerIP: container.ip,
      containerPort: container.port,
      ...(container.endPort !== container.port ? { containerPortEnd: container.endPort } : {}),
      ...(this.#bridge === undefined ? {} : { bridge: this.#bridge }),
    }
  }
}
