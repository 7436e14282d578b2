import {
  type Driver,
  ERR_NO_ENDPOINT,
  ERR_NO_NETWORK,
  ERR_TEARDOWN,
  hasErrorCode,
  parseInterfaceName,
  pickInterfaceName,
  type SandboxInfo,
  subnetHolding,
} from '@cnm/driverapi'
import { joinedEndpoint, notifyChange } from './changes.js'
import { type Core, driverOf } from './core.js'
import {
  ControllerError,
  ERR_ALREADY_CONNECTED,
  ERR_ENDPOINT_NAME_EXISTS,
  ERR_INTERFACE_NAME_MISMATCH,
  ERR_NOT_JOINED,
  unknownNetwork,
  unknownSandbox,
  validateName,
} from './errors.js'
import { claimEndpointAddress, claimsForDriver, releaseEndpointAddress } from './global-scope.js'
import { generateID } from './id.js'
import type { SandboxHandle } from './sandboxes.js'
import type { EndpointRow, JoinRow, NetworkRow, SandboxRow } from './store.js'
import type { Sandbox } from './types.js'

/**
 * One part of an operation, run inside `run`'s transaction: it has done its kernel work and
 * written the store; `apply` changes the tables after the commit, `undo` takes the kernel work back
 * if the commit fails (or a later part of the same operation does).
 */
export interface Part<T> {
  value: T
  apply: () => void
  undo: () => Promise<unknown>
}

/** Options of a join. */
export interface JoinOptions {
  /** Allow a second endpoint of the same network in one sandbox (two interfaces on one subnet). */
  allowSameNetwork?: boolean
  /**
   * The interface's name inside the sandbox (default: its first free `ethN`); refused with
   * `ERR_INTERFACE_EXISTS` when the namespace has it. An endpoint born inside the sandbox got its
   * name from its driver (the endpoint option `interfaceName`): it must be that one.
   */
  interfaceName?: string
}

/** The namespace handle for a sandbox key, opened once per process. */
export async function netnsSandbox(core: Core, key: string): Promise<SandboxHandle> {
  let sb = core.open.get(key)
  if (!sb) {
    sb = await core.sandboxBackend.open(key)
    core.open.set(key, sb)
  }
  return sb
}

/** The addresses and host ports an endpoint holds, as the store records them (never held twice). */
export function allocations(driver: Driver, nid: string, eid: string) {
  const net = driver.networkInfo(nid)
  const ep = driver.endpointInfo(nid, eid)
  // Each address in the pool of the subnet that holds it (a network may have several per family).
  const ips = [
    [ep.ipv4, net?.subnetV4],
    [ep.ipv6, net?.subnetV6],
  ].flatMap(([ip, first]) => {
    const pool = ip === undefined ? undefined : (subnetHolding(net, ip)?.subnet ?? first)
    return ip !== undefined && pool !== undefined ? [{ pool, ip }] : []
  })
  const ports = ep.ports.flatMap((p) =>
    Array.from({ length: p.hostPortEnd - p.hostPort + 1 }, (_, i) => ({
      proto: p.proto,
      hostIP: p.hostIP,
      port: p.hostPort + i,
    })),
  )
  return { ips, ports }
}

/** Creates an endpoint on a network (its driver's part, then its row and allocations). */
export async function addEndpoint(
  core: Core,
  net: NetworkRow,
  epName: string,
  sandboxKey: string | undefined,
  options: unknown,
  aliases: string[] = [],
): Promise<Part<{ row: EndpointRow; sandboxInfo: SandboxInfo }>> {
  validateName('endpoint', epName)
  if (core.endpoints.inGroup(net.id).some((e) => e.name === epName)) {
    throw new ControllerError(
      ERR_ENDPOINT_NAME_EXISTS,
      `endpoint with name ${epName} already exists in network ${net.name}`,
    )
  }
  const driver = driverOf(core, net.type)
  const eid = generateID()
  // A global network's address is claimed in the cluster first (unless its driver claims it
  // itself, in the transaction that publishes the endpoint); the driver is told which.
  const claim = claimsForDriver(driver) ? await claimEndpointAddress(core, net, eid, options) : undefined
  let sandboxInfo: SandboxInfo
  try {
    sandboxInfo = await driver.createEndpoint(net.id, eid, sandboxKey ?? '', claim?.options ?? options ?? {})
  } catch (err) {
    await claim?.release().catch(() => undefined)
    throw err
  }
  const row: EndpointRow = {
    id: eid,
    networkId: net.id,
    name: epName,
    sandboxKey: sandboxKey ?? '',
    options: options ?? {},
    record: null,
    sandboxInfo,
    ...(aliases.length > 0 ? { aliases } : {}),
  }
  try {
    row.record = driver.persistence?.exportEndpoint(net.id, eid) ?? null
    const a = allocations(driver, net.id, eid)
    core.store.insertEndpoint(row, a.ips, a.ports)
  } catch (err) {
    await driver.deleteEndpoint(net.id, eid).catch(() => undefined)
    await claim?.release().catch(() => undefined)
    throw err
  }
  return {
    value: { row, sandboxInfo },
    apply: () => core.endpoints.set(eid, row),
    undo: async () => {
      await driver.deleteEndpoint(net.id, eid)
      await claim?.release().catch(() => undefined)
    },
  }
}

function sandboxRowByKey(core: Core, key: string): SandboxRow | undefined {
  return core.sandboxes.firstInGroup(key)
}

/** The first `ethN` not in the sandbox, read from the kernel (drivers may have created some). */
async function freeEth(core: Core, key: string, wanted: string | undefined): Promise<string> {
  const view = await core.sandboxBackend.open(key)
  const names = view.interfaces().map((i) => i.dstName)
  view.close()
  return pickInterfaceName(names, wanted, `sandbox ${key}`)
}

/**
 * Joins an endpoint to a sandbox: the driver's `join`, the interface into the namespace, the
 * gateway (from the first network the sandbox joins), static routes, the join row. The sandbox is
 * checked again here, inside the operation: one destroyed meanwhile is refused, never re-created.
 */
export async function joinEndpoint(
  core: Core,
  ep: EndpointRow,
  sandbox: Sandbox | SandboxHandle,
  options: JoinOptions = {},
): Promise<Part<void>> {
  const key = sandbox.key
  const wantedName = parseInterfaceName(options.interfaceName)
  const bornName = ep.sandboxKey === key ? (ep.sandboxInfo as SandboxInfo).interfaces[0]?.dstName : undefined
  if (wantedName !== undefined && bornName !== undefined && bornName !== wantedName) {
    throw new ControllerError(
      ERR_INTERFACE_NAME_MISMATCH,
      `endpoint ${ep.name} was born in sandbox ${key} as ${bornName}, not ${wantedName} (a driver names the interface it creates in a sandbox from the endpoint option interfaceName)`,
    )
  }
  if ('id' in sandbox && !core.sandboxes.has(sandbox.id)) throw unknownSandbox(sandbox.containerID || sandbox.id)
  if (!core.sandboxBackend.exists(key)) throw unknownSandbox(key)
  let sbRow = sandboxRowByKey(core, key)
  const already = sbRow
    ? core.joins.inGroup(sbRow.id).find((j) => core.endpoints.get(j.endpointId)?.networkId === ep.networkId)
    : undefined
  if (already && !options.allowSameNetwork) {
    const net = core.networks.get(ep.networkId)
    throw new ControllerError(
      ERR_ALREADY_CONNECTED,
      `sandbox ${key} is already connected to network ${net?.name ?? ep.networkId} (endpoint ${core.endpoints.get(already.endpointId)?.name}): a second interface on one subnet needs allowSameNetwork`,
    )
  }
  const newRow = !sbRow
  sbRow ??= { id: generateID(), containerId: '', key }
  if (newRow) core.store.insertSandbox(sbRow)
  if (!('id' in sandbox)) {
    core.open.set(key, sandbox)
    core.lent.add(sandbox)
  }
  const sb = await netnsSandbox(core, key)
  const net = core.networks.get(ep.networkId)
  if (!net) throw unknownNetwork(ep.networkId)
  const driver = driverOf(core, net.type)
  const joined = await driver.join(ep.networkId, ep.id, key, {})
  const info = { ...(ep.sandboxInfo as SandboxInfo), ...joined }
  const iface = info.interfaces[0]
  // A driver may give no interface at all (`null`: loopback only): the join is recorded all the same.
  const dstName = !iface ? '' : ep.sandboxKey === key ? iface.dstName : await freeEth(core, key, wantedName)
  const undo = async (): Promise<void> => {
    if (dstName) await sb.removeInterface(dstName).catch(() => undefined)
    await driver.leave(ep.networkId, ep.id).catch(() => undefined)
  }
  const join: JoinRow = {
    endpointId: ep.id,
    sandboxId: sbRow.id,
    interfaceName: dstName,
    origin: ep.sandboxKey === key ? 'sandbox' : 'host',
    srcName: iface?.srcName ?? '',
  }
  const sandboxId = sbRow.id
  try {
    if (iface) await sb.addInterface({ ...iface, dstName })
    const hasGateway = core.joins
      .inGroup(sandboxId)
      .some((j) => (core.endpoints.get(j.endpointId)?.sandboxInfo as SandboxInfo | undefined)?.gateway)
    if (!hasGateway && info.gateway) await sb.setGateway(info.gateway)
    if (!hasGateway && info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
    for (const route of info.staticRoutes ?? []) await sb.addStaticRoute(route)
    core.store.insertJoin(join)
  } catch (err) {
    await undo() // the interface leaves again: nothing half-joined stays behind
    throw err
  }
  const madeRow = sbRow
  return {
    value: undefined,
    undo,
    apply: () => {
      if (newRow) core.sandboxes.set(madeRow.id, madeRow)
      core.joins.set(ep.id, join)
      const joined = joinedEndpoint(core, ep)
      if (joined) notifyChange(core, { type: 'join', endpoint: joined })
    },
  }
}

/**
 * Takes an endpoint out of its sandbox: its interface leaves (back to the host when it came from
 * there), the default route goes to another joined network, the driver's `leave`, the join row.
 * Returns what to apply to the tables after the commit.
 */
export async function leaveEndpoint(
  core: Core,
  ep: EndpointRow,
  options: { endpointGoes?: boolean } = {},
): Promise<() => void> {
  const id = ep.id
  const join = core.joins.get(id)
  if (!join) throw new ControllerError(ERR_NOT_JOINED, `endpoint ${ep.name} is not joined to a sandbox`)
  const sbRow = core.sandboxes.get(join.sandboxId)
  const net = core.networks.get(ep.networkId)
  // An endpoint deleted next, whose driver takes its interface gone: deleted where it is, not moved
  // back to the host first (the move costs the kernel as much as the deletion).
  const discard = options.endpointGoes === true && net !== undefined && discards(core, net.type, ep.networkId, id)
  if (sbRow && core.sandboxBackend.exists(sbRow.key)) {
    const sb = await netnsSandbox(core, sbRow.key)
    if (join.interfaceName && sb.interfaces().some((i) => i.dstName === join.interfaceName)) {
      // A reopened sandbox cannot know an interface came from the host: the join row does.
      await sb.removeInterface(
        join.interfaceName,
        discard ? { discard } : join.origin === 'host' ? { returnTo: { name: join.srcName } } : undefined,
      )
    }
    const other = core.joins.inGroup(join.sandboxId).find((j) => j.endpointId !== id)
    const gw = other
      ? (core.endpoints.get(other.endpointId)?.sandboxInfo as SandboxInfo | undefined)?.gateway
      : undefined
    if (gw) await sb.setGateway(gw).catch(() => undefined)
  }
  // The driver's part after the interface left; an endpoint its driver no longer holds has none.
  if (net) {
    await driverOf(core, net.type)
      .leave(ep.networkId, id)
      .catch((err: unknown) => {
        if (!hasErrorCode(err, ERR_NO_ENDPOINT) && !hasErrorCode(err, ERR_NO_NETWORK)) throw err
      })
  }
  core.store.deleteJoin(id)
  const forget = sbRow && implicitSandboxEmptied(core, sbRow, id)
  if (forget) core.store.deleteSandbox(sbRow.id)
  return () => {
    core.joins.delete(id)
    if (forget) forgetSandbox(core, sbRow)
    notifyChange(core, { type: 'leave', endpointId: id, networkId: ep.networkId })
  }
}

/**
 * Whether the endpoint's interface may be deleted in its sandbox: its driver deletes an endpoint
 * whose interface went with its sandbox end, and holds this endpoint (one it failed to restore
 * would refuse the delete, the transaction would roll back, and the interface must still exist).
 */
function discards(core: Core, type: string, nid: string, eid: string): boolean {
  const driver = core.drivers.get(type)
  if (driver?.capabilities.deletesInterfaceAnywhere !== true) return false
  try {
    driver.endpointInfo(nid, eid)
    return true
  } catch {
    return false
  }
}

/**
 * A sandbox record the join made itself, for a namespace handle it was lent (no container: a CNI
 * attachment's namespace), holds nothing but its joins: it goes with its last one, at once, not at
 * the next reconcile. The namespace is the lender's and stays.
 */
function implicitSandboxEmptied(core: Core, sbRow: SandboxRow, leaving: string): boolean {
  if (sbRow.containerId !== '' || sbRow.name !== undefined) return false
  for (const j of core.joins.inGroup(sbRow.id)) if (j.endpointId !== leaving) return false
  return true
}

function forgetSandbox(core: Core, sbRow: SandboxRow): void {
  core.sandboxes.delete(sbRow.id)
  const handle = core.open.get(sbRow.key)
  if (handle && !core.lent.has(handle)) handle.close()
  core.open.delete(sbRow.key)
}

/**
 * Deletes an endpoint: it leaves its sandbox first, then its driver's part goes, then its row and
 * allocations. A teardown that partly failed is still done (the record goes); its error is raised
 * by the returned apply, after the commit.
 */
export async function removeEndpoint(core: Core, ep: EndpointRow): Promise<() => void> {
  const applyLeave = core.joins.has(ep.id) ? await leaveEndpoint(core, ep, { endpointGoes: true }) : undefined
  const net = core.networks.get(ep.networkId)
  let teardown: unknown
  if (net) {
    try {
      await driverOf(core, net.type).deleteEndpoint(ep.networkId, ep.id)
    } catch (err) {
      if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
      teardown = err
    }
  }
  core.store.deleteEndpoint(ep.id)
  // The cluster's claim goes too; when etcd is away, the next global reconcile releases it.
  if (net && core.global && claimsForDriver(driverOf(core, net.type))) {
    await releaseEndpointAddress(core, net, ep).catch(() => undefined)
  }
  return () => {
    applyLeave?.()
    core.endpoints.delete(ep.id)
    if (teardown) throw teardown
  }
}
