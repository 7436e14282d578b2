import type { Interface, StaticRoute } from '@cnm/driverapi'
import { DEFAULT_SANDBOX_DIR, newSandbox, openSandbox, sandboxExists, validateSandboxKey } from '@cnm/sandbox'

/** What the controller does with a sandbox's namespace (`@cnm/sandbox`'s `Sandbox` has this shape). */
export interface SandboxHandle {
  readonly key: string
  interfaces(): Interface[]
  addInterface(i: Interface): Promise<void>
  removeInterface(dstName: string, options?: { returnTo?: { name: string } }): Promise<void>
  setGateway(gw: string): Promise<void>
  setGatewayIPv6(gw: string): Promise<void>
  addStaticRoute(route: StaticRoute): Promise<void>
  close(): void
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
  validateKey(key: string): void
  create(key: string): Promise<SandboxHandle>
  open(key: string): Promise<SandboxHandle>
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
