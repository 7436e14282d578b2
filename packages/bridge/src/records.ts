import { ipamToText, LEGACY_IPAM_KEYS, type NetworkIpamText } from '@cnm/driverapi'
import type { EndpointConfig } from './endpoint-config.js'
import type { PublishedPort } from './publish.js'
import type { EndpointState, NetworkState } from './resources.js'

/** What a store keeps of a network to restore it later (JSON). */
export interface BridgeNetworkRecord {
  id: string
  /** The options as given to `createNetwork` (older records: with the addresses' option keys). */
  options: unknown
  /** The addresses as given (`ipamToText`); absent in records of older versions. */
  ipam?: NetworkIpamText
  bridgeName: string
  createdBridge: boolean
  bridgeCidrV4: string | undefined
  addedV4: boolean
  subnetV6: string | undefined
  addedV6: boolean
  firewallProgrammed: boolean
  /**
   * The gateway addresses of the network's later subnets that cnm added to the bridge (`10.2.0.254/24`;
   * an adopted bridge keeps those it had); absent in records of older versions.
   */
  moreAdded?: string[]
  /** An adopted bridge's sysctls before cnm changed them (absent in records of older versions). */
  priorSysctls?: Record<string, string>
}

/** What a store keeps of an endpoint to restore it later (JSON). */
export interface BridgeEndpointRecord {
  id: string
  hostVeth: string
  containerVeth: string
  sandboxKey: string
  ipv4: string | undefined
  ipv6: string | undefined
  mac: string
  /** Older records have no `containerIP` in their ports: it is the endpoint's `ipv4`. */
  ports: (Omit<PublishedPort, 'containerIP'> & { containerIP?: string })[]
  options: EndpointConfig
}

export function networkRecord(net: NetworkState, options: unknown): BridgeNetworkRecord {
  return {
    id: net.id,
    options: withoutIpamKeys(options),
    ipam: ipamToText(net.config.ipam),
    bridgeName: net.bridgeName,
    createdBridge: net.createdBridge,
    bridgeCidrV4: net.bridgeCidrV4,
    addedV4: net.addedV4,
    subnetV6: net.subnetV6,
    addedV6: net.addedV6,
    firewallProgrammed: net.firewallProgrammed,
    ...(net.moreSubnets.length > 0
      ? { moreAdded: net.moreSubnets.filter((s) => s.added).map((s) => s.bridgeCidr) }
      : {}),
    priorSysctls: { ...net.priorSysctls },
  }
}

export function endpointRecord(ep: EndpointState, options: EndpointConfig): BridgeEndpointRecord {
  return {
    id: ep.id,
    hostVeth: ep.hostVeth,
    containerVeth: ep.containerVeth,
    sandboxKey: ep.sandboxKey,
    ipv4: ep.ipv4,
    ipv6: ep.ipv6,
    mac: ep.mac,
    ports: ep.ports.map((p) => ({ ...p })),
    options,
  }
}

/** Options without the old address keys (their values are in the record's `ipam`). */
function withoutIpamKeys(options: unknown): unknown {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) return options
  return Object.fromEntries(Object.entries(options).filter(([k]) => !LEGACY_IPAM_KEYS.includes(k)))
}
