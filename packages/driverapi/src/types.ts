import type { ClusterContext } from './cluster.js'
import type { NetworkIpam } from './ipam.js'

/** One network interface a driver hands to a sandbox. Addresses are CIDR strings (`172.18.0.2/16`). */
export interface Interface {
  /** The interface's name where the driver created it (host side, or already in the sandbox). */
  srcName: string
  /** The name it must have inside the sandbox (`eth0`). */
  dstName: string
  /**
   * Its IPv4 address in CIDR form (`10.20.0.2/24`); absent on an IPv6-only network or a driver that
   * gives none.
   */
  address?: string
  /** Its IPv6 address in CIDR form (`fd00:20::2/64`); absent when the network has no IPv6. */
  addressIPv6?: string
  /** The MAC address to set (`02:42:0a:14:00:02`); absent: keep the kernel's. */
  macAddress?: string
  /** The MTU in bytes (68-65535); absent: keep the link's. */
  mtu?: number
}

/** A route the sandbox must install, besides its default gateways. */
export interface StaticRoute {
  /** Destination as a CIDR. */
  destination: string
  /** Next hop address; absent for a directly connected route. */
  nextHop?: string
  /** The interface (its `dstName`) the route goes through. */
  interfaceName?: string
}

/** What a driver returns from `createEndpoint`: what the sandbox must configure. */
export interface SandboxInfo {
  /** The interfaces to add to the sandbox; empty for a driver that gives none (`null`). */
  interfaces: Interface[]
  /** The IPv4 default gateway the sandbox should route through (a plain address), if any. */
  gateway?: string
  /** The IPv6 default gateway (a plain address), if any. */
  gatewayIPv6?: string
  /** More routes to install in the sandbox, after its interface and gateways. */
  staticRoutes?: StaticRoute[]
}

/** A transport protocol a port can be published for. */
export type TransportProtocol = 'tcp' | 'udp' | 'sctp'

/**
 * A port to publish, as a user asks for it (libnetwork's `types.PortBinding`): a container port or
 * range, on a host address (absent: every address) and a host port or range (absent or 0: any free
 * one). The one type from the CLI and REST parsers through the drivers to the port mapper.
 */
export interface PortBinding {
  /** The transport protocol. */
  proto: TransportProtocol
  /** The container port (1-65535), or the first of a range. */
  containerPort: number
  /** The last container port of a range (absent: `containerPort` alone). */
  containerPortEnd?: number
  /** Host address, canonical text (absent: every address). */
  hostIP?: string
  /** Host port (absent or 0: any free one). */
  hostPort?: number
  /**
   * The last host port of a range; the host range must be as long as the container range, or a range
   * of candidates for a single container port.
   */
  hostPortEnd?: number
}

/** A {@link PortBinding} as published: every side resolved (the host address and ports really used). */
export interface PublishedPort {
  /** The transport protocol. */
  proto: TransportProtocol
  /** The container's address the port is forwarded to. */
  containerIP: string
  /** The first container port. */
  containerPort: number
  /** The last container port (`containerPort` for a single port). */
  containerPortEnd: number
  /** The host address it is published on (`0.0.0.0` or `::` for every address). */
  hostIP: string
  /** The first host port really used. */
  hostPort: number
  /** The last host port really used (`hostPort` for a single port). */
  hostPortEnd: number
}

/** Where a driver's networks live: one host (`local`) or a cluster (`global`). */
export type DriverScope = 'local' | 'global'

/** What a driver has, so that a controller or a front end can decide without knowing its name. */
export interface DriverCapabilities {
  /** Where the driver's networks live: `local` (this host's store) or `global` (the cluster's). */
  scope: DriverScope
  /** Whether endpoints take `portBindings` (published ports). */
  publishesPorts: boolean
  /** Whether a network needs a parent interface on the host (`parent=eth1`). */
  needsParent: boolean
  /**
   * A global-scope driver that claims its endpoints' addresses in the cluster itself (under
   * `addressClaimKey`, in the transaction that publishes the endpoint): the controller then
   * claims nothing for it, so every address has one owner. Default false (the controller claims).
   */
  claimsAddresses?: boolean
  /**
   * Whether `createEndpoint` with a sandbox key takes the endpoint option `interfaceName`: the
   * container's interface is born inside the sandbox under that name (refused with
   * `ERR_INTERFACE_EXISTS` when the namespace has it) instead of the first free `ethN`.
   */
  namesInterfaces?: boolean
  /**
   * Whether `deleteEndpoint` takes an endpoint whose interface is already gone, deleted inside its
   * sandbox (a veth goes with its peer). The controller then deletes a leaving endpoint's interface
   * where it is when the endpoint goes next (a disconnect, an endpoint deleted while joined)
   * instead of moving it back to the host first: a move between namespaces costs the kernel as
   * much as the deletion (~20 ms here). Default false (moved back, then the driver deletes it).
   */
  deletesInterfaceAnywhere?: boolean
}

/** A network as its driver sees it, for inspection and for the controller's allocation records. */
export interface NetworkInfo {
  /** The network's id (the controller's). */
  id: string
  /** The host device that carries the network (a bridge, a macvlan parent), if any. */
  device: string | undefined
  /** Its IPv4 subnet in CIDR form, if any. */
  subnetV4: string | undefined
  /** Its IPv4 gateway, a plain address, if any. */
  gatewayV4: string | undefined
  /** Its IPv6 subnet in CIDR form, if any. */
  subnetV6: string | undefined
  /** Its IPv6 gateway, a plain address, if any. */
  gatewayV6: string | undefined
  /** No route out of the network. */
  internal: boolean
  /** Endpoints on the network may talk to each other. */
  icc: boolean
  /**
   * Every subnet of the network with its gateway, IPv4 first, in the order endpoints are served
   * from (the first of each family is `subnetV4`/`subnetV6`). A driver with several subnets per
   * family lists them all here; absent, the network's subnets are `subnetV4` and `subnetV6`.
   */
  subnets?: NetworkSubnet[]
}

/** One subnet of a network and its gateway (Docker's `IPAM.Config` entry), as text. */
export interface NetworkSubnet {
  /** The subnet in CIDR form (`10.2.0.0/24`). */
  subnet: string
  /** Its gateway, a plain address, if it has one. */
  gateway: string | undefined
}

/** An endpoint as its driver sees it: the addresses it holds and its published ports. */
export interface EndpointInfo {
  /** The endpoint's id (the controller's). */
  id: string
  /** Plain addresses, no prefix. */
  ipv4: string | undefined
  /** Its IPv6 address, plain (no prefix length), if any. */
  ipv6: string | undefined
  /** Its interface's MAC address, if the driver gave it one. */
  macAddress: string | undefined
  /** The ports published to it, resolved. */
  ports: PublishedPort[]
}

/** What `join` adds to what `createEndpoint` returned (libnetwork's JoinInfo), if anything. */
export interface JoinInfo {
  /** An IPv4 default gateway that overrides the one of `createEndpoint`'s {@link SandboxInfo}. */
  gateway?: string
  /** An IPv6 default gateway that overrides the one of `createEndpoint`'s {@link SandboxInfo}. */
  gatewayIPv6?: string
  /** More routes to install when joining. */
  staticRoutes?: StaticRoute[]
}

/** What restoring found: the kernel object was there (`restored`), rebuilt, or is gone for good. */
export type RestoreOutcome = 'restored' | 'rebuilt' | 'gone'

/** A record a driver exported, as a store gives it back (opaque JSON to everyone but the driver). */
export type DriverRecord = unknown

/**
 * What a store still records of a driver's networks and endpoints: never strays, even when their
 * restore failed (a transient error). Records are the driver's own exports.
 */
export interface KnownRecords {
  /** Network id → its record. */
  networks: ReadonlyMap<string, DriverRecord>
  /** Endpoint id → its network id and record. */
  endpoints: ReadonlyMap<string, { networkId: string; record: DriverRecord }>
}

/** What `removeStrays` found and removed (each entry names the object), and what it could not. */
export interface StrayReport {
  /** Links the driver owned (by their owner mark) that no known record names, removed. */
  links: string[]
  /** Firewall rules of networks no known record names, removed. */
  firewallNetworks: string[]
  /** Published-port rules no known endpoint owns, removed. */
  firewallPorts: string[]
  /** Strays that could not be removed, each with the reason (every one was attempted). */
  errors: string[]
}

/** A published port its driver could not hold (see {@link DriverPersistence.unheldPorts}). */
export interface UnheldPortReport {
  /** The network's id. */
  network: string
  /** The endpoint's id. */
  endpoint: string
  /** `tcp/0.0.0.0:8080` */
  port: string
  /** The processes that have it bound (pid and command name; none when not found). */
  holders: { pid: number; command: string }[]
}

/**
 * The persistence capability, for drivers whose state must survive a restart of the process that
 * holds them. The controller stores what `export…` returns (opaque JSON) with its own records, and
 * gives it back to `restore…` in a new process.
 */
export interface DriverPersistence {
  /** What a store keeps to restore the network later (JSON). */
  exportNetwork(nid: string): DriverRecord
  /** What a store keeps to restore the endpoint later (JSON). */
  exportEndpoint(nid: string, eid: string): DriverRecord
  /**
   * Takes a recorded network back (after a restart, or one another process created): holds what
   * the kernel still has, rebuilds what is missing (`rebuilt`).
   */
  restoreNetwork(nid: string, record: DriverRecord): Promise<RestoreOutcome>
  /** Takes a recorded endpoint back; `gone` when its kernel parts are gone (nothing is held then). */
  restoreEndpoint(nid: string, eid: string, record: DriverRecord): Promise<RestoreOutcome>
  /**
   * Drops a network from memory without touching the kernel (another process deleted it): what it
   * held in this process (address pools, host ports) is released here.
   */
  forgetNetwork(nid: string): Promise<void>
  /** Drops an endpoint from memory without touching the kernel (addresses and ports released here). */
  forgetEndpoint(nid: string, eid: string): Promise<void>
  /**
   * Removes kernel objects this driver marked as its owner's that it does not hold and `known` does
   * not name (left by a crash between a kernel change and the store's commit). Another owner's
   * objects are never touched. Every removal is tried; failures are reported, not thrown.
   */
  removeStrays(known: KnownRecords): Promise<StrayReport>
  /** Whether an endpoint's kernel parts (its veth, its macvlan link) are still there. */
  endpointAlive(nid: string, eid: string): Promise<boolean>
  /**
   * Optional: the published ports a restore could not hold because another program has them bound
   * (it bound them while no process held them: cnm was not running). The mappings stay, so their
   * traffic still goes to the containers; a later restore holds them again once that program let go.
   */
  unheldPorts?(): Promise<UnheldPortReport[]>
  /**
   * Optional: the controller is about to restore or check many of this driver's objects (start-up,
   * a sync, a reconcile). Until `endBatch` the driver may answer reads from one look at the kernel
   * taken at the first need (one link dump for all restores and liveness checks instead of one
   * request per object), as long as it still sees its own changes. Not nested; `endBatch` always
   * follows, also after a failure.
   */
  beginBatch?(): void
  /** Ends what `beginBatch` began: the driver forgets that look at the kernel. */
  endBatch?(): void
}

/**
 * The contract every network driver implements (libnetwork's `driverapi.Driver`): plain objects
 * made by a factory, every verb with its inverse. Ids are the controller's (hex); options are the
 * caller's raw JSON, which the driver parses and refuses (`ERR_INVALID_CONFIG`) before changing
 * anything. A verb that fails leaves nothing behind.
 */
export interface Driver {
  /** The driver's name (`bridge`, `macvlan`, `null`). */
  readonly name: string
  /** What the driver can do (scope, published ports, parent interface, …), fixed for its lifetime. */
  readonly capabilities: DriverCapabilities
  /** Driver-wide options, once, before the first network. */
  config(options: unknown): Promise<void>
  /**
   * Creates a network. `ipam` is its subnets, gateways, ranges and aux addresses per family, parsed
   * values (libnetwork's `ipV4Data`/`ipV6Data`): a driver never parses subnet text from `options`.
   * The controller always passes it; a driver called without it (a library user's direct call,
   * with the old option keys `addressIPv4`, `fixedCIDRv6`, …) converts those once with
   * `ipamFromOptions`.
   */
  createNetwork(nid: string, options: unknown, ipam?: NetworkIpam): Promise<void>
  /**
   * Deletes a network and everything the driver made for it (bridge, firewall rules, routes).
   * Throws `ERR_NO_NETWORK` for an unknown id and `ERR_ACTIVE_ENDPOINTS` while it has endpoints; a
   * teardown whose steps partly fail runs every step and throws `ERR_TEARDOWN` listing the failures.
   */
  deleteNetwork(nid: string): Promise<void>
  /**
   * Creates an endpoint. With a `sandboxKey` the driver may create the container's interface inside
   * that namespace directly (under its final name); with `''` it stays on the host side.
   */
  createEndpoint(nid: string, eid: string, sandboxKey: string, options: unknown): Promise<SandboxInfo>
  /**
   * Deletes an endpoint (after it left its sandbox): its interface, addresses, published ports and
   * rules. Throws `ERR_NO_NETWORK` / `ERR_NO_ENDPOINT` for unknown ids; a teardown whose steps partly
   * fail runs every step and throws `ERR_TEARDOWN` listing the failures.
   */
  deleteEndpoint(nid: string, eid: string): Promise<void>
  /** The endpoint enters a sandbox (called before its interface is moved in); may add routes. */
  join(nid: string, eid: string, sandboxKey: string, options: unknown): Promise<JoinInfo>
  /** The endpoint leaves its sandbox (called after its interface left). */
  leave(nid: string, eid: string): Promise<void>
  /**
   * Optional (drivers whose `capabilities.publishesPorts`): publishes more ports on an existing
   * endpoint (libnetwork's `ProgramExternalConnectivity`: the container's gateway moved to this
   * endpoint's network), all or none; returns the ports published. A driver without it cannot
   * publish after `createEndpoint` (callers refuse with kind `unsupported`).
   */
  publishPorts?(nid: string, eid: string, bindings: readonly PortBinding[]): Promise<PublishedPort[]>
  /**
   * The inverse of {@link Driver.publishPorts} (`RevokeExternalConnectivity`): unpublishes exactly
   * these ports of the endpoint (as `endpointInfo` lists them); every one is tried, and every
   * failure reported (`ERR_TEARDOWN`).
   */
  unpublishPorts?(nid: string, eid: string, ports: readonly PublishedPort[]): Promise<void>
  /** A network's addresses and settings; undefined for an unknown id. */
  networkInfo(nid: string): NetworkInfo | undefined
  /** An endpoint's addresses and published ports; throws `ERR_NO_ENDPOINT`/`ERR_NO_NETWORK`. */
  endpointInfo(nid: string, eid: string): EndpointInfo
  /** Present when the driver's state must survive a restart (see {@link DriverPersistence}). */
  readonly persistence?: DriverPersistence
  /** Releases the driver's handles; what it made in the kernel stays. */
  close(): Promise<void>
}

/** What a driver factory is given by the controller that makes the driver. */
export interface DriverContext {
  /**
   * Who owns what this driver creates (a store's id, `[A-Za-z0-9_-]`): written on its kernel
   * objects, so `removeStrays` only ever removes its own.
   */
  owner: string
  /**
   * The cluster this host joined (`cnm serve --cluster-store`), for global-scope drivers; absent on
   * a host that joined none (a global-scope driver then refuses its networks).
   */
  cluster?: ClusterContext
  /**
   * The driver is held by a long-lived owner (the daemon, or a library controller asked to): it may
   * watch the kernel and put back what it holds when someone else removes it (the bridge driver:
   * its firewall rules, within a second of an `nft flush ruleset`). Default false.
   */
  watchKernel?: boolean
  /**
   * No other process writes this driver's objects while it runs: the controller holds its store's
   * one-writer lock (`createController({ lockStore })`, as `cnm serve`). The driver may then finish
   * an operation's work after it answered (the bridge driver's conntrack flush of a deleted
   * endpoint, its addresses held until then), since no other writer can hand out what it still
   * holds. Default false.
   */
  soleWriter?: boolean
  /**
   * With `soleWriter`: whether the store's last writer stopped without closing it (its lock was
   * taken over from a process that was gone), so work it did after its operations answered may be
   * unfinished (the bridge driver then sweeps the conntrack entries of free addresses at its first
   * stray check). Undefined: not known, and a driver assumes it may be.
   */
  uncleanStart?: boolean
  /**
   * Told of a failure in work a driver does after its operation answered (the bridge driver's
   * conntrack flush of a deleted endpoint), with what it was doing: the daemon logs it. Default:
   * ignored.
   */
  onBackgroundError?: (err: unknown, what: string) => void
  /**
   * With `watchKernel`: told, in words, of what a driver put back in the kernel after someone else
   * removed it (the bridge driver: its firewall rules after an `nft flush ruleset`, naming what was
   * missing); a repair that failed goes to `onBackgroundError`. The daemon logs both. Default: ignored.
   */
  onRepair?: (what: string) => void
}

/** Makes a driver (unconfigured: the controller calls `config` next). */
export type DriverFactory = (context: DriverContext) => Driver | Promise<Driver>

/** A driver package's description of itself, as a controller registers it. */
export interface DriverDefinition {
  /** The name networks record (`bridge`). */
  name: string
  /** Other names it answers to (`simplebridge`). */
  aliases?: readonly string[]
  factory: DriverFactory
}
