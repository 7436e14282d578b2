import type { Firewall } from '@cnm/firewall'
import type { IPAllocator } from '@cnm/ipallocator'
import type { ConntrackWatch, Handle } from '@cnm/netlink'
import type { PortMapper } from '@cnm/portmapper'
import type { BridgeDriverConfig } from './driver-config.js'
import type { EndpointConfig } from './endpoint-config.js'
import type { FlushQueue } from './flush-queue.js'
import type { NetworkConfig } from './network-config.js'
import type { PublishedPort } from './publish.js'

/** What the driver shares among its networks. */
export interface DriverResources {
  /** Who the driver's links belong to (a store's id): written in their aliases. */
  owner: string
  config: BridgeDriverConfig
  /** Handle on the namespace the driver works in (the host's). */
  host: Handle
  allocator: IPAllocator
  firewall: Firewall
  /** Makes a network's port mapper (one per bridge, sharing the allocator and firewall). */
  newPortMapper: (bridge: string, holdPorts?: boolean) => PortMapper
  /** resolv.conf text, for the nameserver overlap check. */
  resolvConf: () => string
  /**
   * A deleted endpoint's veth deletion, conntrack flush and address release run after its delete
   * answered (the sole writer of its store), its addresses reserved until then; else within the delete.
   */
  deferTeardown: boolean
  /** How long a deferred flush waits before it joins the queue (unless hurried), ms. */
  flushDelayMs: number
  /** The deferred teardowns not done yet. */
  deferred: Set<DeferredTeardown>
  /**
   * With `deferTeardown`: which of the driver's addresses (and which ports) the conntrack table may
   * hold flows of, from the kernel's events, so that a flush with nothing to delete is skipped.
   */
  conntrack: ConntrackWatch | undefined
  /** Where deferred flushes run: one dump of the conntrack table for those asked meanwhile. */
  flushes: FlushQueue
  /** Told why a step of a deferred teardown failed (the steps after it ran anyway). */
  onTeardownError: (err: unknown, endpointId: string) => void
}

/** The rest of a deleted endpoint's teardown, after its delete answered, not done yet (deferred-teardown.ts). */
export interface DeferredTeardown {
  net: NetworkState
  /** The endpoint's id (its veth's name comes from it: an endpoint whose veth would have that name waits). */
  endpointId: string
  /** The endpoint's addresses (reserved in the network's pools until the flush ran). */
  addresses: readonly string[]
  /** Whether it published host ports (free again in the port allocator, their old flows not yet flushed). */
  ports: boolean
  /** Starts the flush now if it is still waiting for its delay. */
  go: () => void
  /**
   * Settles once the flush ran and the addresses are released (failures reported): after the veth's
   * deletion, or without waiting for it when the container end was parked; never rejects.
   */
  released: Promise<void>
  /** Settles once the veth is gone too; never rejects. */
  done: Promise<void>
}

/** One network: its validated options and what its setup steps decided and did. */
export interface NetworkState {
  id: string
  /** The options as given (kept for the store). */
  rawOptions: unknown
  config: NetworkConfig
  bridgeName: string
  /** The bridge's ifindex (set by the device step), so ports are attached in the creating request. */
  bridgeIndex: number | undefined
  createdBridge: boolean
  subnetV4: string | undefined
  gatewayV4: string | undefined
  bridgeCidrV4: string | undefined
  addedV4: boolean
  subnetV6: string | undefined
  gatewayV6: string | undefined
  bridgeCidrV6: string | undefined
  addedV6: boolean
  /** The second and later subnets of each family (IPv4 first), as their step set them up. */
  moreSubnets: SubnetState[]
  /** Allocator pools this network registered (keys). */
  pools: string[]
  firewallProgrammed: boolean
  /**
   * Sysctls of an adopted bridge as they were before cnm changed them (key → value), put back when
   * the network goes (`disable_ipv6`, `route_localnet`). Empty for a bridge cnm created.
   */
  priorSysctls: Record<string, string>
  portMapper: PortMapper | undefined
  endpoints: Map<string, EndpointState>
}

/** A second or later subnet on the bridge: its gateway address, and whether cnm added it. */
export interface SubnetState {
  family: 4 | 6
  /** The subnet (`10.2.0.0/24`). */
  subnet: string
  /** The gateway, a plain address (the bridge's address in the subnet). */
  gateway: string
  /** The bridge's address with the subnet's length (`10.2.0.254/24`). */
  bridgeCidr: string
  /** cnm added that address (an adopted bridge may have had it already). */
  added: boolean
}

/** One endpoint and what it holds. */
export interface EndpointState {
  id: string
  hostVeth: string
  containerVeth: string
  sandboxKey: string
  ipv4: string | undefined
  ipv6: string | undefined
  mac: string
  /** Its published ports, host side resolved. */
  ports: PublishedPort[]
  /** Its options, validated. */
  config: EndpointConfig
}

/** Context every network step reads and fills. */
export interface NetworkContext {
  res: DriverResources
  net: NetworkState
  /** Subnets used by the driver's other networks. */
  otherSubnets: string[]
  /** Restoring a recorded network: what is already in the kernel is taken as it is. */
  restoring?: boolean
  /** A restore whose record says cnm created the bridge: it has no prior sysctl values to note (nothing is read). */
  bridgeWasOurs?: boolean
  /** Set by the firewall step of a restore: some of the network's rules were missing, and put back. */
  rulesRepaired?: boolean
}
