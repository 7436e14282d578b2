import { InvalidConfigError } from '@cnm/driverapi'
import { configOptions } from './network-config.js'
import type { EndpointState, NetworkState } from './state.js'

/** What a store keeps of an overlay network to restore it later (JSON). */
export interface OverlayNetworkRecord {
  version: 1
  id: string
  /** The validated options, in the form `createNetwork` takes. */
  options: Record<string, unknown>
  /** The VNI the cluster gave the network. */
  vni: number
}

/** What a store keeps of an overlay endpoint to restore it later (JSON). */
export interface OverlayEndpointRecord {
  version: 1
  id: string
  hostVeth: string
  linkName: string
  ifName: string
  sandboxKey: string
  joinedKey?: string
  /** Absent on an IPv6-only network. */
  ipv4?: string
  /** On a dual-stack or IPv6-only network. */
  ipv6?: string
  mac: string
  options: { ipv4Address?: string; ipv6Address?: string; macAddress?: string }
}

export function networkRecord(net: NetworkState): OverlayNetworkRecord {
  return { version: 1, id: net.id, options: configOptions(net.config), vni: net.vni }
}

export function endpointRecord(ep: EndpointState): OverlayEndpointRecord {
  const { ipv4Address, ipv6Address, macAddress } = ep.config
  return {
    version: 1,
    id: ep.id,
    hostVeth: ep.hostVeth,
    linkName: ep.linkName,
    ifName: ep.ifName,
    sandboxKey: ep.sandboxKey,
    ...(ep.joinedKey !== undefined ? { joinedKey: ep.joinedKey } : {}),
    ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
    ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
    mac: ep.mac,
    options: {
      ...(ipv4Address ? { ipv4Address } : {}),
      ...(ipv6Address ? { ipv6Address } : {}),
      ...(macAddress ? { macAddress } : {}),
    },
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function bad(what: string, id: string): InvalidConfigError {
  return new InvalidConfigError(`${what} record for ${id} is not an overlay driver record`)
}

/** Checks the shape of a network record from a store (opaque JSON until here). */
export function parseNetworkRecord(nid: string, raw: unknown): OverlayNetworkRecord {
  if (!isObject(raw) || raw.version !== 1 || raw.id !== nid || !isObject(raw.options)) throw bad('network', nid)
  if (typeof raw.vni !== 'number' || !Number.isInteger(raw.vni)) throw bad('network', nid)
  return raw as unknown as OverlayNetworkRecord
}

/** Checks the shape of an endpoint record from a store. */
export function parseEndpointRecord(eid: string, raw: unknown): OverlayEndpointRecord {
  if (!isObject(raw) || raw.version !== 1 || raw.id !== eid || !isObject(raw.options)) throw bad('endpoint', eid)
  const strings = [raw.hostVeth, raw.linkName, raw.ifName, raw.sandboxKey, raw.mac]
  if (strings.some((s) => typeof s !== 'string')) throw bad('endpoint', eid)
  if (raw.ipv4 !== undefined && typeof raw.ipv4 !== 'string') throw bad('endpoint', eid)
  if (raw.ipv4 === undefined && raw.ipv6 === undefined) throw bad('endpoint', eid)
  if (raw.joinedKey !== undefined && typeof raw.joinedKey !== 'string') throw bad('endpoint', eid)
  if (raw.ipv6 !== undefined && typeof raw.ipv6 !== 'string') throw bad('endpoint', eid)
  return raw as unknown as OverlayEndpointRecord
}
