import { closeSync, constants, fstatSync, openSync } from 'node:fs'
import { addAddress, deleteAddress, type LinkAddress, listAddresses } from './addresses.js'
import { ConntrackSocket } from './conntrack.js'
import type { ConntrackEntry } from './conntrack-codec.js'
import type { ConntrackMatch } from './conntrack-match.js'
import { type ConntrackWatch, watchConntrack } from './conntrack-watch.js'
import type { HandleContext } from './context.js'
import { ERR_HANDLE_CLOSED, kernelError, NetlinkError } from './errors.js'
import {
  createBridge,
  createVeth,
  deleteLink,
  findLink,
  getLink,
  type Link,
  listLinks,
  moveLink,
  renameLink,
  setAlias,
  setHairpin,
  setLinkUp,
  setMac,
  setMaster,
  setMtu,
  type VethOptions,
} from './links.js'
import { CURRENT_NETNS_PATH, validateNetnsPath, withNetnsFdSync } from './namespace.js'
import { addRoute, deleteRoute, listRoutes, type Route, type RouteSpec } from './routes.js'
import { DEFAULT_TIMEOUT_MS, RtnlSocket } from './rtnl-socket.js'
import { type BoundPort, SockDiagSocket } from './sock-diag.js'
import { readSysctl, writeSysctl } from './sysctl.js'
import { ensureThreadPool } from './thread-pool.js'

/** Netlink operations bound to one network namespace. */
export interface Handle {
  /** The bound file the handle was opened on; undefined for the caller's own namespace. */
  readonly netns: string | undefined
  /** Inode of the handle's namespace. */
  readonly inode: number
  /**
   * A path that opens the handle's namespace while the handle is open (the bound file, or
   * `/proc/self/fd/N` on the handle's own fd): what `moveLink` or a veth's `peerNetns` take.
   */
  readonly nsPath: string
  /** Every link in the handle's namespace (one RTM_GETLINK dump), loopback included. */
  listLinks(): Promise<Link[]>
  /**
   * A link by name or ifindex. Throws `ENODEV` (kind `not-found`) when there is none, and
   * `ERR_INVALID_INTERFACE_NAME` for a name the kernel could not hold.
   */
  getLink(ref: string | number): Promise<Link>
  /** A link by name, or `undefined` when there is none (other failures still throw). */
  findLink(name: string): Promise<Link | undefined>
  /**
   * Creates a bridge and returns it as the kernel holds it, still down. `opts.mac` fixes its MAC
   * (so it does not take its first port's), `opts.mtu` is 68-65535, `opts.alias` (IFLA_IFALIAS, at
   * most 255 bytes) is set right after and the bridge is deleted again if that fails; `opts.group`
   * is its link group. Throws `EEXIST` when the name is taken, and `ERR_INVALID_INTERFACE_NAME` /
   * `ERR_INVALID_MTU` / `ERR_INVALID_MAC` / `ERR_INVALID_ALIAS` before any request.
   *
   * @example
   * ```ts
   * const h = await openHandle({ netns: '/run/netns/test1' })
   * try {
   *   await h.createBridge('br-test', { mtu: 1500, alias: 'cnm:demo' })
   *   await h.setLinkUp('br-test')
   * } finally {
   *   h.close()
   * }
   * ```
   */
  createBridge(name: string, opts?: { mac?: string; mtu?: number; alias?: string; group?: number }): Promise<Link>
  /**
   * Sets a link's alias (IFLA_IFALIAS, what `ip link` shows as `alias`; cnm marks its own links with
   * it). Throws `ERR_INVALID_ALIAS` for more than 255 bytes, `ENODEV` for an unknown link.
   */
  setAlias(name: string, alias: string): Promise<void>
  /**
   * Creates a veth pair and returns the host end `name`. With `opts.peerNetns` the peer is born
   * inside that namespace under its final name `peerName` (one request, no later move); `opts.master`,
   * `opts.up` and `opts.group` apply to the host end in the same request. Throws `EEXIST` when either
   * name is taken in its namespace, and the validation errors of {@link Handle.createBridge}.
   */
  createVeth(name: string, peerName: string, opts?: VethOptions): Promise<Link>
  /** Brings a link up (`up` defaults to `true`) or down (`false`); `ENODEV` for an unknown link. */
  setLinkUp(name: string, up?: boolean): Promise<void>
  /**
   * Sets a link's MTU in bytes (68-65535, `ERR_INVALID_MTU` otherwise); the kernel may refuse a value
   * the device or its bridge ports cannot take (`EINVAL`).
   */
  setMtu(name: string, mtu: number): Promise<void>
  /** Sets a link's MAC address (`02:42:ac:11:00:02` form; `ERR_INVALID_MAC` otherwise). */
  setMac(name: string, mac: string): Promise<void>
  /**
   * Makes `name` a port of the bridge `master`, or frees it from its bridge with `null`. Throws
   * `ENODEV` when either link is missing.
   */
  setMaster(name: string, master: string | null): Promise<void>
  /**
   * Renames a link. The kernel may refuse a link that is up (`EBUSY`; kernels before 6.2 always do:
   * set it down first) and refuses a name that is taken (`EEXIST`); `newName` is validated first (`ERR_INVALID_INTERFACE_NAME`).
   */
  renameLink(name: string, newName: string): Promise<void>
  /**
   * Moves a link into the namespace at `netnsPath` (a bound namespace file, or another handle's
   * `nsPath`); the link arrives down and without its addresses. Moving costs the kernel about 19 ms:
   * prefer creating a veth's peer in place (`createVeth` with `peerNetns`).
   */
  moveLink(name: string, netnsPath: string): Promise<void>
  /**
   * Turns hairpin mode on or off for a bridge port (traffic may go back out the port it came in on,
   * which a container reaching itself through a published port needs). `ENOTSUP` (kind
   * `unsupported`) for a link that is not a bridge port.
   */
  setHairpin(name: string, on: boolean): Promise<void>
  /** Deletes a link (both ends of a veth). Throws `ENODEV` when there is none. */
  deleteLink(name: string): Promise<void>
  /**
   * The addresses in the namespace, IPv4 and IPv6, or only those of link `name` (`ENODEV` when it is
   * missing).
   */
  listAddresses(name?: string): Promise<LinkAddress[]>
  /**
   * Adds the address `cidr` (`10.0.0.2/24`, `fd00::2/64`) to link `name`. IPv6 addresses skip
   * duplicate-address detection (usable at once) unless `opts.noDad` is `false`. Throws
   * `ERR_INVALID_ADDRESS` for bad CIDR text, `EEXIST` when the link has the address already.
   */
  addAddress(name: string, cidr: string, opts?: { noDad?: boolean }): Promise<void>
  /** Removes the address `cidr` from link `name`; `EADDRNOTAVAIL` when it is not there. */
  deleteAddress(name: string, cidr: string): Promise<void>
  /** The unicast routes of the main table, IPv4 and IPv6, or of one family. */
  listRoutes(family?: 4 | 6): Promise<Route[]>
  /**
   * Adds a route to the main table: `spec.destination` (`default` or a CIDR) via `spec.gateway`
   * and/or out `spec.interfaceName`. Throws `EEXIST` when the same route exists, and `ENETUNREACH` (IPv4)
   * or `EHOSTUNREACH` (IPv6) when no link reaches the gateway.
   */
  addRoute(spec: RouteSpec): Promise<void>
  /**
   * Deletes a route from the main table, matched as {@link Handle.addRoute} takes it; `ESRCH` when
   * there is none.
   */
  deleteRoute(spec: RouteSpec): Promise<void>
  /** Sockets bound to local ports (listening TCP, bound UDP), read through NETLINK_SOCK_DIAG. */
  boundPorts(proto: 'tcp' | 'udp'): Promise<BoundPort[]>
  /** The namespace's conntrack table (IPv4 and IPv6), read through ctnetlink. */
  listConntrack(): Promise<ConntrackEntry[]>
  /**
   * Deletes the conntrack entries that match (any of `matches`): flows to a host port, to an
   * address, from or to a container behind DNAT. Returns how many were deleted.
   */
  flushConntrack(matches: ConntrackMatch | readonly ConntrackMatch[]): Promise<number>
  /**
   * Watches the namespace's new conntrack entries (their events), recording those of the
   * addresses `tracked` accepts, every destination port and every port a source was translated to
   * (source NAT), so that a flush with nothing to delete
   * can be skipped ({@link ConntrackWatch.mayHold}) instead of walking the table. Closed with the
   * handle.
   */
  watchConntrack(tracked: (address: string) => boolean): ConntrackWatch
  /**
   * Writes a `net` sysctl inside the handle's namespace (`net/ipv4/conf/br0/route_localnet` or the
   * dotted form; names with dots need the slash form). Synchronous: the main thread switches into
   * the namespace for the write and back. Throws `ERR_INVALID_SYSCTL` for a key outside `net`, and
   * the errno (`ENOENT` for an unknown key) otherwise.
   */
  writeSysctl(key: string, value: string): void
  /**
   * Reads a `net` sysctl inside the handle's namespace, trimmed (`'1'`); the keys and errors of
   * {@link Handle.writeSysctl}.
   */
  readSysctl(key: string): string
  /** Closes the socket and the namespace fd; the handle no longer keeps the namespace alive. */
  close(): void
}

/** Options for {@link openHandle}. */
export interface HandleOptions {
  /** A bound network namespace; default: the calling thread's own. */
  netns?: string
  /** Per-request timeout (default 5000 ms). */
  timeoutMs?: number
}

function openNsFd(netns: string | undefined): number {
  const path = netns ?? CURRENT_NETNS_PATH
  try {
    return openSync(path, constants.O_RDONLY)
  } catch (cause) {
    throw kernelError(Math.abs((cause as NodeJS.ErrnoException).errno ?? 2), `open namespace ${path}`, cause)
  }
}

/**
 * Opens a netlink handle bound to a network namespace. Its socket is created inside that
 * namespace (the main thread switches in only for the synchronous `socket()` call, after the
 * thread pool has started) and stays there for life; the process itself never stays switched.
 */
export async function openHandle(options: HandleOptions = {}): Promise<Handle> {
  if (options.netns !== undefined) validateNetnsPath(options.netns)
  await ensureThreadPool()
  const nsFd = openNsFd(options.netns)
  let sock: RtnlSocket
  try {
    sock = withNetnsFdSync(
      nsFd,
      () => new RtnlSocket(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, (fn) => withNetnsFdSync(nsFd, fn)),
    )
  } catch (err) {
    closeSync(nsFd)
    throw err
  }
  const ctx: HandleContext = { sock, nsFd, netns: options.netns }
  const inode = fstatSync(nsFd).ino
  let closed = false
  let diag: SockDiagSocket | undefined
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  let conntrack: ConntrackSocket | undefined
  const watches: ConntrackWatch[] = []
  // Opened on first use, inside the handle's namespace.
  const ctSocket = (): ConntrackSocket => {
    if (closed) throw new NetlinkError(ERR_HANDLE_CLOSED, 'conntrack: the netlink handle is closed')
    conntrack ??= withNetnsFdSync(nsFd, () => new ConntrackSocket(timeoutMs, (fn) => withNetnsFdSync(nsFd, fn)))
    return conntrack
  }
  return {
    netns: options.netns,
    inode,
    nsPath: options.netns ?? `/proc/self/fd/${nsFd}`,
    listLinks: () => listLinks(ctx),
    getLink: (ref) => getLink(ctx, ref),
    findLink: (name) => findLink(ctx, name),
    createBridge: (name, opts) => createBridge(ctx, name, opts),
    createVeth: (name, peer, opts) => createVeth(ctx, name, peer, opts),
    setAlias: (name, alias) => setAlias(ctx, name, alias),
    setLinkUp: (name, up) => setLinkUp(ctx, name, up),
    setMtu: (name, mtu) => setMtu(ctx, name, mtu),
    setMac: (name, mac) => setMac(ctx, name, mac),
    setMaster: (name, master) => setMaster(ctx, name, master),
    renameLink: (name, newName) => renameLink(ctx, name, newName),
    moveLink: (name, path) => moveLink(ctx, name, path),
    setHairpin: (name, on) => setHairpin(ctx, name, on),
    deleteLink: (name) => deleteLink(ctx, name),
    listAddresses: (name) => listAddresses(ctx, name),
    addAddress: (name, cidr, opts) => addAddress(ctx, name, cidr, opts),
    deleteAddress: (name, cidr) => deleteAddress(ctx, name, cidr),
    listRoutes: (family) => listRoutes(ctx, family),
    addRoute: (spec) => addRoute(ctx, spec),
    deleteRoute: (spec) => deleteRoute(ctx, spec),
    boundPorts: (proto) => {
      diag ??= withNetnsFdSync(nsFd, () => new SockDiagSocket(timeoutMs))
      return diag.boundPorts(proto)
    },
    listConntrack: async () => ctSocket().list(),
    flushConntrack: async (matches) => ctSocket().flush(matches),
    watchConntrack: (tracked) => {
      if (closed) throw new NetlinkError(ERR_HANDLE_CLOSED, 'conntrack: the netlink handle is closed')
      const eventsOn = (): boolean => {
        try {
          return readSysctl(ctx, 'net/netfilter/nf_conntrack_events') !== '0'
        } catch {
          return false // no conntrack here: nothing to know
        }
      }
      const w = withNetnsFdSync(nsFd, () => watchConntrack(tracked, () => ctSocket().list(), eventsOn, timeoutMs))
      watches.push(w)
      return w
    },
    writeSysctl: (key, value) => writeSysctl(ctx, key, value),
    readSysctl: (key) => readSysctl(ctx, key),
    close: () => {
      if (closed) return
      closed = true
      sock.close()
      diag?.close()
      conntrack?.close()
      for (const w of watches) w.close()
      closeSync(nsFd)
    },
  }
}
