import type { ClusterContext, Driver } from '@cnm/driverapi'
import { ControllerError, ERR_CONTROLLER_CLOSED, unknownDriver } from './errors.js'
import type { GlobalScope } from './global-scope.js'
import { GroupedMap } from './grouped-map.js'
import type { DriverRegistry } from './registry.js'
import type { SandboxBackend, SandboxHandle } from './sandboxes.js'
import type { EndpointRow, JoinRow, NetworkRow, SandboxRow, Store } from './store.js'
import type { ReconcileReport } from './types.js'

/** The endpoint table: by id, grouped by network id. */
export const endpointTable = (rows: Iterable<EndpointRow> = []): Core['endpoints'] =>
  new GroupedMap(
    (e: EndpointRow) => e.networkId,
    [...rows].map((e) => [e.id, e] as const),
  )
/** The sandbox table: by id, grouped by key. */
export const sandboxTable = (rows: Iterable<SandboxRow> = []): Core['sandboxes'] =>
  new GroupedMap(
    (s: SandboxRow) => s.key,
    [...rows].map((s) => [s.id, s] as const),
  )
/** The join table: by endpoint id, grouped by sandbox id. */
export const joinTable = (rows: Iterable<JoinRow> = []): Core['joins'] =>
  new GroupedMap(
    (j: JoinRow) => j.sandboxId,
    [...rows].map((j) => [j.endpointId, j] as const),
  )

/** The controller's tables and the machinery every operation shares. */
export interface Core {
  store: Store
  /** Driver factories by name (built-ins and registered ones). */
  registry: DriverRegistry
  /** Driver instances by (canonical) name, made on first use. */
  drivers: Map<string, Driver>
  networks: Map<string, NetworkRow>
  /** Endpoints by id, grouped by network id. */
  endpoints: GroupedMap<string, EndpointRow, string>
  /** Sandboxes by id, grouped by key (one each). */
  sandboxes: GroupedMap<string, SandboxRow, string>
  /** Joins by endpoint id, grouped by sandbox id. */
  joins: GroupedMap<string, JoinRow, string>
  /** Where sandboxes live (network namespaces, unless a test says otherwise). */
  sandboxBackend: SandboxBackend
  /** Sandbox handles opened by this process, by key. */
  open: Map<string, SandboxHandle>
  /** Handles a caller lent to `join` (theirs: reconcile forgets them but never closes them). */
  lent: WeakSet<SandboxHandle>
  /** Where sandboxes are bound by default, and where reconcile looks for strays. */
  netnsDir: string
  closed: boolean
  /**
   * A commit failed: kernel work that could not be undone (a delete), or a repair rolled back with
   * its operation, left the tables, the drivers and the kernel unlike the store. The next operation
   * reconciles before it runs.
   */
  dirty: boolean
  /**
   * Brings the tables in line with the store after another process changed it (a reconcile, when
   * dirty); what it returns is applied once the operation commits.
   */
  sync: () => Promise<(() => void) | undefined>
  /** What syncs found since the last reconcile (rebuilt networks, dropped endpoints, errors). */
  syncReport: ReconcileReport
  queue: Promise<unknown>
  /** The cluster this host joined (`createController({ cluster })`): global-scope drivers get it. */
  cluster?: ClusterContext
  /** Drivers watch the kernel and put back what they hold (`createController({ watchKernel })`). */
  watchKernel?: boolean
  /** No other process writes the store: the controller holds its lock (`createController({ lockStore })`). */
  soleWriter?: boolean
  /** With `soleWriter`: the lock was taken over from a writer that was gone (`DriverContext.uncleanStart`). */
  uncleanStart?: boolean
  /** Told of a driver's failure after its operation answered (`createController({ onDriverError })`). */
  onDriverError?: (err: unknown, what: string) => void
  /** Told of what a driver put back in the kernel (`createController({ onDriverRepair })`). */
  onDriverRepair?: (what: string) => void
  /** The global scope (networks of global-scope drivers in the cluster's store), once joined. */
  global?: GlobalScope
}

/**
 * Runs one operation: one at a time in this process, inside a store write transaction (so one at a
 * time across processes too), after catching up with whatever another process committed. The
 * operation writes the store before it returns; the transaction commits after, or rolls back on
 * any failure — and the tables are changed only by `apply`, after the commit. When the commit
 * itself fails, `undo` takes back the operation's kernel work. An operation that `syncs` itself (a
 * reconcile, which reads the store and repairs what a failed commit left) skips the catching up.
 */
export function run<T>(
  core: Core,
  fn: () => Promise<{ value: T; apply?: () => void; undo?: () => Promise<unknown> }>,
  options: { syncs?: boolean } = {},
): Promise<T> {
  const go = async (): Promise<T> => {
    if (core.closed) throw new ControllerError(ERR_CONTROLLER_CLOSED, 'the controller is closed')
    core.store.begin()
    const repairing = core.dirty
    try {
      const changed = core.store.changedElsewhere()
      if (options.syncs) core.dirty = false // the operation is the repair
      const synced = !options.syncs && (changed || repairing) ? await core.sync() : undefined
      const { value, apply, undo } = await fn()
      try {
        core.store.commit()
      } catch (err) {
        // The kernel work must not outlive its record; what cannot be undone (a delete) is put back
        // in line with the store by a reconcile before the next operation.
        core.dirty = true
        await undo?.().catch(() => undefined)
        throw err
      }
      synced?.()
      apply?.()
      return value
    } catch (err) {
      if (repairing) core.dirty = true // the repair was rolled back with the operation
      core.store.rollback()
      throw err
    }
  }
  const p = core.queue.then(go, go)
  core.queue = p.catch(() => undefined)
  return p
}

/** A configured driver of a registered type, whose kernel objects carry this store's id. */
export async function makeDriver(
  core: Pick<
    Core,
    | 'store'
    | 'registry'
    | 'cluster'
    | 'watchKernel'
    | 'soleWriter'
    | 'uncleanStart'
    | 'onDriverError'
    | 'onDriverRepair'
  >,
  type: string,
  options: unknown,
): Promise<Driver> {
  const cluster = core.cluster ? { cluster: core.cluster } : {}
  const watch = core.watchKernel ? { watchKernel: true } : {}
  const sole = core.soleWriter ? { soleWriter: true, uncleanStart: core.uncleanStart === true } : {}
  const report = {
    ...(core.onDriverError ? { onBackgroundError: core.onDriverError } : {}),
    ...(core.onDriverRepair ? { onRepair: core.onDriverRepair } : {}),
  }
  const driver = await core.registry.factory(type)({ owner: core.store.id, ...cluster, ...watch, ...sole, ...report })
  await driver.config(options ?? {})
  return driver
}

/** The driver of a network type (made when the store is opened, or by `newNetworkDriver`). */
export function driverOf(core: Core, type: string): Driver {
  const d = core.drivers.get(type)
  if (!d) throw unknownDriver(type)
  return d
}
