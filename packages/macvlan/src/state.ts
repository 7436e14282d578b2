import type { IPAllocator } from '@cnm/ipallocator'
import type { Handle } from '@cnm/netlink'
import type { EndpointConfig } from './endpoint-config.js'
import type { NetworkConfig } from './network-config.js'

/** What the driver shares among its networks. */
export interface DriverResources {
  /** Who the driver's links belong to (a store's id): written in their aliases. */
  owner: string
  /** Handle on the namespace the driver works in (the host's, where the parents are). */
  host: Handle
  allocator: IPAllocator
}

/** One network: its validated options and what it holds. */
export interface NetworkState {
  id: string
  config: NetworkConfig
  /** The VLAN sub-interface was created for this network (and goes with it). */
  createdVlan: boolean
  subnetV4: string | undefined
  gatewayV4: string | undefined
  subnetV6: string | undefined
  gatewayV6: string | undefined
  /** Allocator pools this network registered (keys). */
  pools: string[]
  endpoints: Map<string, EndpointState>
}

/** One endpoint: its link and the addresses it holds. */
export interface EndpointState {
  id: string
  /** The name the link was born with (the sandbox renames it to `ifName`). */
  linkName: string
  /** The name the sandbox gives it (`eth0`). */
  ifName: string
  /** Where the link was born: a sandbox key, or `''` for the host namespace. */
  sandboxKey: string
  /** The sandbox it joined, when it was born in the host namespace (the controller moves it there). */
  joinedKey: string | undefined
  ipv4: string | undefined
  ipv6: string | undefined
  mac: string
  config: EndpointConfig
}
