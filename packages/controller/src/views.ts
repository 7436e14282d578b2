import { ERR_TEARDOWN, hasErrorCode, type SandboxInfo } from '@cnm/driverapi'
import { parseAliases } from './aliases.js'
import { notifyChange } from './changes.js'
import { type Core, driverOf, run } from './core.js'
import { addEndpoint, joinEndpoint, leaveEndpoint, removeEndpoint } from './endpoint-ops.js'
import {
  ControllerError,
  ERR_ACTIVE_ENDPOINTS,
  ERR_ALREADY_JOINED,
  ERR_NOT_JOINED,
  unknownEndpoint,
  unknownNetwork,
  unknownSandbox,
} from './errors.js'
import { isGlobal, releaseGlobalNetwork } from './global-scope.js'
import { inspectEndpoint, inspectNetwork } from './inspect.js'
import { removeOwnerMark } from './owner-mark.js'
import { publishEndpointPorts, unpublishEndpointPorts } from './port-ops.js'
import type { SandboxHandle } from './sandboxes.js'
import type { EndpointRow, NetworkRow, SandboxRow } from './store.js'
import type { Endpoint, Network, Sandbox } from './types.js'

export { netnsSandbox } from './endpoint-ops.js'

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
    createEndpoint: (epName, sandboxKey, options, settings) =>
      run(core, async () => {
        const aliases = parseAliases(settings?.aliases)
        const made = await addEndpoint(core, row(), epName, sandboxKey, options, aliases)
        const { row: ep, sandboxInfo } = made.value
        return { ...made, value: { endpoint: endpointView(core, ep.id, self, ep), sandboxInfo } }
      }),
    connect: (sandbox, epName, options, joinOptions, settings) =>
      run(core, async () => {
        // One transaction: the endpoint is born in the sandbox and joined, or nothing is left.
        if (!core.sandboxes.has(sandbox.id)) throw unknownSandbox(sandbox.containerID || sandbox.id)
        const aliases = parseAliases(settings?.aliases)
        const made = await addEndpoint(core, row(), epName, sandbox.key, options, aliases)
        const ep = made.value.row
        let joined: Awaited<ReturnType<typeof joinEndpoint>>
        try {
          joined = await joinEndpoint(core, ep, sandbox, joinOptions)
        } catch (err) {
          await made.undo().catch(() => undefined)
          throw err
        }
        return {
          value: endpointView(core, ep.id, self, ep),
          apply: () => {
            made.apply()
            joined.apply()
          },
          undo: async () => {
            await joined.undo()
            await made.undo()
          },
        }
      }),
    endpoints: () => core.endpoints.inGroup(id).map((e) => endpointView(core, e.id, self)),
    delete: () =>
      run(core, async () => {
        const net = row()
        const count = core.endpoints.groupSize(id)
        if (count > 0) throw new ControllerError(ERR_ACTIVE_ENDPOINTS, `network ${net.name} has active endpoints`)
        // A global network goes from the cluster first (refused while any host has endpoints on it).
        if (isGlobal(driverOf(core, net.type))) await releaseGlobalNetwork(core, net)
        let teardown: unknown
        try {
          await driverOf(core, net.type).deleteNetwork(id)
        } catch (err) {
          if (!hasErrorCode(err, ERR_TEARDOWN)) throw err
          teardown = err
        }
        core.store.deleteNetwork(id)
        return {
          value: undefined,
          apply: () => {
            core.networks.delete(id)
            notifyChange(core, { type: 'network', action: 'delete', id })
            reportTeardown(undefined, teardown)
          },
        }
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
  return core.sandboxes.firstInGroup(key)
}

export function endpointView(core: Core, id: string, network: Network, initial?: EndpointRow): Endpoint {
  const row = (): EndpointRow => {
    const e = core.endpoints.get(id)
    if (!e) throw unknownEndpoint(id)
    return e
  }
  const { name, sandboxInfo, aliases } = initial ?? row()
  const leave = (ep: EndpointRow): Promise<() => void> => leaveEndpoint(core, ep)
  return {
    name,
    id,
    network,
    sandboxInfo: sandboxInfo as SandboxInfo,
    aliases: aliases ?? [],
    inspect: () => inspectEndpoint(core, id),
    join: (sandbox, options) =>
      run(core, async () => {
        const ep = row()
        if (core.joins.has(id)) throw new ControllerError(ERR_ALREADY_JOINED, `endpoint ${ep.name} is already joined`)
        return joinEndpoint(core, ep, sandbox, options)
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
    publishPorts: (bindings) => run(core, async () => publishEndpointPorts(core, row(), bindings)),
    unpublishPorts: () => run(core, async () => unpublishEndpointPorts(core, row())),
    delete: () => run(core, async () => ({ value: undefined, apply: await removeEndpoint(core, row()) })),
  }
}

export function sandboxView(core: Core, id: string): Sandbox {
  const row = core.sandboxes.get(id)
  if (!row) throw unknownSandbox(id)
  const self: Sandbox = {
    id,
    containerID: row.containerId,
    key: row.key,
    name: row.name,
    inspect: () => ({
      id,
      containerID: row.containerId,
      ...(row.name === undefined ? {} : { name: row.name }),
      key: row.key,
      endpoints: core.joins.inGroup(id).map((j) => j.endpointId),
    }),
    endpoints: () =>
      core.joins.inGroup(id).map((j) => {
        const ep = core.endpoints.get(j.endpointId)
        if (!ep) throw unknownEndpoint(j.endpointId)
        return endpointView(core, ep.id, networkView(core, ep.networkId))
      }),
    destroy: () =>
      // One transaction: every endpoint leaves and the namespace goes, so no connect can slip in
      // between (a join re-checks that its sandbox still exists).
      run(core, async () => {
        if (!core.sandboxes.has(id)) throw unknownSandbox(id)
        const applies: (() => void)[] = []
        for (const j of core.joins.inGroup(id)) {
          const ep = core.endpoints.get(j.endpointId)
          if (!ep) continue
          // An endpoint born in this sandbox dies with it (its interface goes with the namespace):
          // it is deleted, addresses, ports and rules with it. One moved in from the host leaves.
          applies.push(j.origin === 'sandbox' ? await removeEndpoint(core, ep) : await leaveEndpoint(core, ep))
        }
        const sb = core.open.get(row.key) ?? (await core.sandboxBackend.open(row.key).catch(() => undefined))
        await sb?.destroy()
        removeOwnerMark(row.key, core.store.id)
        core.open.delete(row.key)
        core.store.deleteSandbox(id)
        return {
          value: undefined,
          apply: () => {
            for (const apply of applies) apply()
            core.sandboxes.delete(id)
            notifyChange(core, { type: 'sandbox', action: 'delete', id })
          },
        }
      }),
  }
  return self
}
