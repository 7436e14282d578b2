import { createSocket, type Socket as UdpSocket } from 'node:dgram'
import { connect, createServer, type Server, type Socket } from 'node:net'
import type { Firewall, Inventory } from '@cnm/firewall'
import { nftGeneration } from '@cnm/netlink'
import { ERR_PORT_ALREADY_ALLOCATED, type PortAllocator } from '@cnm/portallocator'
import { type BoundIndex, type BoundSocket, indexBound } from './bound-index.js'
import { PortMapperError } from './errors.js'
import { socketsInUse } from './sockstat.js'
import { formatTransportAddress, ipFamily, isWildcardIP, type TransportRange } from './transport-address.js'

/** One bound socket that holds one host port. */
interface Holder {
  /** `tcp/0.0.0.0:8080` */
  key: string
  close(): void
}

/** Every port this process holds, across mappers (what `heldPortCount()` counts), by key. */
const allHolders = new Map<Holder, string>()
/** The keys of the held ports (a port is held once: no SO_REUSEPORT). */
const heldKeys = new Set<string>()
/** Keys released since the last read of the socket tables (their entries there are stale). */
const releasedSinceRead = new Set<string>()

/** How many host ports this process holds with a bound socket (every `PortMapper` together). */
export function heldPortCount(): number {
  return allHolders.size
}

const portKey = (proto: string, ip: string, port: number): string => `${proto}/${ip}:${port}`

/**
 * How many connections this process relays at once, every held port together: one counts until
 * both its sockets are closed. Past it a new one is reset, so a local user opening connections to
 * `[::1]:port` cannot take the daemon's file descriptors (its netlink sockets, its API) away.
 */
export const RELAY_LIMIT = 256
/** A relayed connection whose one side closed has this long to pass on what it still has (ms). */
const RELAY_LINGER_MS = 2000
/** A container that does not answer a relayed connection within this is given up on (ms). */
const RELAY_CONNECT_MS = 10_000
let relaying = 0

/** How many connections this process relays now (each until both its sockets are closed). */
export function relayedConnections(): number {
  return relaying
}

/**
 * Relays one connection to the container: each side's data to the other, each side's end to the
 * other; when one side is closed the other gets {@link RELAY_LINGER_MS} to finish, then goes (a
 * container that never closes its side cannot keep the daemon's socket). Counts against
 * {@link RELAY_LIMIT} until both are closed.
 */
function relay(client: Socket, to: { ip: string; port: number }, relayed: Set<Socket>): void {
  relaying++
  let open = 2
  const upstream = connect({ host: to.ip, port: to.port, timeout: RELAY_CONNECT_MS })
  upstream.once('timeout', () => upstream.resetAndDestroy())
  const pair: [Socket, Socket][] = [
    [client, upstream],
    [upstream, client],
  ]
  for (const [s, other] of pair) {
    relayed.add(s)
    s.on('error', () => other.resetAndDestroy())
    s.once('close', () => {
      relayed.delete(s)
      if (--open === 0) relaying--
      setTimeout(() => other.destroy(), RELAY_LINGER_MS).unref()
    })
  }
  upstream.once('connect', () => {
    upstream.setTimeout(0)
    client.pipe(upstream) // resumes the client, paused until the container answered
    upstream.pipe(client)
  })
}

/**
 * A listening TCP socket (a listener conflicts with every other bind of its address and port,
 * `SO_REUSEADDR` or not). DNAT sends published traffic to the container before a local socket is
 * looked up, so what reaches it is what DNAT cannot take. IPv6 loopback (the kernel never routes
 * `::1` to a bridge) is relayed to the container's port, as Docker's userland proxy does (`curl
 * localhost:8080` tries `[::1]` first and gives up on a reset); a connection the container refuses
 * is reset. Anything else here is stray (the firewall's rules missing: a fault the watch and
 * `reconcile` repair, which a relay would hide) and is reset, as is one past {@link RELAY_LIMIT}.
 * Released with the port: the relayed connections are closed too.
 */
function holdTcp(ip: string, port: number, to: { ip: string; port: number } | undefined): Promise<Holder> {
  return new Promise((resolve, reject) => {
    const relayed = new Set<Socket>()
    const server: Server = createServer({ pauseOnConnect: true }, (client) => {
      if (!to || client.localAddress !== '::1' || relaying >= RELAY_LIMIT) return void client.resetAndDestroy()
      relay(client, to, relayed)
    })
    server.once('error', reject)
    server.listen({ host: ip, port, backlog: 511, exclusive: true, ipv6Only: ipFamily(ip) === 6 }, () => {
      server.off('error', reject)
      server.on('error', () => undefined)
      server.unref() // a held port never keeps a process alive
      resolve({
        key: portKey('tcp', ip, port),
        close: () => {
          server.close()
          for (const s of relayed) s.destroy()
        },
      })
    })
  })
}

/**
 * How many UDP flows this process relays at once, every held port together (a flow: one client
 * address and port on `[::1]`, with its own socket to the container, until it goes idle or its port
 * is released). Past it a new client's datagrams are dropped. A counter of its own, not
 * {@link RELAY_LIMIT}'s: a flow costs a local user one datagram from a new source port (no
 * handshake, nothing from the container) and lives {@link UDP_RELAY_IDLE_MS}, so in a shared count
 * a loop of datagrams would have every TCP relay reset (and a pile of TCP connections would silence
 * DNS over `[::1]`); apart, each is bounded on its own, and the relays together hold at most
 * 2 × 256 + 256 descriptors.
 */
export const UDP_RELAY_LIMIT = 256
/**
 * A relayed UDP flow that passed no datagram either way for this long is closed (ms): the kernel's
 * own timeout for a UDP flow DNAT relays (`nf_conntrack_udp_timeout`, 30 s).
 */
export const UDP_RELAY_IDLE_MS = 30_000
let udpFlows = 0

/** How many UDP flows this process relays now (each until it goes idle or its port is released). */
export function relayedUdpFlows(): number {
  return udpFlows
}

/** The bounds of a port mapper's UDP relay: the defaults, lower in a test. */
export interface UdpRelayBounds {
  /** Relayed flows at most, counted process-wide ({@link UDP_RELAY_LIMIT}). */
  limit: number
  /** A flow idle this long is closed (ms; {@link UDP_RELAY_IDLE_MS}). */
  idleMs: number
}

const UDP_RELAY_DEFAULTS: UdpRelayBounds = { limit: UDP_RELAY_LIMIT, idleMs: UDP_RELAY_IDLE_MS }

type Target = { ip: string; port: number }

/**
 * Opens one client's UDP flow to the container: a socket of the container IP's family that sends
 * the client's datagrams there, and sends each answer from the container back to the client from
 * the held socket (so the client sees it come from the port it asked). Counts against the limit
 * until closed; closed when idle {@link UdpRelayBounds.idleMs} either way, or by `close`.
 */
function openUdpFlow(
  held: UdpSocket,
  client: { address: string; port: number },
  to: Target,
  idleMs: number,
  onClose: () => void,
): { send(msg: Buffer): void; close(): void } {
  udpFlows++
  const upstream = createSocket(ipFamily(to.ip) === 6 ? 'udp6' : 'udp4')
  let open = true
  const close = (): void => {
    if (!open) return
    open = false
    udpFlows--
    clearTimeout(idle)
    upstream.close()
    onClose()
  }
  const idle = setTimeout(close, idleMs)
  idle.unref()
  upstream.on('error', close) // a send failed (the socket is not connected: a refusal never comes back here)
  upstream.on('message', (reply, from) => {
    if (from.address !== to.ip || from.port !== to.port) return // not the container: dropped
    idle.refresh()
    held.send(reply, client.port, client.address)
  })
  upstream.unref()
  return {
    send: (msg) => {
      idle.refresh()
      upstream.send(msg, to.port, to.ip)
    },
    close,
  }
}

/**
 * A bound UDP socket (no `SO_REUSEADDR`: every other bind of the address and port fails). As with
 * {@link holdTcp}, what reaches it is what DNAT cannot take: a datagram from IPv6 loopback is
 * relayed to the container's port `to`, over one flow per client address and port (see
 * {@link openUdpFlow}), as Docker's userland proxy does (`dig @localhost`, `nc -u localhost`); one
 * past the limit is dropped. Anything else here is stray and dropped, as is everything without
 * `to`. Released with the port: its flows are closed too.
 */
function holdUdp(ip: string, port: number, to: Target | undefined, bounds: UdpRelayBounds): Promise<Holder> {
  return new Promise((resolve, reject) => {
    const family = ipFamily(ip)
    const socket: UdpSocket = createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 })
    const flows = new Map<string, ReturnType<typeof openUdpFlow>>()
    socket.on('message', (msg, rinfo) => {
      if (!to || rinfo.address !== '::1') return
      const client = `[${rinfo.address}]:${rinfo.port}`
      let flow = flows.get(client)
      if (!flow) {
        if (udpFlows >= bounds.limit) return
        flow = openUdpFlow(socket, rinfo, to, bounds.idleMs, () => flows.delete(client))
        flows.set(client, flow)
      }
      flow.send(msg)
    })
    socket.once('error', reject)
    socket.bind({ address: ip, port, exclusive: true }, () => {
      socket.off('error', reject)
      socket.on('error', () => undefined)
      socket.unref()
      resolve({
        key: portKey('udp', ip, port),
        close: () => {
          socket.close()
          for (const flow of [...flows.values()]) flow.close()
        },
      })
    })
  })
}

function inUse(host: TransportRange, port: number, cause: unknown): PortMapperError {
  const where = formatTransportAddress({ proto: host.proto, ip: host.ip, port }).split('/')[1]
  return new PortMapperError(
    ERR_PORT_ALREADY_ALLOCATED,
    `Bind for ${where} failed: port is already allocated (another socket on this machine has it bound)`,
    { cause },
  )
}

/** Holds one port of `host`'s block; the range's n-th host port goes to its n-th container port. */
function holdOne(
  host: TransportRange,
  port: number,
  container: TransportRange | undefined,
  udpRelay: UdpRelayBounds,
): Promise<Holder> {
  const to = container && { ip: container.ip, port: container.port + (port - host.port) }
  return host.proto === 'tcp' ? holdTcp(host.ip, port, to) : holdUdp(host.ip, port, to, udpRelay)
}

/**
 * The bound sockets with which a port mapper holds its published host ports, as Docker does: while
 * a port is published, another program's `bind` of that address, port and protocol fails with
 * EADDRINUSE instead of succeeding and then never receiving a packet. Every port of a range is
 * held. SCTP ports are not held (Node has no SCTP sockets); neither is a port whose bind fails for
 * a reason other than EADDRINUSE (a host address that is not local: EADDRNOTAVAIL). A TCP
 * connection or a UDP datagram over IPv6 loopback (DNAT cannot take it) reaches the held port and
 * is relayed to the container.
 */
export class PortHolds {
  readonly #enabled: boolean
  readonly #udpRelay: UdpRelayBounds
  readonly #held = new Map<string, Holder[]>()

  /** `udpRelay`: the UDP relay's bounds, the defaults but in a test. */
  constructor(enabled = true, udpRelay: UdpRelayBounds = UDP_RELAY_DEFAULTS) {
    this.#enabled = enabled
    this.#udpRelay = udpRelay
  }

  /**
   * Holds every port of `host` under `key`. A port another socket has bound is
   * `ERR_PORT_ALREADY_ALLOCATED` (nothing stays held), unless `shared`: a mapping adopted from the
   * kernel, which another process (the daemon) may be holding already; those ports are returned
   * (held by someone else). A TCP connection to a held port over IPv6 loopback (DNAT cannot take
   * it) is relayed to `container`'s port; any other, or one without `container`, is reset. A UDP
   * datagram likewise is relayed or dropped.
   */
  async hold(key: string, host: TransportRange, shared: boolean, container?: TransportRange): Promise<number[]> {
    const taken: number[] = []
    if (!this.#enabled || host.proto === 'sctp') return taken
    const holders: Holder[] = []
    try {
      for (let port = host.port; port <= host.endPort; port++) {
        try {
          holders.push(await holdOne(host, port, container, this.#udpRelay))
        } catch (err) {
          const code = (err as { code?: unknown }).code
          if (code === 'EADDRINUSE' && !shared) throw inUse(host, port, err)
          if (code === 'EADDRINUSE') taken.push(port) // held by its other owner, or by someone else
          // not held: a non-local address, no permission, or (shared) another socket has it
        }
      }
    } catch (err) {
      for (const h of holders) h.close()
      throw err
    }
    this.release(key)
    this.#add(key, host, holders)
    return taken
  }

  /**
   * Holds `ports` of `key`'s block beside the ones held already: those a shared {@link hold} found
   * another socket had. Returns the ones another socket still has.
   */
  async holdMore(
    key: string,
    host: TransportRange,
    ports: readonly number[],
    container?: TransportRange,
  ): Promise<number[]> {
    const taken: number[] = []
    if (!this.#enabled || host.proto === 'sctp') return taken
    const holders: Holder[] = []
    for (const port of ports) {
      try {
        holders.push(await holdOne(host, port, container, this.#udpRelay))
      } catch (err) {
        if ((err as { code?: unknown }).code === 'EADDRINUSE') taken.push(port)
      }
    }
    this.#add(key, host, holders)
    return taken
  }

  #add(key: string, host: TransportRange, holders: Holder[]): void {
    if (holders.length === 0) return
    this.#held.set(key, [...(this.#held.get(key) ?? []), ...holders])
    for (const h of holders) {
      allHolders.set(h, h.key)
      heldKeys.add(h.key)
    }
    ownSockets[host.proto === 'tcp' ? 'tcp' : 'udp'] += holders.length
  }

  /** Closes the sockets holding `key`'s ports (unknown: a no-op). */
  release(key: string): void {
    const holders = this.#held.get(key)
    if (!holders) return
    this.#held.delete(key)
    for (const h of holders) {
      ownSockets[h.key.startsWith('tcp/') ? 'tcp' : 'udp']--
      allHolders.delete(h)
      heldKeys.delete(h.key)
      releasedSinceRead.add(h.key)
      h.close()
    }
  }

  /** Whether this mapper holds ports (it does unless disabled). */
  get enabled(): boolean {
    return this.#enabled
  }

  /** Closes every socket of this mapper. */
  releaseAll(): void {
    for (const key of [...this.#held.keys()]) this.release(key)
  }

  /** How many ports this mapper holds. */
  get size(): number {
    let n = 0
    for (const holders of this.#held.values()) n += holders.length
    return n
  }
}

const inventories = new WeakMap<Firewall, { generation: number; inventory: Promise<Inventory> }>()

/**
 * The firewall's inventory, read again only when nf_tables changed since (its generation, one small
 * netlink request, says so: anyone's commit bumps it): a restore that asks for every endpoint reads
 * the table once, and a mapping another process published a moment ago is seen at once. Other
 * backends are read every time (iptables-legacy does not bump the generation).
 */
async function inventoryOf(firewall: Firewall): Promise<Inventory> {
  if (firewall.backend !== 'nftables') return firewall.inventory()
  const generation = await nftGeneration().catch(() => undefined)
  if (generation === undefined) return firewall.inventory()
  const cached = inventories.get(firewall)
  if (cached?.generation === generation) return cached.inventory
  const inventory = firewall.inventory()
  inventories.set(firewall, { generation, inventory })
  inventory.catch(() => inventories.delete(firewall))
  return inventory
}

type InventoryPort = Inventory['ports'][number]
const inventoryIndexes = new WeakMap<Inventory, Map<string, InventoryPort[]>>()

/** An inventory's port mappings by `proto/hostPort`, built once per inventory read. */
function portsOf(inventory: Inventory): Map<string, InventoryPort[]> {
  let index = inventoryIndexes.get(inventory)
  if (index) return index
  index = new Map()
  for (const p of inventory.ports) {
    const key = `${p.proto}/${p.hostPort}`
    const at = index.get(key)
    if (at) at.push(p)
    else index.set(key, [p])
  }
  inventoryIndexes.set(inventory, index)
  return index
}

/**
 * Whether the kernel already maps exactly `host` to `container` (every port of the range): a
 * mapping being taken back from the kernel (a restore, or another process's store sync), whose
 * ports a socket of its other owner may be holding. A port some other program has bound is never
 * such a mapping, and stays refused.
 */
export async function kernelHasMapping(
  firewall: Firewall,
  host: TransportRange,
  container: TransportRange,
): Promise<boolean> {
  let inventory: Inventory
  try {
    inventory = await inventoryOf(firewall)
  } catch {
    return false
  }
  const wildcard = isWildcardIP(host.ip)
  const byPort = portsOf(inventory)
  for (let port = host.port; port <= host.endPort; port++) {
    const containerPort = container.endPort === container.port ? container.port : container.port + (port - host.port)
    const found = (byPort.get(`${host.proto}/${port}`) ?? []).some(
      (p) =>
        p.proto === host.proto &&
        p.hostPort === port &&
        (wildcard ? p.hostIP === undefined || isWildcardIP(p.hostIP) : p.hostIP === host.ip) &&
        p.containerIP === container.ip &&
        p.containerPort === containerPort,
    )
    if (!found) return false
  }
  return true
}

/**
 * Reserves an adopted mapping's ports in the allocator; false when the allocator refuses only
 * because a socket has them bound (their other owner's hold): the mapping is then kept without a
 * reservation here. Any other refusal (this process holds them) is thrown.
 */
export function reserveAdopted(allocator: PortAllocator, host: TransportRange): boolean {
  try {
    if (host.port === host.endPort) allocator.requestPort(host.ip, host.proto, host.port)
    else allocator.requestPortRange(host.ip, host.proto, host.port, host.endPort)
    return true
  } catch (err) {
    if ((err as { byOS?: unknown }).byOS === true) return false
    throw err
  }
}

export type { BoundSocket } from './bound-index.js'
export { socketsInUse }

const FOREIGN_TTL_MS = 1000
const foreignCache = new Map<string, { at: number; index: Promise<BoundIndex>; foreign: number | undefined }>()

/** How many sockets of each protocol this process holds ports with now (what it adds to `socketsInUse`). */
const ownSockets = { tcp: 0, udp: 0 }

/** Sockets in use that are not this process's holds (undefined: unknown). */
function foreignSockets(proto: 'tcp' | 'udp'): number | undefined {
  const inuse = socketsInUse(proto)
  return inuse === undefined ? undefined : inuse - ownSockets[proto]
}

/**
 * The sockets bound on the machine that are not this process's holds, for a mapper that holds its
 * ports. One read of the socket tables (a dump that lists every held port too) serves the requests
 * that follow while no other socket was opened or closed since — the kernel's count of sockets in
 * use (`socketsInUse`), less this process's own holds, has not changed — for at most a second: a
 * restore maps thousands of ports with one read, and a port another process released (or bound) a
 * moment ago is seen at once. Ports this process held at the read and released since are left
 * out, so a port can be published again at once. The read is indexed by port once: a publish
 * looks its ports up instead of filtering every bound socket (the daemon's own thousands of holds
 * among them) per port.
 */
export async function foreignBoundPorts(
  proto: 'tcp' | 'udp',
  read: () => Promise<readonly BoundSocket[]>,
): Promise<BoundIndex> {
  let cached = foreignCache.get(proto)
  const foreign = foreignSockets(proto)
  if (
    !cached ||
    performance.now() - cached.at > FOREIGN_TTL_MS ||
    foreign === undefined ||
    cached.foreign !== foreign
  ) {
    for (const key of releasedSinceRead) if (key.startsWith(`${proto}/`)) releasedSinceRead.delete(key)
    const index = read().then((list) => indexBound(list, isForeign))
    cached = { at: performance.now(), index, foreign }
    foreignCache.set(proto, cached)
    index.catch(() => foreignCache.delete(proto))
  }
  return cached.index
}

/** Not one of this process's holds, now or released since the read. */
function isForeign(b: BoundSocket): boolean {
  const key = portKey(b.proto, b.ip, b.port)
  return !heldKeys.has(key) && !releasedSinceRead.has(key)
}
