import type { Endpoint, Network, NetworkController } from '@cnm/controller'
import { containsAddress, parseAddress, tryParseCIDR } from '@cnm/ip'
import { openHandle } from '@cnm/netlink'
import { endpointDeleted, type PluginEventSink } from './events.js'
import type { Ipam } from './ipam.js'
import { dockerNetworkId, isDockerId } from './names.js'

/** One endpoint {@link sweepLeftEndpoints} removed, or could not. */
export interface LeftEndpoint {
  network: string
  endpoint: string
  /** Why it could not be removed (it stays; `cnm endpoint rm` can take it). */
  error?: unknown
}

/** How long an endpoint must stay parked, seen twice, before it counts as left (dockerd retries a call ~30 s; a start can take seconds more). */
export const LEFT_ENDPOINT_GRACE_MS = 90_000

/**
 * The Docker endpoints whose container end waits in this namespace now, by endpoint id: endpoints
 * dockerd made (`docker-<id>` on a `docker-<id>` network, no sandbox key) whose interface is not in
 * a container — not joined yet, or back from a container that left.
 */
export async function parkedDockerEndpoints(
  controller: NetworkController,
): Promise<Map<string, { net: Network; ep: Endpoint }>> {
  const candidates = controller
    .networks()
    .filter((n) => dockerNetworkId(n.name) !== undefined)
    .flatMap((net) => net.endpoints().map((ep) => ({ net, ep })))
    .filter(
      ({ ep }) =>
        isDockerId(ep.name.slice('docker-'.length)) &&
        ep.name.startsWith('docker-') &&
        ep.inspect().sandboxKey === '' &&
        ep.sandboxInfo.interfaces[0]?.srcName,
    )
  if (candidates.length === 0) return new Map()
  const host = await openHandle()
  let here: Set<string>
  try {
    here = new Set((await host.listLinks()).map((l) => l.name))
  } finally {
    host.close()
  }
  return new Map(
    candidates.filter(({ ep }) => here.has(ep.sandboxInfo.interfaces[0]?.srcName ?? '')).map((c) => [c.ep.id, c]),
  )
}

/** The IPAM pool (its subnet's CIDR) of `net` that holds `address`. */
function poolOf(net: Network, address: string): string | undefined {
  const a = parseAddress(address)
  return net
    .inspect()
    .subnets?.map((s) => tryParseCIDR(s.subnet))
    .find((p) => p !== undefined && containsAddress(p, a))?.cidr
}

/**
 * Removes the endpoints of Docker networks whose container left while cnm was not running. dockerd
 * moves a container's interface back out of its sandbox (under its name from `Join`) before it
 * asks for `DeleteEndpoint`; with the plugin down (`docker rm -f` while the daemon was stopped or
 * killed), it retries, then forgets the endpoint, which nobody would ever delete: its published
 * ports stayed held and its network could not go. An endpoint whose container end waits in this
 * namespace when the plugin starts, and still after `graceMs` (an endpoint dockerd made just
 * before cnm stopped is joined and moved into its container by then: its Join is retried), is such
 * a one: it is deleted (its ports unpublished, its veth removed) and its addresses are released in
 * the IPAM (dockerd's `ReleaseAddress` was lost too). Runs beside the plugin, one endpoint at a
 * time; what fails is reported, never thrown.
 */
export function sweepLeftEndpoints(
  controller: NetworkController,
  ipam: Ipam,
  options: { graceMs?: number; emit?: PluginEventSink } = {},
): { done: Promise<LeftEndpoint[]>; cancel(): void } {
  let cancelled = false
  let timer: NodeJS.Timeout | undefined
  let wake: (() => void) | undefined
  const done = (async (): Promise<LeftEndpoint[]> => {
    const first = await parkedDockerEndpoints(controller)
    if (first.size === 0) return []
    await new Promise<void>((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, options.graceMs ?? LEFT_ENDPOINT_GRACE_MS)
      timer.unref()
    })
    if (cancelled) return []
    const out: LeftEndpoint[] = []
    for (const [id, { net, ep }] of await parkedDockerEndpoints(controller)) {
      if (!first.has(id) || cancelled) continue
      const before = ep.inspect()
      let error: unknown
      try {
        await ep.delete()
      } catch (err) {
        error = err
      }
      // A teardown that failed part-way may still have dropped the endpoint: released then too.
      const gone = !net.endpoints().some((e) => e.id === id)
      if (gone) {
        endpointDeleted(options.emit ?? (() => undefined), before)
        for (const a of [before.ipv4, before.ipv6]) {
          const address = a?.split('/')[0]
          const pool = address === undefined ? undefined : poolOf(net, address)
          if (address !== undefined && pool !== undefined) ipam.releaseAddress(pool, address)
        }
      }
      out.push({ network: net.name, endpoint: ep.name, ...(gone || error === undefined ? {} : { error }) })
    }
    ipam.flush()
    return out
  })().catch((error: unknown) => [{ network: '', endpoint: '', error }])
  return {
    done,
    cancel() {
      cancelled = true
      if (timer) clearTimeout(timer)
      wake?.()
    },
  }
}
