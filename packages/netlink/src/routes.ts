import type { HandleContext } from './context.js'
import { NetlinkError } from './errors.js'
import {
  AF_INET,
  AF_INET6,
  bytesToIp,
  ERR_INVALID_ADDRESS,
  ipFamily,
  ipToBytes,
  networkBytes,
  parsePrefixedAddress,
} from './ip-codec.js'
import { getLink } from './links.js'
import { NLM_F, type RouteMessage, RTM, rt } from './rtnl-socket.js'

const RT_TABLE_MAIN = 254
const RTPROT_BOOT = 3
const RT_SCOPE_UNIVERSE = 0
const RT_SCOPE_LINK = 253
const RTN_UNICAST = 1
const NEW = NLM_F.REQUEST | NLM_F.ACK

/** A route to add or delete: destination `default` or a CIDR, via a gateway and/or out a link. */
export interface RouteSpec {
  destination: string
  gateway?: string
  /** The link the route goes out of. */
  interfaceName?: string
}

/** A route of the main table, as the kernel reports it. */
export interface Route {
  /** The IP version. */
  family: 4 | 6
  /** `default` or a CIDR. */
  destination: string
  /** The next hop, a plain address; undefined for a directly connected route. */
  gateway: string | undefined
  /** Output link index. */
  oif: number | undefined
}

function toRoute(m: RouteMessage): Route | undefined {
  const table = m.attrs.table ?? m.data.table
  if (table !== RT_TABLE_MAIN) return undefined
  const type = m.data.type
  if (type !== undefined && type !== RTN_UNICAST && type !== 'UNICAST') return undefined
  const family = m.data.family === AF_INET6 ? 6 : 4
  const dstLen = m.data.dstLen ?? 0
  const destination = m.attrs.dst ? `${bytesToIp(m.attrs.dst)}/${dstLen}` : dstLen === 0 ? 'default' : `?/${dstLen}`
  return { family, destination, gateway: m.attrs.gateway ? bytesToIp(m.attrs.gateway) : undefined, oif: m.attrs.oif }
}

/** Unicast routes of the main table, v4 and v6 (or one family). */
export async function listRoutes(ctx: HandleContext, family?: 4 | 6): Promise<Route[]> {
  const data = family === undefined ? {} : { family: family === 4 ? AF_INET : AF_INET6 }
  const msgs = await ctx.sock.request(
    RTM.GETROUTE,
    NEW | NLM_F.DUMP,
    (o) => rt.formatRouteMessage({ kind: 'route', data, attrs: {} }, o),
    'list routes',
  )
  return msgs
    .filter((m): m is RouteMessage => m.kind === 'route')
    .map(toRoute)
    .filter((r): r is Route => r !== undefined && (family === undefined || r.family === family))
}

async function routePayload(ctx: HandleContext, spec: RouteSpec): Promise<RouteMessage> {
  const isDefault = spec.destination === 'default'
  const dst = isDefault ? undefined : parsePrefixedAddress(spec.destination)
  const gwFamily = spec.gateway === undefined ? undefined : ipFamily(spec.gateway)
  const family = dst?.family ?? gwFamily
  if (family === undefined) {
    throw new NetlinkError(ERR_INVALID_ADDRESS, 'a default route needs a gateway (or a destination CIDR)')
  }
  if (gwFamily !== undefined && gwFamily !== family) {
    throw new NetlinkError(
      ERR_INVALID_ADDRESS,
      `route ${spec.destination} via ${spec.gateway}: address families differ`,
    )
  }
  if (spec.gateway === undefined && spec.interfaceName === undefined) {
    throw new NetlinkError(ERR_INVALID_ADDRESS, `route ${spec.destination}: needs a gateway or an interface`)
  }
  const oif = spec.interfaceName === undefined ? undefined : (await getLink(ctx, spec.interfaceName)).index
  const data = {
    family,
    dstLen: dst?.prefixLength ?? 0,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_BOOT,
    scope: spec.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE,
    type: RTN_UNICAST,
  }
  const attrs = {
    ...(dst ? { dst: networkBytes(dst.bytes, dst.prefixLength) } : {}),
    ...(spec.gateway !== undefined ? { gateway: ipToBytes(spec.gateway) } : {}),
    ...(oif !== undefined ? { oif } : {}),
  }
  return { kind: 'route', data, attrs }
}

function describe(spec: RouteSpec): string {
  return `route ${spec.destination}${spec.gateway ? ` via ${spec.gateway}` : ''}${spec.interfaceName ? ` dev ${spec.interfaceName}` : ''}`
}

/** Adds a route to the main table (`EEXIST` when the same one exists). */
export async function addRoute(ctx: HandleContext, spec: RouteSpec): Promise<void> {
  const msg = await routePayload(ctx, spec)
  await ctx.sock.request(
    RTM.NEWROUTE,
    NEW | NLM_F.CREATE | NLM_F.EXCL,
    (o) => rt.formatRouteMessage(msg, o),
    `add ${describe(spec)}`,
  )
}

/** Deletes a route from the main table (`ESRCH` when there is none). */
export async function deleteRoute(ctx: HandleContext, spec: RouteSpec): Promise<void> {
  const msg = await routePayload(ctx, spec)
  await ctx.sock.request(RTM.DELROUTE, NEW, (o) => rt.formatRouteMessage(msg, o), `delete ${describe(spec)}`)
}
