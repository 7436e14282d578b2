import type { Driver, SandboxInfo } from '@cnm/driverapi'
import { type Core, driverOf, run } from './core.js'
import {
  ControllerError,
  ERR_ACTIVE_ENDPOINTS,
  ERR_ALREADY_JOINED,
  ERR_ENDPOINT_NAME_EXISTS,
  ERR_NOT_JOINED,
  unknownEndpoint,
  unknownNetwork,
  unknownSandbox,
  validateName,
} from './errors.js'
import { generateID } from './id.js'
import { inspectEndpoint, inspectNetwork } from './inspect.js'
import { ERR_NO_ENDPOINT, ERR_NO_NETWORK, ERR_TEARDOWN, hasErrorCode } from '@cnm/driverapi'
import { removeOwnerMark } from './owner-mark.js'
import type { SandboxHandle } from './sandboxes.js'
import type { EndpointRow, JoinRow, NetworkRow, SandboxRow } from './store.js'
import type { Endpoint, Network, Sandbox } from './types.js'

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
function allocations(driver: Driver, nid: string, eid: string) {
  const net = driver.networkInfo(nid)
  const ep = driver.endpointInfo(nid, eid)
  const ips = [
    ...(ep.ipv4 && net?.subnetV4 ? [{ pool: net.subnetV4, ip: ep.ipv4 }] : []),
    ...(ep.ipv6 && net?.subnetV6 ? [{ pool: net.subnetV6, ip: ep.ipv6 }] : []),
  ]
  const ports = ep.ports.flatMap((p) =>
    Array.from({ length: p.hostPortEnd - p.hostPort + 1 }, (_, i) => ({
      proto: p.proto,
      hostIP: p.hostIP,
      port: p.hostPort + i,
    })),
  )
  return { ips, ports }
}

export function networkView(core: Core, id: string, initial?: NetworkRow): Network {
  const row = (): NetworkRow => {
    const n = core.networks.get(id)
    if (!n) throw unknownNetwork(id)
    return n
  }
  const { name, type } = initial ?? row()
  const self: Network = {
    name,
    id,
    type,
    inspect: () => inspectNetwork(core, id),
    createEndpoint: (epName, sandboxKey, options) =>
      run(core, async () => {
        validateName('endpoint', epName)
        const net = row()
        if ([...core.endpoints.values()].some((e) => e.networkId === id && e.name === epName)) {
          throw new ControllerError(
            ERR_ENDPOINT_NAME_EXISTS,
            `endpoint with name ${epName} already exists in network ${net.name}`,
          )
        }
        const driver = driverOf(core, net.type)
        const eid = generateID()
        const sandboxInfo = await driver.createEndpoint(id, eid, sandboxKey ?? '', options ?? {})
        const ep: EndpointRow = {
          id: eid,
          networkId: id,
          name: epName,
          sandboxKey: sandboxKey ?? '',
          options: options ?? {},
          record: null,
          sandboxInfo,
        }
        try {
          ep.record = driver.persistence?.exportEndpoint(id, eid) ?? null
          const a = allocations(driver, id, eid)
          core.store.insertEndpoint(ep, a.ips, a.ports)
        } catch (err) {
          await driver.deleteEndpoint(id, eid).catch(() => undefined)
          throw err
        }
        return {
          value: { endpoint: endpointView(core, eid, self, ep), sandboxInfo },
          apply: () => core.endpoints.set(eid, ep),
          undo: () => driver.deleteEndpoint(id, eid),
        }
      }),
    endpoints: () =>
      [...core.endpoints.values()].filter((e) => e.networkId === id).map((e) => endpointView(core, e.id, self)),
    delete: () =>
      run(core, async () => {
        const net = row()
        const count = [...core.endpoints.values()].filter((e) => e.networkId === id).length
        if (count > 0) throw new ControllerError(ERR_ACTIVE_ENDPOINTS, `network ${net.name} has active endpoints`)
        let teardown: unknown
        try {
          await driverOf(core, net.type).deleteNetwork(id)
        } catch (err) {
          if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
          teardown = err
        }
        core.store.deleteNetwork(id)
        return { value: undefined, apply: () => reportTeardown(core.networks.delete(id), teardown) }
      }),
  }
  return self
}

/** A teardown that partly failed is still done: the record goes, the error is raised after. */
function reportTeardown(_done: unknown, err: unknown): void {
  if (err) throw err
}

function keyOf(sandbox: Sandbox | SandboxHandle): string {
  return sandbox.key
}

function sandboxRowByKey(core: Core, key: string): SandboxRow | undefined {
  return [...core.sandboxes.values()].find((s) => s.key === key)
}

/** The first `ethN` not in the sandbox, read from the kernel (drivers may have created some). */
async function freeEth(core: Core, key: string): Promise<string> {
  const view = await core.sandboxBackend.open(key)
  const names = new Set(view.interfaces().map((i) => i.dstName))
  view.close()
  for (let i = 0; ; i++) if (!names.has(`eth${i}`)) return `eth${i}`
}

export function endpointView(core: Core, id: string, network: Network, initial?: EndpointRow): Endpoint {
  const row = (): EndpointRow => {
    const e = core.endpoints.get(id)
    if (!e) throw unknownEndpoint(id)
    return e
  }
  const { name, sandboxInfo } = initial ?? row()
  const leave = async (ep: EndpointRow): Promise<() => void> => {
    const join = core.joins.get(id)
    if (!join) throw new ControllerError(ERR_NOT_JOINED, `endpoint ${ep.name} is not joined to a sandbox`)
    const sbRow = core.sandboxes.get(join.sandboxId)
    if (sbRow) {
      const sb = await netnsSandbox(core, sbRow.key)
      if (join.interfaceName && sb.interfaces().some((i) => i.dstName === join.interfaceName)) {
        // A reopened sandbox cannot know an interface came from the host: the join row does.
        await sb.removeInterface(
          join.interfaceName,
          join.origin === 'host' ? { returnTo: { name: join.srcName } } : undefined,
        )
      }
      const other = [...core.joins.values()].find((j) => j.sandboxId === join.sandboxId && j.endpointId !== id)
      const gw = other
        ? (core.endpoints.get(other.endpointId)?.sandboxInfo as SandboxInfo | undefined)?.gateway
        : undefined
      if (gw) await sb.setGateway(gw).catch(() => undefined)
    }
    const net = core.networks.get(ep.networkId)
    // The driver's part after the interface left; an endpoint its driver no longer holds has none.
    if (net)
      await driverOf(core, net.type)
        .leave(ep.networkId, id)
        .catch((err: unknown) => {
          if (!hasErrorCode(err, ERR_NO_ENDPOINT) && !hasErrorCode(err, ERR_NO_NETWORK)) throw err
        })
    core.store.deleteJoin(id)
    return () => core.joins.delete(id)
  }
  return {
    name,
    id,
    network,
    sandboxInfo: sandboxInfo as SandboxInfo,
    inspect: () => inspectEndpoint(core, id),
    join: (sandbox) =>
      run(core, async () => {
        const ep = row()
        if (core.joins.has(id)) throw new ControllerError(ERR_ALREADY_JOINED, `endpoint ${ep.name} is already joined`)
        const key = keyOf(sandbox)
        let sbRow = sandboxRowByKey(core, key)
        const newRow = !sbRow
        sbRow ??= { id: generateID(), containerId: '', key }
        if (newRow) core.store.insertSandbox(sbRow)
        if (!('id' in sandbox)) core.open.set(key, sandbox)
        const sb = await netnsSandbox(core, key)
        const net = core.networks.get(ep.networkId)
        if (!net) throw unknownNetwork(ep.networkId)
        const driver = driverOf(core, net.type)
        const joined = await driver.join(ep.networkId, id, key, {})
        const info = { ...(ep.sandboxInfo as SandboxInfo), ...joined }
        const iface = info.interfaces[0]
        // A driver may give no interface at all (`null`: loopback only): the join is recorded all the same.
        const dstName = !iface ? '' : ep.sandboxKey === key ? iface.dstName : await freeEth(core, key)
        const undoJoin = async (): Promise<void> => {
          if (dstName) await sb.removeInterface(dstName).catch(() => undefined)
          await driver.leave(ep.networkId, id).catch(() => undefined)
        }
        const join: JoinRow = {
          endpointId: id,
          sandboxId: sbRow.id,
          interfaceName: dstName,
          origin: ep.sandboxKey === key ? 'sandbox' : 'host',
          srcName: iface?.srcName ?? '',
        }
        try {
          if (iface) await sb.addInterface({ ...iface, dstName })
          const hasGateway = [...core.joins.values()].some(
            (j) =>
              j.sandboxId === sbRow.id &&
              (core.endpoints.get(j.endpointId)?.sandboxInfo as SandboxInfo | undefined)?.gateway,
          )
          if (!hasGateway && info.gateway) await sb.setGateway(info.gateway)
          if (!hasGateway && info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
          for (const route of info.staticRoutes ?? []) await sb.addStaticRoute(route)
          core.store.insertJoin(join)
        } catch (err) {
          await undoJoin() // the interface leaves again: nothing half-joined stays behind
          throw err
        }
        const madeRow = sbRow
        return {
          value: undefined,
          undo: undoJoin,
          apply: () => {
            if (newRow) core.sandboxes.set(madeRow.id, madeRow)
            core.joins.set(id, join)
          },
        }
      }),
    leave: (sandbox) =>
      run(core, async () => {
        const ep = row()
        const join = core.joins.get(id)
        const sbRow = sandboxRowByKey(core, keyOf(sandbox))
        if (!join || !sbRow || join.sandboxId !== sbRow.id) {
          throw new ControllerError(ERR_NOT_JOINED, `endpoint ${ep.name} is not joined to sandbox ${keyOf(sandbox)}`)
        }
        return { value: undefined, apply: await leave(ep) }
      }),
    delete: () =>
      run(core, async () => {
        const ep = row()
        const applyLeave = core.joins.has(id) ? await leave(ep) : undefined
        const net = core.networks.get(ep.networkId)
        let teardown: unknown
        if (net) {
          try {
            await driverOf(core, net.type).deleteEndpoint(ep.networkId, id)
          } catch (err) {
            if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
            teardown = err
          }
        }
        core.store.deleteEndpoint(id)
        return {
          value: undefined,
          apply: () => {
            applyLeave?.()
            core.endpoints.delete(id)
            if (teardown) throw teardown
          },
        }
      }),
  }
}

export function sandboxView(core: Core, id: string): Sandbox {
  const row = core.sandboxes.get(id)
  if (!row) throw unknownSandbox(id)
  const self: Sandbox = {
    id,
    containerID: row.containerId,
    key: row.key,
    inspect: () => ({
      id,
      containerID: row.containerId,
      key: row.key,
      endpoints: [...core.joins.values()].filter((j) => j.sandboxId === id).map((j) => j.endpointId),
    }),
    endpoints: () =>
      [...core.joins.values()]
        .filter((j) => j.sandboxId === id)
        .map((j) => {
          const ep = core.endpoints.get(j.endpointId)
          if (!ep) throw unknownEndpoint(j.endpointId)
          return endpointView(core, ep.id, networkView(core, ep.networkId))
        }),
    destroy: async () => {
      for (const ep of self.endpoints()) await ep.leave(self)
      await run(core, async () => {
        if (!core.sandboxes.has(id)) throw unknownSandbox(id)
        const sb = core.open.get(row.key) ?? (await core.sandboxBackend.open(row.key).catch(() => undefined))
        await sb?.destroy()
        removeOwnerMark(row.key, core.store.id)
        core.open.delete(row.key)
        core.store.deleteSandbox(id)
        return { value: undefined, apply: () => core.sandboxes.delete(id) }
      })
    },
  }
  return self
}
