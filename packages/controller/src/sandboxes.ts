import type { Interface, StaticRoute } from '@cnm/driverapi'
import { DEFAULT_SANDBOX_DIR, newSandbox, openSandbox, sandboxExists, validateSandboxKey } from '@cnm/sandbox'

/** What the controller does with a sandbox's namespace (`@cnm/sandbox`'s `Sandbox` has this shape). */
export interface SandboxHandle {
  readonly key: string
  /** The interfaces added to the namespace (or found in it when it was opened), as copies. */
  interfaces(): Interface[]
  /**
   * Moves the link `i.srcName` in (or uses one created inside), renames it to `i.dstName`, sets its
   * MAC, MTU and addresses and brings it up; a failed step undoes the earlier ones (see
   * `@cnm/sandbox`'s `Sandbox.addInterface` for the errors).
   */
  addInterface(i: Interface): Promise<void>
  /**
   * Undoes `addInterface`: an interface moved in goes back to the host under its `srcName` (or
   * `returnTo.name`), one created inside is deleted; with `discard` it is deleted where it is.
   * Throws `ERR_NO_INTERFACE` for an unknown name.
   */
  removeInterface(dstName: string, options?: { returnTo?: { name: string }; discard?: boolean }): Promise<void>
  /** Adds the IPv4 default route via `gw` (`ERR_INVALID_GATEWAY` for anything but an IPv4 address). */
  setGateway(gw: string): Promise<void>
  /** Adds the IPv6 default route via `gw` (`ERR_INVALID_GATEWAY` for anything but an IPv6 address). */
  setGatewayIPv6(gw: string): Promise<void>
  /** Adds one route: `route.destination` via `route.nextHop`, or through `route.interfaceName`. */
  addStaticRoute(route: StaticRoute): Promise<void>
  /** Closes this handle's netlink sockets; the namespace stays. Later calls on the handle fail. */
  close(): void
  /** Closes the handle and removes the namespace (unmount and unlink of `key`); idempotent. */
  destroy(): Promise<void>
}

/**
 * Where sandboxes live: network namespaces bound under a directory (`@cnm/sandbox`, the default),
 * or something a test supplies (the in-memory backend of `@cnm/controller/testing` runs the
 * controller's logic without root).
 */
export interface SandboxBackend {
  /** Where sandboxes are bound by default, and where reconcile looks for strays. */
  readonly defaultDir: string
  /**
   * Throws (`ERR_INVALID_SANDBOX_KEY`, kind `invalid`) unless `key` is an absolute, normalised path
   * where a sandbox can be bound; called before anything is created.
   */
  validateKey(key: string): void
  /**
   * Creates a sandbox at `key` (a new network namespace with loopback up, bound there). Throws
   * `ERR_SANDBOX_EXISTS` when something is at `key` already.
   */
  create(key: string): Promise<SandboxHandle>
  /**
   * Opens the existing sandbox at `key`, reading its interfaces back. Throws `ERR_NO_SANDBOX` when
   * none is bound there.
   */
  open(key: string): Promise<SandboxHandle>
  /** Whether a sandbox is bound at `key` now. */
  exists(key: string): boolean
}

/** Network namespaces through `@cnm/sandbox`. */
export const netnsSandboxes: SandboxBackend = {
  defaultDir: DEFAULT_SANDBOX_DIR,
  validateKey: validateSandboxKey,
  create: newSandbox,
  open: openSandbox,
  exists: sandboxExists,
}
