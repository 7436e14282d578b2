import type { Driver, RestoreOutcome } from '@cnm/driverapi'
import { inBatch } from './batch.js'
import { type Core, joinTable, makeDriver, sandboxTable } from './core.js'
import { rowInput } from './network-ipam.js'
import type { EndpointRow, NetworkRow, StoreSnapshot } from './store.js'
import type { ReconcileReport } from './types.js'

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

/** Reports a problem once, however many syncs meet it before the next reconcile. */
function note(report: ReconcileReport, line: string): void {
  if (!report.errors.includes(line)) report.errors.push(line)
}

/** Makes the driver of every type the store names that this process has not made yet. */
export async function ensureDrivers(
  core: Core,
  snap: Pick<StoreSnapshot, 'drivers'> & { networks: Pick<NetworkRow, 'type'>[] },
  report: ReconcileReport,
): Promise<void> {
  const types = new Map(snap.drivers.map((d) => [d.type, d.options]))
  for (const n of snap.networks) if (!types.has(n.type)) types.set(n.type, {})
  for (const [type, options] of types) {
    if (core.drivers.has(type)) continue
    try {
      core.drivers.set(type, await makeDriver(core, type, options))
    } catch (err) {
      // A driver another program registered, or one that fails to start: its networks wait.
      note(report, `driver ${type}: ${message(err)}`)
    }
  }
}

/**
 * Takes a recorded network back into its driver: through the driver's persistence, or — for a
 * driver without it, which holds nothing in the kernel — by creating it again from its options.
 */
function restoreNetwork(driver: Driver, net: NetworkRow): Promise<RestoreOutcome> {
  const p = driver.persistence
  if (p) return p.restoreNetwork(net.id, net.record)
  const input = rowInput(net)
  return driver.createNetwork(net.id, input.options, input.ipam).then(() => 'restored' as const)
}

function restoreEndpoint(driver: Driver, ep: EndpointRow): Promise<RestoreOutcome> {
  const p = driver.persistence
  if (p) return p.restoreEndpoint(ep.networkId, ep.id, ep.record)
  return driver.createEndpoint(ep.networkId, ep.id, ep.sandboxKey, ep.options).then(() => 'restored' as const)
}

/** Drops from the driver's memory without touching the kernel (a driver without persistence has nothing there). */
export function forgetEndpoint(driver: Driver, nid: string, eid: string): Promise<void> {
  return driver.persistence ? driver.persistence.forgetEndpoint(nid, eid) : driver.deleteEndpoint(nid, eid)
}

export function forgetNetwork(driver: Driver, nid: string): Promise<void> {
  return driver.persistence ? driver.persistence.forgetNetwork(nid) : driver.deleteNetwork(nid)
}

/**
 * Brings the in-memory tables and the drivers in line with the store: networks and endpoints the
 * store has and this process does not are restored into their driver (reserving their addresses
 * and ports first); ones this process has and the store no longer has are forgotten (addresses and
 * ports released here, nothing in the kernel touched). Endpoints whose kernel parts are gone are
 * dropped from the store, after everything else is reserved. Sandboxes and joins are reloaded.
 */
export async function syncFromStore(core: Core, snap: StoreSnapshot, report: ReconcileReport): Promise<void> {
  await ensureDrivers(core, snap, report)
  // The restores below share one look at the kernel per driver (see inBatch).
  await inBatch(core, () => syncTables(core, snap, report))
}

async function syncTables(core: Core, snap: StoreSnapshot, report: ReconcileReport): Promise<void> {
  const storeNets = new Map(snap.networks.map((n) => [n.id, n]))
  const storeEps = new Map(snap.endpoints.map((e) => [e.id, e]))
  // Forget what another process deleted, endpoints first. Their kernel parts are gone, or another's
  // now (a new network may reuse a bridge name): addresses and ports are released here, nothing in
  // the kernel is touched.
  for (const [id, ep] of core.endpoints) {
    if (storeEps.has(id)) continue
    const net = core.networks.get(ep.networkId)
    const driver = net ? core.drivers.get(net.type) : undefined
    if (driver) await forgetEndpoint(driver, ep.networkId, id).catch(() => undefined) // not held: nothing to forget
    core.endpoints.delete(id)
  }
  for (const [id, net] of core.networks) {
    if (storeNets.has(id)) continue
    const driver = core.drivers.get(net.type)
    if (driver) await forgetNetwork(driver, id).catch(() => undefined)
    core.networks.delete(id)
  }
  // Restore what this process does not hold yet.
  for (const net of snap.networks) {
    if (core.networks.has(net.id)) continue
    const driver = core.drivers.get(net.type)
    if (!driver) continue // reported by ensureDrivers
    try {
      const outcome = await restoreNetwork(driver, net)
      if (outcome === 'rebuilt') {
        report.rebuiltNetworks.push(net.name)
        core.store.updateNetworkRecord(net.id, driver.persistence?.exportNetwork(net.id) ?? null)
      }
      core.networks.set(net.id, net)
    } catch (err) {
      note(report, `restore network ${net.name}: ${message(err)}`)
    }
  }
  const gone: string[] = []
  for (const ep of snap.endpoints) {
    if (core.endpoints.has(ep.id)) continue
    const net = core.networks.get(ep.networkId)
    const driver = net ? core.drivers.get(net.type) : undefined
    if (!driver) continue
    try {
      const outcome = await restoreEndpoint(driver, ep)
      if (outcome === 'gone') gone.push(ep.id)
      else core.endpoints.set(ep.id, ep)
    } catch (err) {
      note(report, `restore endpoint ${ep.name}: ${message(err)}`)
    }
  }
  // Only now, with everything held reserved, release what is gone.
  for (const id of gone) {
    const ep = storeEps.get(id)
    core.store.deleteEndpoint(id)
    if (ep) report.droppedEndpoints.push(ep.name)
  }
  core.sandboxes = sandboxTable(snap.sandboxes)
  core.joins = joinTable(snap.joins.filter((j) => core.endpoints.has(j.endpointId)))
}
