import type { DriverCapabilities, DriverFactory, PortBinding, PublishedPort, SandboxInfo } from '@cnm/driverapi'
import type { ChangeListener } from './changes.js'
import type { JoinOptions } from './endpoint-ops.js'
import type { DriverRegistration } from './registry.js'
import type { SandboxHandle } from './sandboxes.js'

/** A driver made by {@link NetworkController.newNetworkDriver}. */
export interface NetworkDriver {
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
  removedFirewallNetworks: string[]
  removedFirewallPorts: string[]
  removedNamespaces: string[]
  /** Problems that remain (each also attempted). */
  errors: string[]
}

/** A published port as `cnm port ls` shows it: the driver's resolved binding, with its owners' names. */
export interface PortInfo extends PublishedPort {
  network: string
  endpoint: string
}

/** What `inspect()` shows of an endpoint (JSON-friendly). */
export interface EndpointInspect {
  id: string
  name: string
  /** Its DNS aliases (`connect --alias`). */
  aliases: string[]
  network: { id: string; name: string }
  sandboxKey: string
  /** The sandbox it is joined to, if any. */
  joined: { sandboxId: string; key: string; interface: string } | undefined
  macAddress: string | undefined
  ipv4: string | undefined
  ipv6: string | undefined
  sandboxInfo: SandboxInfo
  ports: PortInfo[]
}

/** What `inspect()` shows of a network (JSON-friendly). */
export interface NetworkInspect {
  id: string
  name: string
  driver: string
  options: unknown
  /** The host device that carries the network (its bridge, its parent interface), if any. */
  device: string | undefined
  subnet: string | undefined
  gateway: string | undefined
  subnetIPv6: string | undefined
  gatewayIPv6: string | undefined
  internal: boolean
  icc: boolean
  /** Its labels (`network create --label`); the controller answers `{}` when there are none. */
  labels?: Record<string, string>
  /** When it was created (ISO 8601); absent for a network this host took in from a cluster. */
  created?: string | undefined
  endpoints: EndpointInspect[]
}

/** What a network has besides its driver's options. */
export interface NetworkSettings {
  /** Free-form `key: value` metadata (Docker's `--label`); keys non-empty, at most 256 labels. */
  labels?: Record<string, string>
}

/** What an endpoint has besides its driver's options. */
export interface EndpointSettings {
  /** DNS names it also answers to on its network (each a DNS name; `ERR_INVALID_NAME` otherwise). */
  aliases?: string[]
}

export interface Network {
  readonly name: string
  readonly id: string
  readonly type: string
  inspect(): NetworkInspect
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
  endpoints(): Endpoint[]
  delete(): Promise<void>
}

export interface Endpoint {
  readonly name: string
  readonly id: string
  readonly network: Network
  /** What the driver returned when the endpoint was created. */
  readonly sandboxInfo: SandboxInfo
  /** Its DNS aliases. */
  readonly aliases: readonly string[]
  inspect(): EndpointInspect
  /**
   * Puts the endpoint's interface in the sandbox. A sandbox already connected to the endpoint's
   * network is refused (`ERR_ALREADY_CONNECTED`) unless `allowSameNetwork`.
   */
  join(sandbox: Sandbox | SandboxHandle, options?: JoinOptions): Promise<void>
  leave(sandbox: Sandbox | SandboxHandle): Promise<void>
  /**
   * Publishes more ports on the endpoint in one transaction (Docker's `ProgramExternalConnectivity`:
   * the container's way out moved to this network); returns them. A driver that cannot publish on an
   * existing endpoint is refused (`ERR_PORTS_NOT_SUPPORTED`, kind unsupported).
   */
  publishPorts(bindings: readonly PortBinding[]): Promise<PublishedPort[]>
  /** Unpublishes every published port of the endpoint in one transaction; returns what went. */
  unpublishPorts(): Promise<PublishedPort[]>
  delete(): Promise<void>
}

/** A container's sandbox as the controller holds it. */
export interface Sandbox {
  readonly id: string
  readonly containerID: string
  readonly key: string
  /** The container's name, if given (its endpoints answer to it in DNS). */
  readonly name: string | undefined
  /** Endpoints joined to it. */
  endpoints(): Endpoint[]
  inspect(): { id: string; containerID: string; name?: string; key: string; endpoints: string[] }
  /** Leaves every endpoint, then removes the namespace. */
  destroy(): Promise<void>
}

/** A registered driver, as `drivers()` lists it. */
export interface DriverDescription {
  name: string
  aliases: string[]
  /** Known once the driver has been made (by `newNetworkDriver`, or for a network in the store). */
  capabilities: DriverCapabilities | undefined
}

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
  newNetwork(driver: NetworkDriver, name: string, options?: unknown, settings?: NetworkSettings): Promise<Network>
  networks(): Network[]
  networkByName(name: string): Network | undefined
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
  sandboxes(): Sandbox[]
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
  reconcile(): Promise<ReconcileReport>
  /**
   * Calls `listener` after every committed change that names could depend on (a join, a leave, a
   * network created or deleted, the tables reloaded from the store); returns its removal.
   */
  onChange(listener: ChangeListener): () => void
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
