import type { ClusterContext } from '@cnm/driverapi'
import type { Firewall } from '@cnm/firewall'
import type { IPAllocator } from '@cnm/ipallocator'
import type { Handle } from '@cnm/netlink'
import type { EndpointConfig } from './endpoint-config.js'
import type { NetworkConfig } from './network-config.js'
import type { PeerTable } from './peers.js'

/** The device that carries the VXLAN packets: the one holding the advertised address. */
export interface Underlay {
  index: number
  name: string
  mtu: number
}

/** What the driver shares among its networks. */
export interface DriverResources {
  /** Who the driver's links belong to (a store's id): written in their aliases. */
  owner: string
  /** Handle on the namespace the driver works in (this host's). */
  host: Handle
  allocator: IPAllocator
  firewall: Firewall
  cluster: ClusterContext
}

/** A network's devices on this host (present while it has endpoints here). */
export interface Devices {
  bridge: string
  vxlan: string
  vxlanIndex: number
  mtu: number
  /** Whether the firewall holds the network's rules (set up by this process or found there). */
  firewall: boolean
  /** Stops following the network's endpoint records. */
  stopWatch: (() => Promise<void>) | undefined
}

/** One network: its validated options, its VNI and what it holds on this host. */
export interface NetworkState {
  id: string
  config: NetworkConfig
  vni: number
  /** The allocator pool this network registered (its subnet), while registered. */
  pool: string | undefined
  endpoints: Map<string, EndpointState>
  devices: Devices | undefined
  /** The other hosts' endpoints, as programmed on the VXLAN device. */
  peers: PeerTable
  /** Addresses of other hosts' endpoints held in this host's pool (endpoint id → address). */
  remoteIPs: Map<string, string>
}

/** One endpoint: its veth and what it holds. */
export interface EndpointState {
  id: string
  hostVeth: string
  /** The name the container side was born with (the sandbox renames it to `ifName`). */
  linkName: string
  ifName: string
  /** Where the container side was born: a sandbox key, or `''` for the host namespace. */
  sandboxKey: string
  joinedKey: string | undefined
  /** Undefined on an IPv6-only network. */
  ipv4: string | undefined
  /** On a dual-stack or IPv6-only network: the subnet's prefix and the MAC, or the address asked for. */
  ipv6: string | undefined
  mac: string
  config: EndpointConfig
}
