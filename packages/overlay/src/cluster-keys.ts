import type { ClusterContext } from '@cnm/driverapi'
import { tryParseAddress } from '@cnm/ip'

/**
 * Where the overlay driver keeps its cluster-wide records, under the cluster's prefix:
 *
 * - `overlay/networks/<nid>` → `{"vni":N}` (no lease: the network outlives its hosts)
 * - `overlay/vnis/<vni>` → `<nid>` (the VNI's owner; written with the network key in one transaction)
 * - `overlay/endpoints/<nid>/<eid>` → an {@link EndpointRecord}, bound to its host's lease
 *
 * An endpoint's address claim is the cluster's shared one (`ipam/<nid>/<ip>`, `addressClaimKey` of
 * `@cnm/driverapi`), written in the same transaction as the endpoint's record.
 */
export function overlayPrefix(c: Pick<ClusterContext, 'prefix'>): string {
  return `${c.prefix}overlay/`
}

export const networkKey = (c: Pick<ClusterContext, 'prefix'>, nid: string): string =>
  `${overlayPrefix(c)}networks/${nid}`
export const vnisPrefix = (c: Pick<ClusterContext, 'prefix'>): string => `${overlayPrefix(c)}vnis/`
export const vniKey = (c: Pick<ClusterContext, 'prefix'>, vni: number): string => `${vnisPrefix(c)}${vni}`
export const endpointsPrefix = (c: Pick<ClusterContext, 'prefix'>, nid: string): string =>
  `${overlayPrefix(c)}endpoints/${nid}/`
export const endpointKey = (c: Pick<ClusterContext, 'prefix'>, nid: string, eid: string): string =>
  `${endpointsPrefix(c, nid)}${eid}`

/** What every host learns of an endpoint: where its MAC lives (the VTEP) and its address. */
export interface EndpointRecord {
  host: string
  vtep: string
  mac: string
  /** Absent on an IPv6-only network. */
  ipv4?: string
  /** On a dual-stack or IPv6-only network. */
  ipv6?: string
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/u

/** Parses an endpoint record from the store; undefined for anything malformed (never programmed). */
export function parseEndpointRecordValue(value: string): EndpointRecord | undefined {
  let raw: unknown
  try {
    raw = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof raw !== 'object' || raw === null) return undefined
  const r = raw as Record<string, unknown>
  if (typeof r.host !== 'string' || typeof r.vtep !== 'string' || typeof r.mac !== 'string') return undefined
  if (!MAC.test(r.mac) || (r.ipv4 === undefined && r.ipv6 === undefined)) return undefined
  if (r.ipv4 !== undefined && (typeof r.ipv4 !== 'string' || !IPV4.test(r.ipv4))) return undefined
  if (r.ipv6 !== undefined && (typeof r.ipv6 !== 'string' || tryParseAddress(r.ipv6)?.family !== 6)) return undefined
  return {
    host: r.host,
    vtep: r.vtep,
    mac: r.mac,
    ...(typeof r.ipv4 === 'string' ? { ipv4: r.ipv4 } : {}),
    ...(typeof r.ipv6 === 'string' ? { ipv6: r.ipv6 } : {}),
  }
}

/** The network record's VNI, or undefined when malformed. */
export function parseNetworkRecordValue(value: string): number | undefined {
  try {
    const vni = (JSON.parse(value) as { vni?: unknown }).vni
    return typeof vni === 'number' && Number.isInteger(vni) ? vni : undefined
  } catch {
    return undefined
  }
}
