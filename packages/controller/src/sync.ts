import type { BridgeEndpointRecord, BridgeNetworkRecord } from '@cnm/bridge'
import { type Core, makeDriver } from './core.js'
import type { StoreSnapshot } from './store.js'
import type { ReconcileReport } from './types.js'

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

async function ensureDrivers(core: Core, snap: StoreSnapshot): Promise<void> {
  const types = new Map(snap.drivers.map((d) => [d.type, d.options]))
  for (const n of snap.networks) if (!types.has(n.type)) types.set(n.type, {})
  for (const [type, options] of types) {
    if (core.drivers.has(type)) continue
    core.drivers.set(type, await makeDriver(core, options))
  }
}

/**
 * Brings the in-memory tables and the drivers in line with the store: networks and endpoints the
 * store has and this process does not are restored into their driver (reserving their addresses
 * and ports first); ones this process has and the store no longer has are forgotten (addresses and
 * ports released here, nothing in the kernel touched). Endpoints whose veth is gone are
 * dropped from the store, after everything else is reserved. Sandboxes and joins are reloaded.
 */
export async function syncFromStore(core: Core, snap: StoreSnapshot, report: ReconcileReport): Promise<void> {
  await ensureDrivers(core, snap)
  const storeNets = new Map(snap.networks.map((n) => [n.id, n]))
  const storeEps = new Map(snap.endpoints.map((e) => [e.id, e]))
  // Forget what another process deleted, endpoints first. Their kernel parts are gone, or another's
  // now (a new network may reuse a bridge name): addresses and ports are released here, nothing in
  // the kernel is touched.
  for (const [id, ep] of core.endpoints) {
    if (storeEps.has(id)) continue
    const net = core.networks.get(ep.networkId)
    try {
      if (net) core.drivers.get(net.type)?.forgetEndpoint(ep.networkId, id)
    } catch {
      // Not held by the driver: nothing to forget.
    }
    core.endpoints.delete(id)
  }
  for (const [id, net] of core.networks) {
    if (storeNets.has(id)) continue
    await core.drivers
      .get(net.type)
      ?.forgetNetwork(id)
      .catch(() => undefined)
    core.networks.delete(id)
  }
  // Restore what this process does not hold yet.
  for (const net of snap.networks) {
    if (core.networks.has(net.id)) continue
    const driver = core.drivers.get(net.type)
    try {
      const outcome = await driver?.restoreNetwork(net.record as BridgeNetworkRecord)
      if (outcome === 'rebuilt') {
        report.rebuiltNetworks.push(net.name)
        core.store.updateNetworkRecord(net.id, driver?.exportNetwork(net.id))
      }
      core.networks.set(net.id, net)
    } catch (err) {
      report.errors.push(`restore network ${net.name}: ${message(err)}`)
    }
  }
  const gone: string[] = []
  for (const ep of snap.endpoints) {
    if (core.endpoints.has(ep.id)) continue
    const net = core.networks.get(ep.networkId)
    if (!net) continue
    try {
      const outcome = await core.drivers.get(net.type)?.restoreEndpoint(ep.networkId, ep.record as BridgeEndpointRecord)
      if (outcome === 'gone') gone.push(ep.id)
      else core.endpoints.set(ep.id, ep)
    } catch (err) {
      report.errors.push(`restore endpoint ${ep.name}: ${message(err)}`)
    }
  }
  // Only now, with everything held reserved, release what is gone.
  for (const id of gone) {
    const ep = storeEps.get(id)
    core.store.deleteEndpoint(id)
    if (ep) report.droppedEndpoints.push(ep.name)
  }
  core.sandboxes = new Map(snap.sandboxes.map((s) => [s.id, s]))
  core.joins = new Map(snap.joins.filter((j) => core.endpoints.has(j.endpointId)).map((j) => [j.endpointId, j]))
}
