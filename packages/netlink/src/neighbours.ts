import type * as NetlinkPkg from 'netlink'
import { NetlinkError } from './errors.js'
import type { Handle } from './handle.js'
import { validateInterfaceName } from './interface-name.js'
import { AF_INET, AF_INET6, bytesToIp, ipFamily, ipToBytes } from './ip-codec.js'
import { withSocket } from './kind-links.js'
import { formatMac, parseMac } from './mac.js'
import { NLM_F, type RtnlSocket, rt } from './rtnl-socket.js'

type NeighborMessage = NetlinkPkg.rt.NeighborMessage

// <linux/rtnetlink.h>, <linux/neighbour.h>
export const RTM_NEWNEIGH = 28
export const RTM_DELNEIGH = 29
export const RTM_GETNEIGH = 30
/**
 * The address family of bridge forwarding database entries (`AF_BRIDGE`, 7): the `family` of an FDB
 * neighbour request, as `bridge fdb` sends it.
 */
export const AF_BRIDGE = 7

/**
 * A neighbour or FDB entry that cannot be sent: a device ifindex that is not a positive integer,
 * or another field out of range; the message names the value (a bad MAC is `ERR_INVALID_MAC`).
 * Kind `invalid`.
 */
export const ERR_INVALID_NEIGHBOUR = 'ERR_INVALID_NEIGHBOUR'

/** A forwarding database entry (AF_BRIDGE): a MAC reachable through a device, and for VXLAN its VTEP. */
export interface FdbEntry {
  /** The device (a VXLAN device, a bridge port) the entry is on. */
  ifindex: number
  mac: string
  /** The remote VTEP (NDA_DST) of a VXLAN entry. */
  dst: string | undefined
  /** NTF_SELF: the device's own table (a VXLAN device's), not its bridge's. */
  self: boolean
  /** NTF_MASTER: the bridge's table. */
  master: boolean
  permanent: boolean
  /** VLAN id of a bridge entry, if any. */
  vlan: number | undefined
}

/** A neighbour (ARP/NDP) entry: an IP address's MAC on a device. */
export interface NeighbourEntry {
  ifindex: number
  family: 4 | 6
  ip: string
  mac: string | undefined
  permanent: boolean
  /** NTF_PROXY entries (proxy ARP/ND). */
  proxy: boolean
}

const NEW = NLM_F.REQUEST | NLM_F.ACK

function invalid(message: string): NetlinkError {
  return new NetlinkError(ERR_INVALID_NEIGHBOUR, message)
}

async function indexOf(handle: Handle, dev: string | number): Promise<number> {
  if (typeof dev === 'number') {
    if (!Number.isInteger(dev) || dev <= 0) throw invalid(`invalid ifindex ${dev}`)
    return dev
  }
  return (await handle.getLink(dev)).index
}

function createFlags(replace: boolean | undefined): number {
  return NEW | NLM_F.CREATE | (replace ? NLM_F.REPLACE : NLM_F.EXCL)
}

function send(
  sock: RtnlSocket,
  type: number,
  flags: number,
  data: NetlinkPkg.rt.Neighbor,
  attrs: NetlinkPkg.rt.NeighborAttrs,
  what: string,
): Promise<NetlinkPkg.rt.Message[]> {
  return sock.request(type, flags, (o) => rt.formatNeighborMessage({ kind: 'neighbor', data, attrs }, o), what)
}

/** Options of {@link addFdbEntry}. */
export interface FdbEntrySpec {
  mac: string
  /** The remote VTEP address (VXLAN devices). */
  dst?: string
  /** Replace an entry for the same MAC (a MAC that moved to another VTEP) instead of EEXIST. */
  replace?: boolean
}

function checkFdb(dev: string | number, spec: FdbEntrySpec): { mac: Buffer; dst: Buffer | undefined } {
  if (typeof dev === 'string') validateInterfaceName(dev)
  const mac = parseMac(spec.mac)
  return { mac, dst: spec.dst === undefined ? undefined : ipToBytes(spec.dst) }
}

/**
 * Adds a static FDB entry to `dev`'s own table (NTF_SELF, NUD_PERMANENT): `bridge fdb add MAC dev
 * DEV dst DST self permanent`. EEXIST when the MAC has an entry, unless `replace`.
 */
export async function addFdbEntry(handle: Handle, dev: string | number, spec: FdbEntrySpec): Promise<void> {
  const { mac, dst } = checkFdb(dev, spec)
  await withSocket(handle, async (sock) => {
    const ifindex = await indexOf(handle, dev)
    const what = `add fdb entry ${spec.mac}${spec.dst ? ` dst ${spec.dst}` : ''} on ${dev}`
    await send(
      sock,
      RTM_NEWNEIGH,
      createFlags(spec.replace),
      { family: AF_BRIDGE, ifindex, state: { permanent: true }, flags: { self: true } },
      { lladdr: mac, ...(dst ? { dst } : {}) },
      what,
    )
  })
}

/** Deletes `dev`'s own FDB entry for `mac` (and `dst`, when the MAC has several); ENOENT when missing. */
export async function deleteFdbEntry(
  handle: Handle,
  dev: string | number,
  spec: Omit<FdbEntrySpec, 'replace'>,
): Promise<void> {
  const { mac, dst } = checkFdb(dev, spec)
  await withSocket(handle, async (sock) => {
    const ifindex = await indexOf(handle, dev)
    await send(
      sock,
      RTM_DELNEIGH,
      NEW,
      { family: AF_BRIDGE, ifindex, flags: { self: true } },
      { lladdr: mac, ...(dst ? { dst } : {}) },
      `delete fdb entry ${spec.mac} on ${dev}`,
    )
  })
}

function toFdb(m: NeighborMessage): FdbEntry {
  const vlan = m.attrs.vlan
  return {
    ifindex: m.data.ifindex ?? 0,
    mac: formatMac(m.attrs.lladdr) ?? '',
    dst: m.attrs.dst && (m.attrs.dst.length === 4 || m.attrs.dst.length === 16) ? bytesToIp(m.attrs.dst) : undefined,
    self: m.data.flags?.self === true,
    master: m.data.flags?.master === true,
    permanent: m.data.state?.permanent === true,
    vlan: vlan === undefined ? undefined : vlan,
  }
}

async function dump(handle: Handle, family: number, what: string): Promise<NeighborMessage[]> {
  const msgs = await withSocket(handle, (sock) => send(sock, RTM_GETNEIGH, NEW | NLM_F.DUMP, { family }, {}, what))
  return msgs.filter((m): m is NeighborMessage => m.kind === 'neighbor')
}

/** Every FDB entry in the namespace (bridges' and devices' own), or only `dev`'s. */
export async function listFdbEntries(handle: Handle, dev?: string | number): Promise<FdbEntry[]> {
  const ifindex = dev === undefined ? undefined : await indexOf(handle, dev)
  const all = (await dump(handle, AF_BRIDGE, 'list fdb entries')).map(toFdb)
  return ifindex === undefined ? all : all.filter((e) => e.ifindex === ifindex)
}

/** Options of {@link addNeighbour}. */
export interface NeighbourSpec {
  ip: string
  mac: string
  /** Replace an existing entry for the address (NLM_F_REPLACE) instead of EEXIST. */
  replace?: boolean
}

/**
 * Adds a permanent neighbour entry (IP → MAC) on `dev`: `ip neigh add IP lladdr MAC dev DEV nud
 * permanent`. On a VXLAN device with proxy on, the device answers ARP/ND for it.
 */
export async function addNeighbour(handle: Handle, dev: string | number, spec: NeighbourSpec): Promise<void> {
  if (typeof dev === 'string') validateInterfaceName(dev)
  const family = ipFamily(spec.ip)
  const dst = ipToBytes(spec.ip)
  const mac = parseMac(spec.mac)
  await withSocket(handle, async (sock) => {
    const ifindex = await indexOf(handle, dev)
    await send(
      sock,
      RTM_NEWNEIGH,
      createFlags(spec.replace),
      { family, ifindex, state: { permanent: true } },
      { dst, lladdr: mac },
      `add neighbour ${spec.ip} lladdr ${spec.mac} on ${dev}`,
    )
  })
}

/** Deletes the neighbour entry for `ip` on `dev`; ENOENT when there is none. */
export async function deleteNeighbour(handle: Handle, dev: string | number, ip: string): Promise<void> {
  if (typeof dev === 'string') validateInterfaceName(dev)
  const family = ipFamily(ip)
  const dst = ipToBytes(ip)
  await withSocket(handle, async (sock) => {
    const ifindex = await indexOf(handle, dev)
    await send(sock, RTM_DELNEIGH, NEW, { family, ifindex }, { dst }, `delete neighbour ${ip} on ${dev}`)
  })
}

/** The namespace's neighbour entries (IPv4 and IPv6), or only `dev`'s. */
export async function listNeighbours(handle: Handle, dev?: string | number): Promise<NeighbourEntry[]> {
  const ifindex = dev === undefined ? undefined : await indexOf(handle, dev)
  const out: NeighbourEntry[] = []
  for (const family of [AF_INET, AF_INET6]) {
    for (const m of await dump(handle, family, 'list neighbours')) {
      if (m.data.family !== family || !m.attrs.dst) continue
      if (ifindex !== undefined && m.data.ifindex !== ifindex) continue
      out.push({
        ifindex: m.data.ifindex ?? 0,
        family: family === AF_INET ? 4 : 6,
        ip: bytesToIp(m.attrs.dst),
        mac: formatMac(m.attrs.lladdr),
        permanent: m.data.state?.permanent === true,
        proxy: m.data.flags?.proxy === true,
      })
    }
  }
  return out
}
