import { closeSync, constants, openSync } from 'node:fs'
import { hasErrorCode } from '@cnm/driverapi'
import type { HandleContext } from './context.js'
import { ERR_INVALID_ALIAS, ERR_INVALID_MTU, kernelError, NetlinkError } from './errors.js'
import { validateInterfaceName } from './interface-name.js'
import { bridgePortHairpinInfo, linkInfo, parseLinkInfo, vethLinkInfo } from './link-info.js'
import { formatMac, parseMac } from './mac.js'
import { validateNetnsPath } from './namespace.js'
import { type LinkMessage, NLM_F, RTM, rt } from './rtnl-socket.js'

/** A link as the kernel reports it. */
export interface Link {
  /** The ifindex: unique within the link's namespace. */
  index: number
  /** The interface name (1-15 bytes). */
  name: string
  /** `bridge`, `veth`, … (undefined for devices without IFLA_INFO_KIND, such as `lo`). */
  kind: string | undefined
  /** The MTU in bytes. */
  mtu: number
  /** The MAC address (`02:42:ac:11:00:02`); undefined for devices without one. */
  mac: string | undefined
  /** IFF_UP: administratively up (`setLinkUp`). */
  up: boolean
  /**
   * IFF_RUNNING: operationally up (carrier, and the kernel's link watch has processed it: a veth
   * whose peer is up, a bridge port that now forwards).
   */
  running: boolean
  /** Index of the bridge this link is a port of. */
  master: number | undefined
  /** For a bridge port: whether hairpin mode is on. */
  hairpin: boolean | undefined
  /**
   * For a bridge port: its state (`BR_STATE_*`: 0 disabled, 1 listening, 2 learning, 3 forwarding,
   * 4 blocking); it drops what arrives until forwarding.
   */
  bridgePortState: number | undefined
  /** IFLA_IFALIAS: cnm marks the links it creates with it. */
  alias: string | undefined
  /** IFLA_GROUP: set at creation, in the same request (0 is the default group). */
  group: number
  /**
   * IFLA_LINK: the index of the link this one is tied to; for a veth, its peer's (in the peer's
   * namespace, which may be another one). Undefined when the kernel reports none.
   */
  linkIndex: number | undefined
}

const NEW = NLM_F.REQUEST | NLM_F.ACK
const CREATE = NEW | NLM_F.CREATE | NLM_F.EXCL

function toLink(m: LinkMessage): Link {
  const info = parseLinkInfo(m.attrs.linkinfo)
  return {
    index: m.data.index ?? 0,
    name: m.attrs.ifname ?? '',
    kind: info.kind,
    mtu: m.attrs.mtu ?? 0,
    mac: formatMac(m.attrs.address),
    up: m.data.flags?.up === true,
    running: m.data.flags?.running === true,
    master: m.attrs.master || undefined,
    hairpin: info.hairpin,
    bridgePortState: info.bridgePortState,
    alias: m.attrs.ifalias || undefined,
    group: m.attrs.group ?? 0,
    linkIndex: m.attrs.link && m.attrs.link.length >= 4 ? m.attrs.link.readUInt32LE(0) || undefined : undefined,
  }
}

function validateMtu(mtu: number | undefined, name: string): void {
  if (mtu === undefined) return
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new NetlinkError(ERR_INVALID_MTU, `invalid MTU ${mtu} for ${name}: expected an integer 68–65535`)
  }
}

/**
 * IFLA_EXT_MASK with RTEXT_FILTER_SKIP_STATS: the kernel leaves out a link's counters (two blocks
 * of ~200 bytes and their parse, more than half the cost of reading a link back), which a `Link`
 * does not carry.
 */
function skipStats(): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(rt.formatRtExtFilter({ skipStats: true }))
  return b
}

/** Every link in the handle's namespace. */
export async function listLinks(ctx: HandleContext): Promise<Link[]> {
  const msgs = await ctx.sock.request(
    RTM.GETLINK,
    NEW | NLM_F.DUMP,
    (o) => rt.formatLinkMessage({ kind: 'link', data: {}, attrs: { extMask: skipStats() } }, o),
    'list links',
  )
  return msgs.filter((m): m is LinkMessage => m.kind === 'link').map(toLink)
}

/** A link by name or index; `ENODEV` when there is none. */
export async function getLink(ctx: HandleContext, ref: string | number): Promise<Link> {
  if (typeof ref === 'string') validateInterfaceName(ref)
  const data = typeof ref === 'number' ? { index: ref } : {}
  const attrs = typeof ref === 'string' ? { ifname: ref, extMask: skipStats() } : { extMask: skipStats() }
  const msgs = await ctx.sock.request(
    RTM.GETLINK,
    NEW,
    (o) => rt.formatLinkMessage({ kind: 'link', data, attrs }, o),
    `get link ${ref}`,
  )
  const m = msgs.find((x): x is LinkMessage => x.kind === 'link')
  if (!m) throw kernelError(19, `get link ${ref}`)
  return toLink(m)
}

/** A link by name, or undefined when there is none. */
export async function findLink(ctx: HandleContext, name: string): Promise<Link | undefined> {
  try {
    return await getLink(ctx, name)
  } catch (err) {
    if (hasErrorCode(err, 'ENODEV')) return undefined
    throw err
  }
}

/** Creates a bridge (with a fixed MAC so it does not take its first port's), returns it. */
export async function createBridge(
  ctx: HandleContext,
  name: string,
  opts: { mac?: string; mtu?: number; alias?: string; group?: number } = {},
): Promise<Link> {
  validateInterfaceName(name)
  validateMtu(opts.mtu, name)
  validateAlias(opts.alias)
  const address = opts.mac === undefined ? undefined : parseMac(opts.mac)
  const attrs = {
    ifname: name,
    linkinfo: linkInfo('bridge'),
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(address ? { address } : {}),
    ...(opts.mtu ? { mtu: opts.mtu } : {}),
  }
  await ctx.sock.request(
    RTM.NEWLINK,
    CREATE,
    (o) => rt.formatLinkMessage({ kind: 'link', data: {}, attrs }, o),
    `create bridge ${name}`,
  )
  return afterCreate(ctx, name, opts.alias)
}

/** Options for `createVeth` (a handle's `createVeth`). */
export interface VethOptions {
  /** Bind the peer in this namespace (a bound file), born there under its final name. */
  peerNetns?: string
  mtu?: number
  mac?: string
  peerMac?: string
  /** IFLA_IFALIAS for the host end (set right after creation). */
  alias?: string
  /** IFLA_GROUP for the host end, set in the creating request itself. */
  group?: number
  /** Make the host end a port of this bridge (its index) in the creating request itself. */
  master?: number
  /** Bring the host end up in the creating request itself. */
  up?: boolean
}

/** Creates a veth pair `name` ↔ `peerName`, the peer optionally born in another namespace. */
export async function createVeth(
  ctx: HandleContext,
  name: string,
  peerName: string,
  opts: VethOptions = {},
): Promise<Link> {
  validateInterfaceName(name)
  validateInterfaceName(peerName)
  validateMtu(opts.mtu, name)
  validateAlias(opts.alias)
  if (opts.peerNetns !== undefined) validateNetnsPath(opts.peerNetns)
  const mac = opts.mac === undefined ? undefined : parseMac(opts.mac)
  const peerMac = opts.peerMac === undefined ? undefined : parseMac(opts.peerMac)
  const fd = opts.peerNetns === undefined ? undefined : openNetnsFd(opts.peerNetns, `create veth ${name}`)
  try {
    const info = vethLinkInfo({
      name: peerName,
      ...(fd !== undefined ? { netnsFd: fd } : {}),
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
      ...(peerMac ? { mac: peerMac } : {}),
    })
    const attrs = {
      ifname: name,
      linkinfo: info,
      ...(opts.group !== undefined ? { group: opts.group } : {}),
      ...(opts.master !== undefined ? { master: opts.master } : {}),
      ...(mac ? { address: mac } : {}),
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
    }
    const what = `create veth ${name} peer ${peerName}${opts.peerNetns ? ` in ${opts.peerNetns}` : ''}`
    const data = opts.up ? { flags: { up: true as const }, change: { up: true as const } } : {}
    await ctx.sock.request(RTM.NEWLINK, CREATE, (o) => rt.formatLinkMessage({ kind: 'link', data, attrs }, o), what)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
  return afterCreate(ctx, name, opts.alias)
}

function openNetnsFd(path: string, what: string): number {
  try {
    return openSync(path, constants.O_RDONLY)
  } catch (cause) {
    throw kernelError(Math.abs((cause as NodeJS.ErrnoException).errno ?? 2), `${what}: open ${path}`, cause)
  }
}

/**
 * Changes a link, found by name in the same request (the kernel looks up IFLA_IFNAME when the
 * index is 0), so a change costs one round trip. A rename must name the link by index instead.
 */
async function setLink(
  ctx: HandleContext,
  name: string,
  what: string,
  data: LinkMessage['data'],
  attrs: LinkMessage['attrs'],
): Promise<void> {
  validateInterfaceName(name)
  const byIndex = attrs.ifname !== undefined
  const index = byIndex ? (await getLink(ctx, name)).index : 0
  const payload: LinkMessage = {
    kind: 'link',
    data: { index, ...data },
    attrs: byIndex ? attrs : { ifname: name, ...attrs },
  }
  await ctx.sock.request(RTM.NEWLINK, NEW, (o) => rt.formatLinkMessage(payload, o), `${what} ${name}`)
}

/** Sets the alias of a link just created and reads it back; on failure the link is deleted again. */
async function afterCreate(ctx: HandleContext, name: string, alias: string | undefined): Promise<Link> {
  try {
    if (alias !== undefined) await setAlias(ctx, name, alias)
    return await getLink(ctx, name)
  } catch (err) {
    await deleteLink(ctx, name).catch(() => undefined)
    throw err
  }
}

function validateAlias(alias: string | undefined): void {
  if (alias !== undefined && (typeof alias !== 'string' || Buffer.byteLength(alias) > 255 || alias.includes('\0'))) {
    throw new NetlinkError(ERR_INVALID_ALIAS, `invalid interface alias ${JSON.stringify(alias)}: at most 255 bytes`)
  }
}

/** Sets a link's alias (IFLA_IFALIAS), which cnm uses to mark what it created. */
export function setAlias(ctx: HandleContext, name: string, alias: string): Promise<void> {
  validateAlias(alias)
  return setLink(ctx, name, 'set alias on', {}, { ifalias: alias })
}

/** Brings a link up or down. */
export function setLinkUp(ctx: HandleContext, name: string, up = true): Promise<void> {
  return setLink(ctx, name, up ? 'set up' : 'set down', { flags: up ? { up: true } : {}, change: { up: true } }, {})
}

/** Sets a link's MTU. */
export function setMtu(ctx: HandleContext, name: string, mtu: number): Promise<void> {
  validateMtu(mtu, name)
  return setLink(ctx, name, `set mtu ${mtu} on`, {}, { mtu })
}

/** Sets a link's MAC address. */
export function setMac(ctx: HandleContext, name: string, mac: string): Promise<void> {
  const address = parseMac(mac)
  return setLink(ctx, name, `set mac ${mac} on`, {}, { address })
}

/** Makes `name` a port of bridge `master`, or frees it with `null`. */
export async function setMaster(ctx: HandleContext, name: string, master: string | null): Promise<void> {
  const index = master === null ? 0 : (await getLink(ctx, master)).index
  return setLink(ctx, name, master === null ? 'release' : `attach to ${master}`, {}, { master: index })
}

/** Renames a link (the kernel refuses with EBUSY while it is up). */
export function renameLink(ctx: HandleContext, name: string, newName: string): Promise<void> {
  validateInterfaceName(newName)
  return setLink(ctx, name, `rename to ${newName}`, {}, { ifname: newName })
}

/** Moves a link into the namespace bound at `netnsPath`. */
export async function moveLink(ctx: HandleContext, name: string, netnsPath: string): Promise<void> {
  validateNetnsPath(netnsPath)
  const fd = openNetnsFd(netnsPath, `move ${name}`)
  try {
    await setLink(ctx, name, `move to ${netnsPath}`, {}, { netNsFd: fd })
  } finally {
    closeSync(fd)
  }
}

/** Sets hairpin mode on a bridge port. */
export function setHairpin(ctx: HandleContext, name: string, on: boolean): Promise<void> {
  return setLink(ctx, name, `set hairpin ${on ? 'on' : 'off'} on`, {}, { linkinfo: bridgePortHairpinInfo(on) })
}

/** Deletes a link (for a veth, both ends). */
export async function deleteLink(ctx: HandleContext, name: string): Promise<void> {
  validateInterfaceName(name)
  const msg = { kind: 'link' as const, data: {}, attrs: { ifname: name } }
  // On the thread pool: the kernel waits inside the request for the device's last users (~20 ms).
  await ctx.sock.requestOffLoop(RTM.DELLINK, NEW, (o) => rt.formatLinkMessage(msg, o), `delete link ${name}`)
}
