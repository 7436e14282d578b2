import { closeSync, constants, openSync } from 'node:fs'
import { ERR_INVALID_ALIAS, ERR_INVALID_MTU, kernelError, NetlinkError } from './errors.js'
import type { Handle } from './handle.js'
import { validateInterfaceName } from './interface-name.js'
import {
  type KindData,
  type MacvlanMode,
  macvlanLinkInfo,
  parseKindData,
  VLAN_ID_MAX,
  VLAN_ID_MIN,
  vlanLinkInfo,
} from './link-kinds.js'
import type { Link } from './links.js'
import { formatMac, parseMac } from './mac.js'
import { withNetnsSync } from './namespace.js'
import { type LinkMessage, NLM_F, RTM, RtnlSocket, rt } from './rtnl-socket.js'

/**
 * Options of a typed link (macvlan, VLAN, VXLAN, dummy) that cannot be sent: a bad link group, a
 * parent ifindex that is not a positive integer, a VLAN id outside 1-4094, and the like; the message
 * names the link and the value. Kind `invalid`.
 */
export const ERR_INVALID_LINK_OPTIONS = 'ERR_INVALID_LINK_OPTIONS'

/** Options for {@link createMacvlan}. */
export interface MacvlanOptions {
  /** The lower device (name or ifindex) in `host`'s namespace. */
  parent: string | number
  /** Default `bridge`. */
  mode?: MacvlanMode
  /**
   * A handle on the namespace the link is born in (IFLA_NET_NS_FD), under `name`; default: `host`'s
   * own namespace. The link is read back (and its alias set) through this handle.
   */
  target?: Handle
  /** Its MAC address (default: the kernel picks a random one). */
  mac?: string
  /** Default: the parent's MTU (the kernel refuses one above it). */
  mtu?: number
  /** IFLA_GROUP, set in the creating request itself. */
  group?: number
  /** IFLA_IFALIAS, set right after creation (the kernel ignores it in a creating request). */
  alias?: string
  /** Bring it up in the creating request itself. */
  up?: boolean
}

/** Options for {@link createVlan}. */
export interface VlanOptions {
  /** The lower device (name or ifindex) in `host`'s namespace. */
  parent: string | number
  /** The 802.1Q VLAN id, 1–4094. */
  id: number
  mtu?: number
  group?: number
  alias?: string
  up?: boolean
}

/** A link with what its kind says: the lower device's index, the macvlan mode, the VLAN id. */
export interface LinkDetails extends Link, KindData {
  /**
   * IFLA_LINK: the lower device's ifindex — in the link's own namespace, or, for a link moved or born
   * elsewhere than its parent, in the namespace the kernel's IFLA_LINK_NETNSID names.
   */
  parentIndex: number | undefined
}

const CREATE = NLM_F.REQUEST | NLM_F.ACK | NLM_F.CREATE | NLM_F.EXCL

function invalid(message: string): NetlinkError {
  return new NetlinkError(ERR_INVALID_LINK_OPTIONS, message)
}

/**
 * Runs `fn` with a short-lived rtnetlink socket created inside `handle`'s namespace (a handle does
 * not lend its own socket), closed afterwards.
 */
export async function withSocket<T>(handle: Handle, fn: (sock: RtnlSocket) => Promise<T>): Promise<T> {
  const sock = withNetnsSync(handle.nsPath, () => new RtnlSocket())
  try {
    return await fn(sock)
  } finally {
    sock.close()
  }
}

function openNsFd(path: string, what: string): number {
  try {
    return openSync(path, constants.O_RDONLY)
  } catch (cause) {
    throw kernelError(Math.abs((cause as NodeJS.ErrnoException).errno ?? 2), `${what}: open ${path}`, cause)
  }
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

export function checkCommon(name: string, opts: { mtu?: number; alias?: string; group?: number }): void {
  validateInterfaceName(name)
  if (opts.mtu !== undefined && (!Number.isInteger(opts.mtu) || opts.mtu < 68 || opts.mtu > 65535)) {
    throw new NetlinkError(ERR_INVALID_MTU, `invalid MTU ${opts.mtu} for ${name}: expected an integer 68–65535`)
  }
  if (opts.alias !== undefined && (Buffer.byteLength(opts.alias) > 255 || opts.alias.includes('\0'))) {
    throw new NetlinkError(
      ERR_INVALID_ALIAS,
      `invalid interface alias ${JSON.stringify(opts.alias)}: at most 255 bytes`,
    )
  }
  if (opts.group !== undefined && (!Number.isInteger(opts.group) || opts.group < 0 || opts.group > 0xffffffff)) {
    throw invalid(`invalid link group ${opts.group} for ${name}`)
  }
}

export async function parentIndex(host: Handle, parent: string | number): Promise<number> {
  if (typeof parent === 'number') {
    if (!Number.isInteger(parent) || parent <= 0) throw invalid(`invalid parent ifindex ${parent}`)
    return parent
  }
  return (await host.getLink(parent)).index
}

/** Sends RTM_NEWLINK from `host`'s namespace, then sets the alias and reads the link back in `where`. */
export async function newLink(
  host: Handle,
  where: Handle,
  name: string,
  attrs: LinkMessage['attrs'],
  opts: { alias?: string; up?: boolean },
  what: string,
): Promise<Link> {
  const data = opts.up ? { flags: { up: true as const }, change: { up: true as const } } : {}
  await withSocket(host, (sock) =>
    sock.request(RTM.NEWLINK, CREATE, (o) => rt.formatLinkMessage({ kind: 'link', data, attrs }, o), what),
  )
  try {
    if (opts.alias !== undefined) await where.setAlias(name, opts.alias)
    return await where.getLink(name)
  } catch (err) {
    await where.deleteLink(name).catch(() => undefined)
    throw err
  }
}

/**
 * Creates a macvlan link `name` on `parent` (a device in `host`'s namespace), born directly in
 * `target`'s namespace when one is given (one request: IFLA_LINK + IFLA_NET_NS_FD), marked with
 * `group` in that request and with `alias` right after. Down unless `up`.
 */
export async function createMacvlan(host: Handle, name: string, opts: MacvlanOptions): Promise<Link> {
  checkCommon(name, opts)
  const mode = opts.mode ?? 'bridge'
  const info = macvlanLinkInfo(mode)
  const address = opts.mac === undefined ? undefined : parseMac(opts.mac)
  const link = await parentIndex(host, opts.parent)
  const target = opts.target
  const fd = target && target.inode !== host.inode ? openNsFd(target.nsPath, `create macvlan ${name}`) : undefined
  try {
    const attrs: LinkMessage['attrs'] = {
      ifname: name,
      link: u32(link),
      linkinfo: info,
      ...(fd !== undefined ? { netNsFd: fd } : {}),
      ...(opts.group !== undefined ? { group: opts.group } : {}),
      ...(address ? { address } : {}),
      ...(opts.mtu ? { mtu: opts.mtu } : {}),
    }
    const where = fd !== undefined ? ` in ${target?.netns ?? target?.nsPath}` : ''
    return await newLink(host, target ?? host, name, attrs, opts, `create macvlan ${name} on ${opts.parent}${where}`)
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Creates an 802.1Q VLAN sub-interface `name` with `id` on `parent`, in `host`'s namespace. */
export async function createVlan(host: Handle, name: string, opts: VlanOptions): Promise<Link> {
  checkCommon(name, opts)
  if (!Number.isInteger(opts.id) || opts.id < VLAN_ID_MIN || opts.id > VLAN_ID_MAX) {
    throw invalid(`invalid VLAN id ${opts.id} for ${name}: expected an integer ${VLAN_ID_MIN}–${VLAN_ID_MAX}`)
  }
  const link = await parentIndex(host, opts.parent)
  const attrs: LinkMessage['attrs'] = {
    ifname: name,
    link: u32(link),
    linkinfo: vlanLinkInfo(opts.id),
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(opts.mtu ? { mtu: opts.mtu } : {}),
  }
  return newLink(host, host, name, attrs, opts, `create vlan ${name} id ${opts.id} on ${opts.parent}`)
}

/** A link with its kind-specific details (macvlan mode, VLAN id, lower device); `ENODEV` when missing. */
export async function getLinkDetails(handle: Handle, ref: string | number): Promise<LinkDetails> {
  const link = await handle.getLink(ref)
  const msgs = await withSocket(handle, (sock) =>
    sock.request(
      RTM.GETLINK,
      NLM_F.REQUEST | NLM_F.ACK,
      (o) => rt.formatLinkMessage({ kind: 'link', data: { index: link.index }, attrs: {} }, o),
      `get link ${ref}`,
    ),
  )
  const m = msgs.find((x): x is LinkMessage => x.kind === 'link')
  if (!m) throw kernelError(19, `get link ${ref}`)
  const lower = m.attrs.link
  return {
    ...link,
    mac: formatMac(m.attrs.address) ?? link.mac,
    ...parseKindData(m.attrs.linkinfo),
    parentIndex: lower && lower.length >= 4 ? Buffer.from(lower).readUInt32LE(0) || undefined : undefined,
  }
}
