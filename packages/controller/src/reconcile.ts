import { readdirSync } from 'node:fs'
import path from 'node:path'
import type { BridgeEndpointRecord, BridgeNetworkRecord, KnownObjects } from '@cnm/bridge'
import { openSandbox, sandboxExists } from '@cnm/sandbox'
import type { Core } from './core.js'
import { readOwnerMark, removeOwnerMark } from './owner-mark.js'
import { syncFromStore } from './sync.js'
import type { ReconcileReport } from './types.js'

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

/** What the store records: never a stray, even when its restore failed (a transient error). */
function recordedObjects(core: Core): KnownObjects {
  const snap = core.store.snapshot()
  const links = new Set<string>()
  const ports = new Set<string>()
  for (const n of snap.networks) links.add((n.record as BridgeNetworkRecord).bridgeName)
  for (const e of snap.endpoints) {
    const r = e.record as BridgeEndpointRecord
    links.add(r.hostVeth)
    for (const p of r.ports) for (let port = p.hostPort; port <= p.hostPortEnd; port++) ports.add(`${p.proto}/${port}`)
  }
  return {
    networks: new Set(snap.networks.map((n) => n.id)),
    endpoints: new Set(snap.endpoints.map((e) => e.id)),
    links,
    ports,
  }
}

/** Sandboxes whose namespace is gone lose their records (and joins). */
function dropDeadSandboxes(core: Core, report: ReconcileReport): void {
  for (const sb of [...core.sandboxes.values()]) {
    if (sandboxExists(sb.key)) continue
    core.store.deleteSandbox(sb.id)
    removeOwnerMark(sb.key)
    core.sandboxes.delete(sb.id)
    for (const [eid, j] of core.joins) if (j.sandboxId === sb.id) core.joins.delete(eid)
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
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    const key = path.join(core.netnsDir, name)
    if (known.has(key) || !sandboxExists(key) || readOwnerMark(key) !== core.store.id) continue
    try {
      await (await openSandbox(key)).destroy()
      removeOwnerMark(key)
      report.removedNamespaces.push(key)
    } catch (err) {
      report.errors.push(`remove namespace ${key}: ${message(err)}`)
    }
  }
  for (const name of names.filter((n) => n.startsWith('.') && n.endsWith('.cnm-owner'))) {
    const key = path.join(core.netnsDir, name.slice(1, -'.cnm-owner'.length))
    if (!known.has(key) && !sandboxExists(key) && readOwnerMark(key) === core.store.id) removeOwnerMark(key)
  }
}

/** Endpoints whose veth is gone lose their records, addresses and ports. */
async function dropDeadEndpoints(core: Core, report: ReconcileReport): Promise<void> {
  for (const ep of [...core.endpoints.values()]) {
    const net = core.networks.get(ep.networkId)
    const driver = net ? core.drivers.get(net.type) : undefined
    if (!driver || (await driver.endpointAlive(ep.networkId, ep.id))) continue
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
 * sandbox without its namespace). Kernel → store: bridges, veths, firewall rules and namespaces
 * that carry cnm's marks but that no record knows are removed. Runs inside the operation lock.
 */
export async function reconcileCore(core: Core, report: ReconcileReport): Promise<void> {
  await syncFromStore(core, core.store.snapshot(), report)
  dropDeadSandboxes(core, report)
  await dropDeadEndpoints(core, report)
  await removeStrayNamespaces(core, report)
  const known = recordedObjects(core)
  for (const driver of core.drivers.values()) {
    try {
      const strays = await driver.removeStrays(known)
      report.removedLinks.push(...strays.links)
      report.removedFirewallNetworks.push(...strays.firewallNetworks)
      report.removedFirewallPorts.push(...strays.firewallPorts)
      report.errors.push(...strays.errors)
    } catch (err) {
      report.errors.push(`driver ${driver.name}: ${message(err)}`)
    }
  }
  report.errors.push(...core.store.allocationProblems())
}
