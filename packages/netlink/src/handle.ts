import { closeSync, constants, fstatSync, openSync } from 'node:fs'
import { addAddress, deleteAddress, type LinkAddress, listAddresses } from './addresses.js'
import { ConntrackSocket } from './conntrack.js'
import type { ConntrackEntry } from './conntrack-codec.js'
import type { ConntrackMatch } from './conntrack-match.js'
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
  listLinks(): Promise<Link[]>
  getLink(ref: string | number): Promise<Link>
  findLink(name: string): Promise<Link | undefined>
  createBridge(name: string, opts?: { mac?: string; mtu?: number; alias?: string; group?: number }): Promise<Link>
  setAlias(name: string, alias: string): Promise<void>
  createVeth(name: string, peerName: string, opts?: VethOptions): Promise<Link>
  setLinkUp(name: string, up?: boolean): Promise<void>
  setMtu(name: string, mtu: number): Promise<void>
  setMac(name: string, mac: string): Promise<void>
  setMaster(name: string, master: string | null): Promise<void>
  renameLink(name: string, newName: string): Promise<void>
  moveLink(name: string, netnsPath: string): Promise<void>
  setHairpin(name: string, on: boolean): Promise<void>
  deleteLink(name: string): Promise<void>
  listAddresses(name?: string): Promise<LinkAddress[]>
  addAddress(name: string, cidr: string, opts?: { noDad?: boolean }): Promise<void>
  deleteAddress(name: string, cidr: string): Promise<void>
  listRoutes(family?: 4 | 6): Promise<Route[]>
  addRoute(spec: RouteSpec): Promise<void>
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
  writeSysctl(key: string, value: string): void
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
    sock = withNetnsFdSync(nsFd, () => new RtnlSocket(options.timeoutMs ?? DEFAULT_TIMEOUT_MS))
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
  // Opened on first use, inside the handle's namespace.
  const ctSocket = (): ConntrackSocket => {
    if (closed) throw new NetlinkError(ERR_HANDLE_CLOSED, 'conntrack: the netlink handle is closed')
    conntrack ??= withNetnsFdSync(nsFd, () => new ConntrackSocket(timeoutMs))
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
    writeSysctl: (key, value) => writeSysctl(ctx, key, value),
    readSysctl: (key) => readSysctl(ctx, key),
    close: () => {
      if (closed) return
      closed = true
      sock.close()
      diag?.close()
      conntrack?.close()
      closeSync(nsFd)
    },
  }
}
