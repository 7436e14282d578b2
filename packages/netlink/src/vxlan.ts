import { tryParseAddress } from '@cnm/ip'
import { NetlinkError } from './errors.js'
import type { Handle } from './handle.js'
import { checkCommon, ERR_INVALID_LINK_OPTIONS, newLink, parentIndex } from './kind-links.js'
import type { Link } from './links.js'
import { parseMac } from './mac.js'
import type { LinkMessage } from './rtnl-socket.js'
import { VXLAN_PORT, VXLAN_VNI_MAX, VXLAN_VNI_MIN, vxlanLinkInfo } from './vxlan-info.js'

/** Options for {@link createVxlan}. */
export interface VxlanOptions {
  /** The VXLAN network identifier, 1–16777215. */
  vni: number
  /** The local VTEP address (the underlay address other hosts send to). */
  local?: string
  /** The underlay device (name or ifindex) in `host`'s namespace. */
  parent?: string | number
  /** UDP port, default 4789 (IANA). */
  port?: number
  /** Learn remote MACs from received frames; default false (entries are programmed instead). */
  learning?: boolean
  /** Answer ARP/ND requests from the device's neighbour entries; default false. */
  proxy?: boolean
  /** TTL of the outer packets (default: the kernel's, inherit). */
  ttl?: number
  mac?: string
  mtu?: number
  group?: number
  alias?: string
  up?: boolean
}

function invalid(message: string): NetlinkError {
  return new NetlinkError(ERR_INVALID_LINK_OPTIONS, message)
}

function checkVxlan(name: string, opts: VxlanOptions): void {
  checkCommon(name, opts)
  if (!Number.isInteger(opts.vni) || opts.vni < VXLAN_VNI_MIN || opts.vni > VXLAN_VNI_MAX) {
    throw invalid(`invalid VNI ${opts.vni} for ${name}: expected an integer ${VXLAN_VNI_MIN}–${VXLAN_VNI_MAX}`)
  }
  if (opts.port !== undefined && (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 65535)) {
    throw invalid(`invalid VXLAN port ${opts.port} for ${name}: expected 1–65535`)
  }
  if (opts.ttl !== undefined && (!Number.isInteger(opts.ttl) || opts.ttl < 0 || opts.ttl > 255)) {
    throw invalid(`invalid VXLAN TTL ${opts.ttl} for ${name}: expected 0–255`)
  }
  if (opts.local !== undefined && tryParseAddress(opts.local) === undefined) {
    throw invalid(`invalid local VTEP address ${JSON.stringify(opts.local)} for ${name}`)
  }
}

/**
 * Creates a VXLAN device `name` (VNI, local VTEP address, underlay device, UDP port; learning off
 * unless asked) in `host`'s namespace, marked with `group` in the creating request and with `alias`
 * right after. Down unless `up`.
 */
export async function createVxlan(host: Handle, name: string, opts: VxlanOptions): Promise<Link> {
  checkVxlan(name, opts)
  const address = opts.mac === undefined ? undefined : parseMac(opts.mac)
  const link = opts.parent === undefined ? undefined : await parentIndex(host, opts.parent)
  const info = vxlanLinkInfo({
    vni: opts.vni,
    port: opts.port ?? VXLAN_PORT,
    learning: opts.learning ?? false,
    proxy: opts.proxy ?? false,
    ...(opts.local !== undefined ? { local: opts.local } : {}),
    ...(link !== undefined ? { link } : {}),
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
  })
  const attrs: LinkMessage['attrs'] = {
    ifname: name,
    linkinfo: info,
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(address ? { address } : {}),
    ...(opts.mtu ? { mtu: opts.mtu } : {}),
  }
  return newLink(host, host, name, attrs, opts, `create vxlan ${name} id ${opts.vni}`)
}
