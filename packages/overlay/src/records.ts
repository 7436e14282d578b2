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
  ipv4: string
  mac: string
  options: { ipv4Address?: string; macAddress?: string }
}

export function networkRecord(net: NetworkState): OverlayNetworkRecord {
  return { version: 1, id: net.id, options: configOptions(net.config), vni: net.vni }
}

export function endpointRecord(ep: EndpointState): OverlayEndpointRecord {
  const { ipv4Address, macAddress } = ep.config
  return {
    version: 1,
    id: ep.id,
    hostVeth: ep.hostVeth,
    linkName: ep.linkName,
    ifName: ep.ifName,
    sandboxKey: ep.sandboxKey,
    ...(ep.joinedKey !== undefined ? { joinedKey: ep.joinedKey } : {}),
    ipv4: ep.ipv4,
    mac: ep.mac,
    options: { ...(ipv4Address ? { ipv4Address } : {}), ...(macAddress ? { macAddress } : {}) },
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
  const strings = [raw.hostVeth, raw.linkName, raw.ifName, raw.sandboxKey, raw.ipv4, raw.mac]
  if (strings.some((s) => typeof s !== 'string')) throw bad('endpoint', eid)
  if (raw.joinedKey !== undefined && typeof raw.joinedKey !== 'string') throw bad('endpoint', eid)
  return raw as unknown as OverlayEndpointRecord
}
