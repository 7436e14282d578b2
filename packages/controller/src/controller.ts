import { readdirSync } from 'node:fs'
import path from 'node:path'
import { type ClusterContext, type DriverFactory, ipamToText, isEmptyIpam, networkSubnets } from '@cnm/driverapi'
import { ERR_SANDBOX_EXISTS } from '@cnm/sandbox'
import { parseContainerName } from './aliases.js'
import { BUILTIN_DRIVERS } from './builtin-drivers.js'
import { addChangeListener, notifyChange } from './changes.js'
import { type Core, endpointTable, joinTable, makeDriver, run, sandboxTable } from './core.js'
import {
  ControllerError,
  ERR_INVALID_LABEL,
  ERR_INVALID_NAME,
  ERR_INVALID_NETWORK_DRIVER,
  ERR_NIL_NETWORK_DRIVER,
  ERR_STORE_MISMATCH,
  nameExists,
  unknownDriver,
  validateName,
} from './errors.js'
import { checkLocalAgainstGlobal } from './global-overlaps.js'
import { clusterMembers, createGlobalNetwork, isGlobal, startGlobal } from './global-scope.js'
import type { ClusterMember } from './global-store.js'
import { generateID } from './id.js'
import { endpointPorts } from './inspect.js'
import { labelsOrNone, parseLabels } from './labels.js'
import { checkOverlaps, clusterOptions, networkInput } from './network-ipam.js'
import { ownerMarkPath, readOwnerMark, removeOwnerMark, writeOwnerMark } from './owner-mark.js'
import { reconcileCore } from './reconcile.js'
import { createRegistry, type DriverRegistration } from './registry.js'
import { checkSandboxParent, ERR_SANDBOX_KEY_OUTSIDE, isInside } from './sandbox-dir.js'
import { netnsSandboxes, type SandboxBackend, type SandboxHandle } from './sandboxes.js'
import { DEFAULT_STORE_PATH, type NetworkRow, Store } from './store.js'
import { syncFromStore } from './sync.js'
import { emptyReport, type NetworkController, type NetworkDriver, type ReconcileReport } from './types.js'
import { networkView, sandboxView } from './views.js'

/** Options of {@link createController}. */
export interface ControllerOptions {
  /** The SQLite store (default `/var/lib/cnm/cnm.db`); `false` keeps everything in memory. */
  storePath?: string | false
  /** Where `newSandbox` binds namespaces by default, and where reconcile looks for strays (`/run/cnm/netns`). */
  sandboxDir?: string
  /**
   * Drivers to register besides the built-ins, by name (the same as `registerDriver` before the
   * store is opened: needed for a store that already has networks of such a driver).
   */
  drivers?: Record<string, DriverFactory | DriverRegistration>
  /** Where sandboxes live (default: network namespaces through `@cnm/sandbox`). */
  sandboxBackend?: SandboxBackend
  /**
   * What to do when the store comes back empty under the id recorded beside it (`<store>.id`): a
   * truncated or replaced database, whose kernel objects are orphaned. `refuse` (the default)
   * throws `ERR_STORE_MISMATCH` naming what was found; `remove-orphans` takes the recorded id as
   * the store's own, so reconcile removes every object marked with it (bridges, veths, firewall
   * rules, namespaces). Their records are gone, so they cannot be adopted back.
   */
  onStoreMismatch?: 'refuse' | 'remove-orphans'
  /**
   * The cluster this host joins (`connectCluster` of `@cnm/etcd-store`): networks of global-scope
   * drivers, their subnets and addresses live in its store; global-scope drivers get it too.
   */
  cluster?: ClusterContext
  /**
   * For a long-lived controller (the daemon sets it): drivers watch the kernel and put back what
   * they hold when someone else removes it — the bridge driver its firewall rules, within a second
   * of an `nft flush ruleset` or a firewall reload, without a reconcile. Default false.
   */
  watchKernel?: boolean
  /**
   * Told of a driver's failure in work it does after its operation answered (the bridge driver's
   * conntrack flush of a deleted endpoint, with `lockStore`), with what it was doing: the daemon
   * logs it. Default: ignored.
   */
  onDriverError?: (err: unknown, what: string) => void
  /**
   * With `watchKernel`: told, in words, of what a driver put back in the kernel after someone else
   * removed it (the bridge driver's firewall rules after an `nft flush ruleset`); a repair that
   * failed goes to `onDriverError`. The daemon logs both. Default: ignored.
   */
  onDriverRepair?: (what: string) => void
  /**
   * The daemon's: take the store's one-writer lock (`<store>.lock`) for as long as the controller is
   * open; another process that opens the store meanwhile gets `ERR_STORE_LOCKED` naming this one
   * (and `socket`, where it serves), so nothing writes the store behind its back. Its drivers are
   * told they are the sole writer (`DriverContext.soleWriter`): the bridge driver then flushes a
   * deleted endpoint's conntrack entries after the delete answered.
   */
  lockStore?: { socket?: string }
}

/** What a controller tells of the cluster it joined (nothing when it joined none). */
export interface ClusterView {
  /** The hosts whose lease is alive (`[]` without a cluster). */
  members(): Promise<ClusterMember[]>
  /** Problems met following the cluster: a network not taken in, an address another endpoint took. */
  readonly errors: string[]
}

const DRIVERS = new WeakMap<NetworkDriver, string>()

/** Adds what `from` found to `into`. */
function mergeReport(into: ReconcileReport, from: ReconcileReport): void {
  for (const key of Object.keys(from) as (keyof ReconcileReport)[]) into[key].push(...from[key])
}

/** The error for a store that is not the one its identity file names, listing what it found. */
function storeMismatch(store: Store, sandboxDir: string, empty: boolean): ControllerError {
  const old = store.recordedId ?? ''
  let namespaces: string[] = []
  try {
    namespaces = readdirSync(sandboxDir)
      .filter((n) => !n.startsWith('.'))
      .filter((n) => readOwnerMark(path.join(sandboxDir, n)) === old)
  } catch {
    // No sandbox directory: no namespaces to name.
  }
  const found = `kernel objects marked cnm:${old} (links, firewall rules) and ${namespaces.length} namespace(s) in ${sandboxDir}${namespaces.length ? ` (${namespaces.slice(0, 5).join(', ')}${namespaces.length > 5 ? ', …' : ''})` : ''}`
  return new ControllerError(
    ERR_STORE_MISMATCH,
    empty
      ? `the store ${String(store.file)} is empty, but ${store.identityFile()} says it was store ${old}: it was truncated or replaced, and the ${found} belong to no record. Restore it from a backup, or remove them with onStoreMismatch: 'remove-orphans' (cnm reconcile --remove-orphans)`
      : `the store ${String(store.file)} (id ${store.id}) is not store ${old} recorded in ${store.identityFile()}: move one of them away`,
  )
}

/**
 * Creates a network controller on its store. An existing store is restored — every network,
 * endpoint and sandbox, with their addresses and ports reserved before anything is released —
 * and reconciled against the kernel (`lastReconcile` holds what that found).
 */
export async function createController(
  options: ControllerOptions = {},
): Promise<
  NetworkController & { readonly lastReconcile: ReconcileReport; readonly store: Store; readonly cluster: ClusterView }
> {
  const registry = createRegistry({ ...BUILTIN_DRIVERS })
  for (const [name, registration] of Object.entries(options.drivers ?? {})) registry.register(name, registration)
  const sandboxBackend = options.sandboxBackend ?? netnsSandboxes
  const store = new Store(options.storePath ?? DEFAULT_STORE_PATH, undefined, options.lockStore)
  let adopted = false
  if (store.recordedId !== undefined) {
    const snap = store.snapshot()
    const empty = snap.networks.length + snap.endpoints.length + snap.sandboxes.length === 0
    if (options.onStoreMismatch === 'remove-orphans' && empty) {
      store.adoptRecordedId()
      adopted = true
    } else {
      const err = storeMismatch(store, options.sandboxDir ?? sandboxBackend.defaultDir, empty)
      store.close()
      throw err
    }
  }
  const core: Core = {
    store,
    registry,
    sandboxBackend,
    drivers: new Map(),
    networks: new Map(),
    endpoints: endpointTable(),
    sandboxes: sandboxTable(),
    joins: joinTable(),
    open: new Map(),
    lent: new WeakSet(),
    netnsDir: options.sandboxDir ?? sandboxBackend.defaultDir,
    closed: false,
    dirty: false,
    sync: async () => {
      if (!core.dirty) {
        await syncFromStore(core, store.snapshot(), core.syncReport)
        notifyChange(core, { type: 'sync' })
        return undefined
      }
      core.dirty = false
      const report = emptyReport()
      await reconcileCore(core, report)
      return () => {
        mergeReport(core.syncReport, report) // reported once it is committed
        notifyChange(core, { type: 'sync' })
      }
    },
    syncReport: emptyReport(),
    queue: Promise.resolve(),
    ...(options.cluster ? { cluster: options.cluster } : {}),
    ...(options.watchKernel ? { watchKernel: true } : {}),
    ...(options.lockStore ? { soleWriter: true, uncleanStart: store.lockTakenOver } : {}),
    ...(options.onDriverError ? { onDriverError: options.onDriverError } : {}),
    ...(options.onDriverRepair ? { onDriverRepair: options.onDriverRepair } : {}),
  }
  let lastReconcile = emptyReport()
  const reconcile = (justRestored = false): Promise<ReconcileReport> =>
    run(
      core,
      async () => {
        const report = core.syncReport
        core.syncReport = emptyReport()
        await reconcileCore(core, report, { justRestored })
        return {
          value: report,
          apply: () => {
            lastReconcile = report
            notifyChange(core, { type: 'sync' })
          },
        }
      },
      { syncs: true },
    ) // reconcileCore reads the store once and restores from it
  try {
    // Orphans of an emptied store may belong to any driver: every registered one looks for its own.
    if (adopted) {
      for (const name of registry.names()) {
        await makeDriver(core, name, {}).then(
          (d) => core.drivers.set(name, d),
          (err: unknown) => core.syncReport.errors.push(`driver ${name}: ${(err as Error).message}`),
        )
      }
    }
    await reconcile(true) // the store was just restored into the drivers: no need to do it twice
    if (options.cluster) await startGlobal(core, options.cluster)
  } catch (err) {
    await core.global?.stop()
    for (const sb of core.open.values()) sb.close()
    for (const d of core.drivers.values()) await d.close().catch(() => undefined)
    store.close()
    throw err
  }

  return {
    store,
    cluster: {
      members: () => clusterMembers(core),
      get errors() {
        return [...(core.global?.errors ?? [])]
      },
    },
    get lastReconcile() {
      return lastReconcile
    },
    registerDriver: (name, factory) => registry.register(name, factory),
    drivers: () =>
      registry.names().map((name) => ({
        name,
        aliases: registry.aliasesOf(name),
        capabilities: core.drivers.get(name)?.capabilities,
      })),
    newNetworkDriver: (networkType, driverOptions) =>
      run(core, async () => {
        const type = registry.resolve(networkType)
        if (!type) throw unknownDriver(String(networkType))
        let driver = core.drivers.get(type)
        if (!driver) {
          driver = await makeDriver(core, type, driverOptions)
          store.putDriver(type, driverOptions ?? {})
        }
        const made = driver
        const handle: NetworkDriver = { type }
        DRIVERS.set(handle, type)
        return { value: handle, apply: () => core.drivers.set(type, made) }
      }),
    newNetwork: (driver, name, netOptions, settings) =>
      run(core, async () => {
        if (driver === null || driver === undefined)
          throw new ControllerError(ERR_NIL_NETWORK_DRIVER, 'nil network driver')
        const type = DRIVERS.get(driver)
        const made = type ? core.drivers.get(type) : undefined
        if (!type || !made) throw new ControllerError(ERR_INVALID_NETWORK_DRIVER, 'invalid network driver')
        validateName('network', name)
        const labels = parseLabels(settings?.labels)
        if ([...core.networks.values()].some((n) => n.name === name)) throw nameExists(name)
        // The edge of a library caller: IPAM data as values (or the older option keys, converted once).
        const input = networkInput(netOptions, settings?.ipam)
        const id = generateID()
        if (isGlobal(made)) {
          if (Object.keys(labels).length > 0) {
            throw new ControllerError(
              ERR_INVALID_LABEL,
              `network ${name}: labels are kept in the local store only, not for a global-scope (${type}) network`,
              { kind: 'unsupported' },
            )
          }
          const global = await createGlobalNetwork(
            core,
            made,
            id,
            name,
            type,
            clusterOptions(input.options, input.ipam),
          )
          return {
            value: networkView(core, id, global.row),
            apply: () => {
              core.networks.set(id, global.row)
              notifyChange(core, { type: 'network', action: 'create', id })
            },
            undo: global.undo,
          }
        }
        // Overlaps are the controller's to refuse, for every driver, before the driver is called.
        checkOverlaps(core, name, input.ipam)
        await made.createNetwork(id, input.options, input.ipam)
        const row: NetworkRow = {
          id,
          name,
          type,
          options: input.options,
          ...(isEmptyIpam(input.ipam) ? {} : { ipam: ipamToText(input.ipam) }),
          record: null,
          ...labelsOrNone(labels),
        }
        try {
          // A subnet the driver chose must not overlap a global network's (the cluster's, as this host follows it).
          checkLocalAgainstGlobal(
            core,
            name,
            networkSubnets(made.networkInfo(id)).map((s) => s.subnet),
          )
          row.record = made.persistence?.exportNetwork(id) ?? null
          store.insertNetwork(row)
        } catch (err) {
          await made.deleteNetwork(id).catch(() => undefined)
          throw err
        }
        return {
          value: networkView(core, id, row),
          apply: () => {
            core.networks.set(id, row)
            notifyChange(core, { type: 'network', action: 'create', id })
          },
          undo: () => made.deleteNetwork(id),
        }
      }),
    networks: () => [...core.networks.keys()].map((id) => networkView(core, id)),
    networkByName: (name) => {
      const n = [...core.networks.values()].find((x) => x.name === name)
      return n ? networkView(core, n.id) : undefined
    },
    networkByID: (id) => (core.networks.has(id) ? networkView(core, id) : undefined),
    newSandbox: (containerID, sbOptions) =>
      run(core, async () => {
        if (typeof containerID !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u.test(containerID)) {
          throw new ControllerError(ERR_INVALID_NAME, `invalid container id ${JSON.stringify(containerID)}`)
        }
        const name = parseContainerName(sbOptions?.name)
        const key = sbOptions?.key ?? path.join(core.netnsDir, containerID.slice(0, 64))
        sandboxBackend.validateKey(key)
        const inside = isInside(core.netnsDir, key)
        if (!inside && !sbOptions?.allowOutsideSandboxDir) {
          throw new ControllerError(
            ERR_SANDBOX_KEY_OUTSIDE,
            `sandbox key ${key} is outside the sandbox directory ${core.netnsDir} (allowOutsideSandboxDir permits it)`,
            { kind: 'invalid' },
          )
        }
        if (core.sandboxes.groupSize(key) > 0 || sandboxBackend.exists(key)) {
          throw new ControllerError(ERR_SANDBOX_EXISTS, `sandbox ${key} already exists`, { kind: 'conflict' })
        }
        checkSandboxParent(path.dirname(key), inside)
        // A mark of this store's with no record and no namespace is stale (a crash): it goes first.
        const stale = readOwnerMark(key)
        if (stale === store.id || stale === '') removeOwnerMark(key, stale)
        if (!writeOwnerMark(key, store.id)) {
          throw new ControllerError(
            ERR_SANDBOX_EXISTS,
            `sandbox ${key}: ${ownerMarkPath(key)} already exists (another store's sandbox, or not cnm's)`,
            { kind: 'conflict' },
          )
        }
        let sb: SandboxHandle
        try {
          sb = await sandboxBackend.create(key)
        } catch (err) {
          removeOwnerMark(key, store.id)
          throw err
        }
        const row = { id: generateID(), containerId: containerID, key, ...(name === undefined ? {} : { name }) }
        try {
          store.insertSandbox(row)
        } catch (err) {
          await sb.destroy()
          removeOwnerMark(key, store.id)
          throw err
        }
        return {
          value: row.id,
          apply: () => {
            core.sandboxes.set(row.id, row)
            core.open.set(key, sb)
          },
          undo: async () => {
            await sb.destroy()
            removeOwnerMark(key, store.id)
          },
        }
      }).then((id) => sandboxView(core, id)),
    sandboxes: () => [...core.sandboxes.keys()].map((id) => sandboxView(core, id)),
    sandboxByID: (id) => (core.sandboxes.has(id) ? sandboxView(core, id) : undefined),
    sandboxByRef: (ref) => {
      if (core.sandboxes.has(ref)) return sandboxView(core, ref)
      for (const s of core.sandboxes.values())
        if (s.containerId === ref || s.key === ref) return sandboxView(core, s.id)
      return undefined
    },
    ports: () => [...core.endpoints.keys()].flatMap((eid) => endpointPorts(core, eid)),
    refresh: () => run(core, async () => ({ value: undefined })),
    reconcile: () => reconcile(),
    onChange: (listener) => addChangeListener(core, listener),
    async close() {
      if (core.closed) return
      await core.global?.stop()
      await core.queue
      core.closed = true
      try {
        for (const sb of core.open.values()) sb.close()
        core.open.clear()
        for (const d of core.drivers.values()) await d.close().catch(() => undefined)
      } finally {
        store.close()
      }
    },
  }
}
