import { lstatSync, readdirSync, unlinkSync } from 'node:fs'
import path from 'node:path'
import type { KnownRecords } from '@cnm/driverapi'
import { inBatch } from './batch.js'
import type { Core } from './core.js'
import { repairHostJoins } from './host-joins.js'
import { readOwnerMark, removeOwnerMark } from './owner-mark.js'
import { ensureDrivers, forgetEndpoint, forgetNetwork, syncFromStore } from './sync.js'
import type { ReconcileReport } from './types.js'
import { unheldPortProblems } from './unheld-ports.js'

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

/** What the store records of one driver's networks and endpoints: never strays, even when their restore failed. */
function recordsOf(core: Core, type: string): KnownRecords {
  return core.store.recordsOfType(type)
}

/** Drops what persistent drivers hold from them and from the tables (nothing in the kernel changes). */
async function forgetHeld(core: Core): Promise<void> {
  const persistent = (networkId: string) => {
    const net = core.networks.get(networkId)
    const driver = net ? core.drivers.get(net.type) : undefined
    return driver?.persistence ? driver : undefined
  }
  for (const ep of [...core.endpoints.values()]) {
    const driver = persistent(ep.networkId)
    if (!driver) continue
    await forgetEndpoint(driver, ep.networkId, ep.id).catch(() => undefined)
    core.endpoints.delete(ep.id)
  }
  for (const id of [...core.networks.keys()]) {
    const driver = persistent(id)
    if (!driver) continue
    await forgetNetwork(driver, id).catch(() => undefined)
    core.networks.delete(id)
  }
}

/**
 * Sandbox handles remember the interfaces they added: one whose interface was deleted behind cnm's
 * back would refuse that name again (EEXIST). They are reopened from the kernel on next use; a
 * handle a caller lent to `join` is theirs, and is only forgotten.
 */
function forgetSandboxHandles(core: Core): void {
  for (const sb of core.open.values()) if (!core.lent.has(sb)) sb.close()
  core.open.clear()
}

/** Removes an empty regular file where a namespace was to be bound (nothing else); true if removed. */
function removeMountPoint(key: string): boolean {
  try {
    const st = lstatSync(key)
    if (!st.isFile() || st.size !== 0) return false
    unlinkSync(key)
    return true
  } catch {
    return false
  }
}

/** Sandboxes whose namespace is gone lose their records (and joins). */
function dropDeadSandboxes(core: Core, report: ReconcileReport): void {
  for (const sb of [...core.sandboxes.values()]) {
    if (core.sandboxBackend.exists(sb.key)) continue
    core.store.deleteSandbox(sb.id)
    // Ours (marked): a removal cut short between unmount and unlink leaves its empty mount point.
    if (readOwnerMark(sb.key) === core.store.id) removeMountPoint(sb.key)
    removeOwnerMark(sb.key, core.store.id)
    core.sandboxes.delete(sb.id)
    for (const j of core.joins.inGroup(sb.id)) core.joins.delete(j.endpointId)
    core.open.delete(sb.key)
    report.droppedSandboxes.push(sb.key)
  }
}

/**
 * Namespaces bound in the controller's directory that no record knows, and that this store made
 * (their owner marker says so), are removed; so are this store's markers left without a namespace.
 */
async function removeStrayNamespaces(core: Core, report: ReconcileReport): Promise<void> {
  let names: string[] = []
  try {
    names = readdirSync(core.netnsDir)
  } catch {
    return
  }
  // Known: sandbox records, and the sandboxes endpoints were created in (the README flow makes its
  // sandbox with @cnm/sandbox directly and hands its key to createEndpoint).
  const known = new Set([...core.sandboxes.values()].map((s) => s.key))
  for (const ep of core.endpoints.values()) if (ep.sandboxKey) known.add(ep.sandboxKey)
  const exists = (key: string): boolean => core.sandboxBackend.exists(key)
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    const key = path.join(core.netnsDir, name)
    if (known.has(key) || readOwnerMark(key) !== core.store.id) continue
    if (!exists(key)) {
      // This store's sandbox cut short between its mount point and the bind (or its unmount and
      // unlink): the empty file would refuse the name for good.
      if (removeMountPoint(key)) {
        removeOwnerMark(key, core.store.id)
        report.removedNamespaces.push(key)
      }
      continue
    }
    try {
      await (await core.sandboxBackend.open(key)).destroy()
      removeOwnerMark(key, core.store.id)
      report.removedNamespaces.push(key)
    } catch (err) {
      report.errors.push(`remove namespace ${key}: ${message(err)}`)
    }
  }
  for (const name of names.filter((n) => n.startsWith('.') && n.endsWith('.cnm-owner'))) {
    const key = path.join(core.netnsDir, name.slice(1, -'.cnm-owner'.length))
    if (known.has(key) || exists(key)) continue
    // Ours, or empty: a process killed between creating a mark and writing it leaves an empty one,
    // which would refuse that sandbox name for good (an empty mark names no owner to protect).
    const mark = readOwnerMark(key)
    if (mark === core.store.id || mark === '') removeOwnerMark(key, mark)
  }
}

/** Endpoints whose kernel parts are gone lose their records, addresses and ports. */
async function dropDeadEndpoints(core: Core, report: ReconcileReport): Promise<void> {
  for (const ep of [...core.endpoints.values()]) {
    const net = core.networks.get(ep.networkId)
    const driver = net ? core.drivers.get(net.type) : undefined
    const alive = driver?.persistence ? await driver.persistence.endpointAlive(ep.networkId, ep.id) : true
    if (!driver || alive) continue
    await driver.deleteEndpoint(ep.networkId, ep.id).catch(() => undefined)
    core.store.deleteEndpoint(ep.id)
    core.endpoints.delete(ep.id)
    core.joins.delete(ep.id)
    report.droppedEndpoints.push(ep.name)
  }
}

/**
 * Compares the store with the kernel and repairs both ways. Store → kernel: records whose kernel
 * parts are gone are rebuilt (a network's bridge) or removed (an endpoint without its veth, a
 * sandbox without its namespace). Kernel → store: links, firewall rules and namespaces that carry
 * cnm's marks but that no record knows are removed (each driver judges its own). Runs inside the
 * operation lock.
 */
export async function reconcileCore(
  core: Core,
  report: ReconcileReport,
  options: { justRestored?: boolean } = {},
): Promise<void> {
  // Look at the kernel, not at what this process remembers: everything a persistent driver holds
  // is forgotten and restored from the store again, which is what finds a deleted, renamed or
  // downed bridge, a flushed firewall table, a veth off its bridge (a process that has just
  // restored everything skips this).
  if (!options.justRestored) {
    await forgetHeld(core)
    forgetSandboxHandles(core)
  }
  // One look at the kernel per driver for the restores, liveness checks and strays (see inBatch).
  await inBatch(core, async () => {
    // The store's drivers first, each brought into the batch at once (the nested call): a driver's
    // batch starts its reads of the kernel (the firewall's table listing, on a pool thread) while
    // the store's rows are read and parsed below.
    await ensureDrivers(core, core.store.driverTypes(), report)
    await inBatch(core, async () => undefined)
    await syncFromStore(core, core.store.snapshot(), report)
    dropDeadSandboxes(core, report)
    await dropDeadEndpoints(core, report)
    await repairHostJoins(core, report)
    await removeStrayNamespaces(core, report)
    await removeDriverStrays(core, report)
    report.errors.push(...(await unheldPortProblems(core)))
  })
  report.errors.push(...core.store.allocationProblems())
}

/** Each persistent driver removes its own marked kernel objects that no record names. */
async function removeDriverStrays(core: Core, report: ReconcileReport): Promise<void> {
  for (const [type, driver] of core.drivers) {
    if (!driver.persistence) continue // nothing of it in the kernel
    try {
      const strays = await driver.persistence.removeStrays(recordsOf(core, type))
      report.removedLinks.push(...strays.links)
      report.removedFirewallNetworks.push(...strays.firewallNetworks)
      report.removedFirewallPorts.push(...strays.firewallPorts)
      report.errors.push(...strays.errors)
    } catch (err) {
      report.errors.push(`driver ${driver.name}: ${message(err)}`)
    }
  }
}
