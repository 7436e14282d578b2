import { InvalidConfigError, ipamToText, type NetworkIpamText } from '@cnm/driverapi'
import { configIpam, configOptions } from './network-config.js'
import type { EndpointState, NetworkState } from './state.js'

/** What a store keeps of a macvlan network to restore it later (JSON). */
export interface MacvlanNetworkRecord {
  version: 1
  id: string
  /** The validated options, in the form `createNetwork` takes (`parent`, `macvlan_mode`, …). */
  options: Record<string, unknown>
  /** The addresses (`ipamToText`); absent in older records, whose options hold them (`addressIPv4`, …). */
  ipam?: NetworkIpamText
  /** The parent's name (`eth1.20`, `eth1`). */
  parent: string
  mode: string
  /** Whether the VLAN sub-interface was created with the network (`true`) or adopted. */
  createdVlan: boolean
}

/** What a store keeps of a macvlan endpoint to restore it later (JSON). */
export interface MacvlanEndpointRecord {
  version: 1
  id: string
  /** The name the link was born with, and the one the sandbox gives it. */
  linkName: string
  ifName: string
  /** Where the link was born (`''`: the host namespace) and the sandbox it joined, if another. */
  sandboxKey: string
  joinedKey?: string
  ipv4?: string
  ipv6?: string
  mac: string
  options: { ipv4Address?: string; ipv6Address?: string; macAddress?: string }
}

export function networkRecord(net: NetworkState): MacvlanNetworkRecord {
  return {
    version: 1,
    id: net.id,
    options: configOptions(net.config),
    ipam: ipamToText(configIpam(net.config)),
    parent: net.config.parent.name,
    mode: net.config.mode,
    createdVlan: net.createdVlan,
  }
}

export function endpointRecord(ep: EndpointState): MacvlanEndpointRecord {
  const { ipv4Address, ipv6Address, macAddress } = ep.config
  return {
    version: 1,
    id: ep.id,
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
const optString = (v: unknown): boolean => v === undefined || typeof v === 'string'

function bad(what: string, id: string): InvalidConfigError {
  return new InvalidConfigError(`${what} record for ${id} is not a macvlan driver record`)
}

/** Checks the shape of a network record from a store (opaque JSON until here). */
export function parseNetworkRecord(nid: string, raw: unknown): MacvlanNetworkRecord {
  if (!isObject(raw) || raw.version !== 1 || raw.id !== nid || !isObject(raw.options)) throw bad('network', nid)
  if (typeof raw.parent !== 'string' || typeof raw.mode !== 'string' || typeof raw.createdVlan !== 'boolean') {
    throw bad('network', nid)
  }
  return raw as unknown as MacvlanNetworkRecord
}

/** Checks the shape of an endpoint record from a store. */
export function parseEndpointRecord(eid: string, raw: unknown): MacvlanEndpointRecord {
  if (!isObject(raw) || raw.version !== 1 || raw.id !== eid || !isObject(raw.options)) throw bad('endpoint', eid)
  const strings = [raw.linkName, raw.ifName, raw.sandboxKey, raw.mac]
  if (strings.some((s) => typeof s !== 'string')) throw bad('endpoint', eid)
  if (![raw.joinedKey, raw.ipv4, raw.ipv6].every(optString)) throw bad('endpoint', eid)
  return raw as unknown as MacvlanEndpointRecord
}
