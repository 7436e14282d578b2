import type { Interface, SandboxInfo } from '@cnm/driverapi'
import type { Core } from './core.js'
import { netnsSandbox } from './endpoint-ops.js'
import type { SandboxHandle } from './sandboxes.js'
import type { EndpointRow, JoinRow, SandboxRow } from './store.js'
import type { ReconcileReport } from './types.js'

const message = (err: unknown): string => (err as Error)?.message ?? String(err)

/** The interface an endpoint made in the host gives its sandbox (parked under `srcName` until joined). */
function hostInterface(ep: EndpointRow): Interface | undefined {
  if (ep.sandboxKey) return undefined // born in its sandbox: it never moves
  const iface = (ep.sandboxInfo as SandboxInfo | undefined)?.interfaces?.[0]
  return iface?.macAddress ? iface : undefined
}

/** Puts the interface into the sandbox as the join recorded it, with the gateway and routes it gave. */
async function rejoin(core: Core, ep: EndpointRow, iface: Interface, join: JoinRow, row: SandboxRow): Promise<void> {
  const sb = await netnsSandbox(core, row.key)
  await sb.addInterface({ ...iface, dstName: join.interfaceName })
  const info = ep.sandboxInfo as SandboxInfo
  // Another network's default route may be there already (EEXIST): the first one stays.
  if (info.gateway) await sb.setGateway(info.gateway).catch(() => undefined)
  if (info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6).catch(() => undefined)
  for (const route of info.staticRoutes ?? []) await sb.addStaticRoute(route).catch(() => undefined)
}

/**
 * Endpoints created in the host and joined later move their interface into the sandbox on join and
 * back on leave, in several kernel steps: a crash inside a join or a leave leaves it on the way,
 * in the sandbox but not joined, or joined but not (or half) there. Each goes where the store says:
 * into its sandbox, configured, when the store records the join; back to the host otherwise. The
 * interfaces are found by their MAC address in the sandboxes the store knows.
 */
export async function repairHostJoins(core: Core, report: ReconcileReport): Promise<void> {
  const moved = [...core.endpoints.values()].flatMap((ep) => {
    const iface = hostInterface(ep)
    return iface ? [{ ep, iface }] : []
  })
  if (moved.length === 0) return
  const where = new Map<string, { sb: SandboxHandle; found: Interface }>()
  for (const row of core.sandboxes.values()) {
    if (!core.sandboxBackend.exists(row.key)) continue
    const sb = await netnsSandbox(core, row.key)
    for (const found of sb.interfaces()) if (found.macAddress) where.set(found.macAddress.toLowerCase(), { sb, found })
  }
  for (const { ep, iface } of moved) {
    const join = core.joins.get(ep.id)
    const row = join ? core.sandboxes.get(join.sandboxId) : undefined
    const at = where.get(iface.macAddress?.toLowerCase() ?? '')
    const inPlace =
      join &&
      row &&
      at?.sb.key === row.key &&
      at.found.dstName === join.interfaceName &&
      (!iface.address || at.found.address === iface.address)
    if (inPlace || (!join && !at)) continue
    try {
      if (at) await at.sb.removeInterface(at.found.dstName, { returnTo: { name: iface.srcName } })
      if (join && row && core.sandboxBackend.exists(row.key)) await rejoin(core, ep, iface, join, row)
    } catch (err) {
      report.errors.push(`endpoint ${ep.name}: put its interface back where the store has it: ${message(err)}`)
    }
  }
}
