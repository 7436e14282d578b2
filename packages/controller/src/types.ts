import type {
  DriverCapabilities,
  DriverFactory,
  NetworkIpam,
  NetworkIpamText,
  NetworkSubnet,
  PortBinding,
  PublishedPort,
  SandboxInfo,
} from '@cnm/driverapi'
import type { ChangeListener } from './changes.js'
import type { JoinOptions } from './endpoint-ops.js'
import type { DriverRegistration } from './registry.js'
import type { SandboxHandle } from './sandboxes.js'

/** A driver made by {@link NetworkController.newNetworkDriver}. */
export interface NetworkDriver {
  /** The registered name of the driver (`bridge` also for a driver made as `simplebridge`). */
  readonly type: string
}

/** What `reconcile()` found and did. */
export interface ReconcileReport {
  /** Networks whose bridge was gone and was rebuilt. */
  rebuiltNetworks: string[]
  /** Endpoints whose veth was gone: their records, addresses and ports were released. */
  droppedEndpoints: string[]
  /** Sandboxes whose namespace was gone: their records were removed. */
  droppedSandboxes: string[]
  /** Kernel objects cnm owns that the store did not know, removed. */
  removedLinks: string[]
  /** Firewall rules of networks the store did not know (by network id), removed. */
  removedFirewallNetworks: string[]
  /** Published-port rules (DNAT) no endpoint of the store owns, removed (`proto/hostIP:port`). */
  removedFirewallPorts: string[]
  /** Namespaces in the sandbox directory marked as this store's that no sandbox record owns, removed. */
  removedNamespaces: string[]
  /** Problems that remain (each also attempted). */
  errors: string[]
}

/** A published port as `cnm port ls` shows it: the driver's resolved binding, with its owners' names. */
export interface PortInfo extends PublishedPort {
  /** The name of the network the port is published on. */
  network: string
  /** The name of the endpoint the port goes to. */
  endpoint: string
}

/** What `inspect()` shows of an endpoint (JSON-friendly). */
export interface EndpointInspect {
  /** The endpoint's id: 64 lowercase hex digits. */
  id: string
  /** Its name, unique within its network. */
  name: string
  /** Its DNS aliases (`connect --alias`). */
  aliases: string[]
  /** The network it is on. */
  network: { id: string; name: string }
  /** The namespace it was created in (`''` when it was created on the host side). */
  sandboxKey: string
  /** The sandbox it is joined to, if any. */
  joined: { sandboxId: string; key: string; interface: string } | undefined
  /** Its interface's MAC address (`02:42:…`), if its driver gave it one. */
  macAddress: string | undefined
  /** Its IPv4 address, without prefix length (`10.20.0.2`); undefined on an IPv6-only network. */
  ipv4: string | undefined
  /** Its IPv6 address, without prefix length; undefined when the network has no IPv6. */
  ipv6: string | undefined
  /** What a sandbox configures for it: its interfaces (with CIDR addresses), gateways and routes. */
  sandboxInfo: SandboxInfo
  /** The ports published to it. */
  ports: PortInfo[]
}

/** What `inspect()` shows of a network (JSON-friendly). */
export interface NetworkInspect {
  /** The network's id: 64 lowercase hex digits. */
  id: string
  /** Its name, unique per controller (and per cluster for a global-scope network). */
  name: string
  /** The name of its driver (`bridge`, `macvlan`, `null`, `overlay`, or a registered one). */
  driver: string
  /** The driver options it was created with, as given. */
  options: unknown
  /** Its IPAM data as given (`ipamToText`: subnets, gateways, ranges, aux addresses); absent when none was. */
  ipam?: NetworkIpamText
  /** The host device that carries the network (its bridge, its parent interface), if any. */
  device: string | undefined
  /** Its IPv4 subnet in CIDR form (`10.20.0.0/24`), if it has one. */
  subnet: string | undefined
  /** Its IPv4 gateway address (no prefix length), if it has one. */
  gateway: string | undefined
  /** Its IPv6 subnet in CIDR form, if it has one. */
  subnetIPv6: string | undefined
  /** Its IPv6 gateway address (no prefix length), if it has one. */
  gatewayIPv6: string | undefined
  /**
   * Every subnet with its gateway, IPv4 first (Docker's `IPAM.Config`): several per family when the
   * network has them; the first of each family is `subnet`/`subnetIPv6`.
   */
  subnets?: NetworkSubnet[]
  /** `true` for an internal network (`network create --internal`): no route out of it, and ports
   * cannot be published on it. */
  internal: boolean
  /** Whether its endpoints may talk to each other (inter-container communication; default `true`). */
  icc: boolean
  /** Its labels (`network create --label`); the controller answers `{}` when there are none. */
  labels?: Record<string, string>
  /** When it was created (ISO 8601); absent for a network this host took in from a cluster. */
  created?: string | undefined
  /** Its endpoints, in creation order. */
  endpoints: EndpointInspect[]
}

/** What a network has besides its driver's options. */
export interface NetworkSettings {
  /** Free-form `key: value` metadata (Docker's `--label`); keys non-empty, at most 256 labels. */
  labels?: Record<string, string>
  /**
   * The network's subnets, gateways, ranges and aux addresses, parsed (`parseIpam` of
   * `@cnm/driverapi`, or built from values): handed to the driver as they are. Absent: the old
   * option keys (`addressIPv4`, `fixedCIDRv6`, …), if any, are converted once; none: the driver picks.
   */
  ipam?: NetworkIpam
}

/** What an endpoint has besides its driver's options. */
export interface EndpointSettings {
  /** DNS names it also answers to on its network (each a DNS name; `ERR_INVALID_NAME` otherwise). */
  aliases?: string[]
}

/**
 * A network of a controller, as `newNetwork`, `networks()` and `networkByName()` return it: a live
 * view (its `inspect()` and `endpoints()` read the controller's tables when called).
 */
export interface Network {
  /** Its name, unique per controller. */
  readonly name: string
  /** Its id: 64 lowercase hex digits. */
  readonly id: string
  /** The name of its driver. */
  readonly type: string
  /**
   * The network as it is now, JSON-friendly: driver and options, device, subnets and gateways,
   * `internal`, `icc`, labels, creation time and its endpoints (see {@link NetworkInspect}).
   * Throws `ERR_UNKNOWN_NETWORK` once the network has been deleted.
   */
  inspect(): NetworkInspect
  /**
   * Creates an endpoint on the network in one transaction: the driver allocates its addresses, MAC
   * and published ports and, when `sandboxKey` names a sandbox's namespace, creates its interface
   * inside it (join it with {@link Endpoint.join}). Returns the endpoint and the
   * {@link SandboxInfo} the sandbox must configure (interfaces, gateways, routes).
   *
   * `options` are the driver's endpoint options (for the bridge: `portBindings`, `ipv4Address`,
   * `macAddress`, …); `settings.aliases` are extra DNS names. Throws `ERR_INVALID_NAME` for a bad
   * name, `ERR_ENDPOINT_NAME_EXISTS` for a taken one, the driver's errors (`ERR_INVALID_CONFIG`,
   * `ERR_NO_AVAILABLE_IPS`, `ERR_PORT_ALREADY_ALLOCATED`, …); a failure leaves nothing behind.
   *
   * @example
   * ```ts
   * const { endpoint, sandboxInfo } = await network.createEndpoint('web1', sandbox.key, {
   *   portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080 }],
   * })
   * ```
   */
  createEndpoint(
    name: string,
    sandboxKey?: string,
    options?: unknown,
    settings?: EndpointSettings,
  ): Promise<{ endpoint: Endpoint; sandboxInfo: SandboxInfo }>
  /**
   * Connects a sandbox to the network in one transaction: an endpoint born inside the sandbox and
   * joined to it (`docker network connect`). A failure, or a crash at any point, leaves neither.
   */
  connect(
    sandbox: Sandbox,
    name: string,
    options?: unknown,
    joinOptions?: JoinOptions,
    settings?: EndpointSettings,
  ): Promise<Endpoint>
  /** The endpoints of this network, joined or not, in creation order. */
  endpoints(): Endpoint[]
  /**
   * Deletes the network: its driver's kernel objects (bridge, rules), its subnets and its record, in
   * one transaction (a global-scope network leaves the cluster first). Throws `ERR_ACTIVE_ENDPOINTS`
   * (kind `conflict`) while it has endpoints. A teardown step that fails still lets the others run
   * and the record go; the failures are thrown afterwards as one `ERR_TEARDOWN` error.
   */
  delete(): Promise<void>
}

/**
 * An endpoint of a network (libnetwork's Endpoint): one interface of a sandbox on the network, with
 * its addresses and published ports. A live view of the controller's tables.
 */
export interface Endpoint {
  /** Its name, unique within its network. */
  readonly name: string
  /** Its id: 64 lowercase hex digits. */
  readonly id: string
  /** The network it is on. */
  readonly network: Network
  /** What the driver returned when the endpoint was created. */
  readonly sandboxInfo: SandboxInfo
  /** Its DNS aliases. */
  readonly aliases: readonly string[]
  /**
   * The endpoint as it is now, JSON-friendly: network, addresses, MAC, aliases, the sandbox it joined
   * and its published ports (see {@link EndpointInspect}). Throws `ERR_UNKNOWN_ENDPOINT` once deleted.
   */
  inspect(): EndpointInspect
  /**
   * Puts the endpoint's interface in the sandbox. A sandbox already connected to the endpoint's
   * network is refused (`ERR_ALREADY_CONNECTED`) unless `allowSameNetwork`.
   */
  join(sandbox: Sandbox | SandboxHandle, options?: JoinOptions): Promise<void>
  /**
   * Takes the endpoint out of `sandbox` in one transaction: its interface leaves the namespace
   * (back to the host when it was moved in from there, deleted when it was created inside), the
   * sandbox's default route moves to another network it is joined to, and the driver's `leave`
   * runs. The endpoint itself, with its addresses and ports, stays until it is deleted. Throws
   * `ERR_NOT_JOINED` (kind `conflict`) when it is not joined to that sandbox.
   */
  leave(sandbox: Sandbox | SandboxHandle): Promise<void>
  /**
   * Publishes more ports on the endpoint in one transaction (Docker's `ProgramExternalConnectivity`:
   * the container's way out moved to this network); returns them. A driver that cannot publish on an
   * existing endpoint is refused (`ERR_PORTS_NOT_SUPPORTED`, kind unsupported).
   */
  publishPorts(bindings: readonly PortBinding[]): Promise<PublishedPort[]>
  /** Unpublishes every published port of the endpoint in one transaction; returns what went. */
  unpublishPorts(): Promise<PublishedPort[]>
  /**
   * Deletes the endpoint in one transaction: it leaves its sandbox first if joined, then its
   * interface, addresses, published ports and firewall rules go with its record. Teardown failures
   * are thrown afterwards as one `ERR_TEARDOWN` error, with every step attempted.
   */
  delete(): Promise<void>
}

/** A container's sandbox as the controller holds it. */
export interface Sandbox {
  /** The sandbox's id: 64 lowercase hex digits. */
  readonly id: string
  /** The container id it was created for (1-128 letters, digits, `_`, `.` or `-`). */
  readonly containerID: string
  /** The path its network namespace is bound at: unique; `<sandboxDir>/<containerID>` by default
   * (`/run/cnm/netns/…`). */
  readonly key: string
  /** The container's name, if given (its endpoints answer to it in DNS). */
  readonly name: string | undefined
  /** Endpoints joined to it. */
  endpoints(): Endpoint[]
  /**
   * The sandbox as it is now: id, container id and name, namespace path (`key`) and the ids of the
   * endpoints joined to it.
   */
  inspect(): { id: string; containerID: string; name?: string; key: string; endpoints: string[] }
  /** Leaves every endpoint, then removes the namespace. */
  destroy(): Promise<void>
}

/** A registered driver, as `drivers()` lists it. */
export interface DriverDescription {
  /** The name it is registered under. */
  name: string
  /** Other names that make the same driver (`simplebridge` for `bridge`). */
  aliases: string[]
  /** Known once the driver has been made (by `newNetworkDriver`, or for a network in the store). */
  capabilities: DriverCapabilities | undefined
}

/**
 * The controller (libnetwork's NetworkController), made by `createController`: registers drivers,
 * creates networks, endpoints and sandboxes, keeps them in its store and reconciles the store with
 * the kernel. Every mutating call is one transaction of the store, serialised with every other
 * process sharing it. Close it with {@link NetworkController.close}.
 */
export interface NetworkController {
  /**
   * Registers a driver factory under a name (and aliases) for this controller; the built-ins
   * (`bridge`, `null`, …) are registered from the start. A later registration of the same name
   * replaces the factory for drivers not made yet.
   */
  registerDriver(name: string, factory: DriverFactory | DriverRegistration): void
  /** The registered drivers. */
  drivers(): DriverDescription[]
  /** Makes (once) and configures the driver registered under `networkType` (a name or an alias). */
  newNetworkDriver(networkType: string, options?: unknown): Promise<NetworkDriver>
  /**
   * Creates a network of `driver` (made by {@link NetworkController.newNetworkDriver}) in one
   * transaction. `options` are the driver's network options (for the bridge: `bridgeName`,
   * `enableICC`, `mtu`, …); `settings.ipam` its subnets as values (handed to the driver as they
   * are), `settings.labels` Docker-style labels.
   *
   * Throws `ERR_NIL_NETWORK_DRIVER` / `ERR_INVALID_NETWORK_DRIVER` for a missing or foreign driver
   * handle, `ERR_INVALID_NAME`, `ERR_INVALID_LABEL`, `ERR_NETWORK_NAME_EXISTS`,
   * `ERR_NETWORK_OVERLAPS` (conflict: a subnet overlaps another network's, which it names; checked
   * here for every driver) and the driver's errors (`ERR_INVALID_CONFIG` for a bad option);
   * nothing is left behind.
   *
   * @example
   * ```ts
   * const driver = await controller.newNetworkDriver('bridge')
   * const ipam = parseIpam({ v4: [{ subnet: '10.20.0.0/24', gateway: '10.20.0.1' }] }) // @cnm/driverapi
   * const network = await controller.newNetwork(driver, 'web', {}, { ipam, labels: { team: 'a' } })
   * ```
   */
  newNetwork(driver: NetworkDriver, name: string, options?: unknown, settings?: NetworkSettings): Promise<Network>
  /** Every network, in creation order. */
  networks(): Network[]
  /** The network with exactly this name, or `undefined`. */
  networkByName(name: string): Network | undefined
  /** The network with exactly this id (the full 64 hex digits), or `undefined`. */
  networkByID(id: string): Network | undefined
  /**
   * Creates a sandbox (a network namespace) for a container, bound at `<sandboxDir>/<containerID>`
   * or at `key`, which must lie inside the sandbox directory unless `allowOutsideSandboxDir` is set;
   * either way its directory must be writable by nobody but its (root) owner.
   */
  newSandbox(
    containerID: string,
    options?: { key?: string; allowOutsideSandboxDir?: boolean; name?: string },
  ): Promise<Sandbox>
  /** Every sandbox, in creation order. */
  sandboxes(): Sandbox[]
  /**
   * The sandbox with exactly this id, or `undefined` (see {@link NetworkController.sandboxByRef} for a
   * container id or key).
   */
  sandboxByID(id: string): Sandbox | undefined
  /**
   * The sandbox a reference names exactly — its id, container id or key — found without making a
   * view of every sandbox (what a daemon's connect does per request); undefined when none does.
   */
  sandboxByRef(ref: string): Sandbox | undefined
  /** Every published port of every endpoint. */
  ports(): PortInfo[]
  /**
   * Catches up with what other processes committed to the store since this one last looked (every
   * operation does this first; reads do not, so a long-running reader calls this before reading).
   */
  refresh(): Promise<void>
  /**
   * Compares the store with the kernel and repairs both ways: rebuilds networks whose bridge is gone,
   * drops records of endpoints and sandboxes whose veth or namespace is gone, and removes links,
   * firewall rules and namespaces marked as this store's that no record owns. Each repair is attempted;
   * those that fail are listed in the report's `errors` rather than thrown.
   */
  reconcile(): Promise<ReconcileReport>
  /**
   * Calls `listener` after every committed change that names could depend on (a join, a leave, a
   * network created or deleted, the tables reloaded from the store); returns its removal.
   */
  onChange(listener: ChangeListener): () => void
  /**
   * Waits for the operation in progress, then closes the namespaces' netlink sockets, the drivers and
   * the store. Networks, endpoints and sandboxes stay in the kernel and the store (a later controller
   * on the same store takes them up). Calling it again does nothing; any other call afterwards throws
   * `ERR_CONTROLLER_CLOSED`.
   */
  close(): Promise<void>
}

export function emptyReport(): ReconcileReport {
  return {
    rebuiltNetworks: [],
    droppedEndpoints: [],
    droppedSandboxes: [],
    removedLinks: [],
    removedFirewallNetworks: [],
    removedFirewallPorts: [],
    removedNamespaces: [],
    errors: [],
  }
}
