import type { Endpoint, Network, NetworkController } from '@cnm/controller'
import { containsAddress, parseAddress, tryParseAddress, tryParseCIDR } from '@cnm/ip'
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

/** The parked Docker endpoint (see {@link parkedDockerEndpoints}) that holds `address`, if one does. */
export async function parkedHolderOf(
  controller: NetworkController,
  address: string,
): Promise<{ id: string; net: Network; ep: Endpoint } | undefined> {
  const a = tryParseAddress(address)?.text
  if (a === undefined) return undefined
  for (const [id, { net, ep }] of await parkedDockerEndpoints(controller)) {
    const i = ep.inspect()
    if ([i.ipv4, i.ipv6].some((x) => x?.split('/')[0] === a)) return { id, net, ep }
  }
  return undefined
}

/** The IPAM pool (its subnet's CIDR) of `net` that holds `address`. */
function poolOf(net: Network, address: string): string | undefined {
  const a = parseAddress(address)
  return net
    .inspect()
    .subnets?.map((s) => tryParseCIDR(s.subnet))
    .find((p) => p !== undefined && containsAddress(p, a))?.cidr
}

/** Deletes a left endpoint and releases its addresses in the IPAM (dockerd's ReleaseAddress was lost too). */
async function removeLeft(
  net: Network,
  ep: Endpoint,
  ipam: Ipam,
  emit: PluginEventSink | undefined,
): Promise<LeftEndpoint> {
  const before = ep.inspect()
  let error: unknown
  try {
    await ep.delete()
  } catch (err) {
    error = err
  }
  // A teardown that failed part-way may still have dropped the endpoint: released then too.
  const gone = !net.endpoints().some((e) => e.id === before.id)
  if (gone) {
    endpointDeleted(emit ?? (() => undefined), before)
    for (const a of [before.ipv4, before.ipv6]) {
      const address = a?.split('/')[0]
      const pool = address === undefined ? undefined : poolOf(net, address)
      if (address !== undefined && pool !== undefined) ipam.releaseAddress(pool, address)
    }
    ipam.flush()
  }
  return { network: net.name, endpoint: ep.name, ...(gone || error === undefined ? {} : { error }) }
}

/** The sweep of left endpoints (see {@link sweepLeftEndpoints}). */
export interface LeftEndpointSweep {
  /** The endpoints removed after the grace period (or that could not be). */
  done: Promise<LeftEndpoint[]>
  /**
   * Removes at once an endpoint the sweep holds for left — its container end waited in this
   * namespace when the plugin started and still does — because a request needs what it holds (a
   * container restarted by dockerd's restart policy asks for its own published ports again, a
   * second after cnm is back, and dockerd gives up after one failure). Undefined, and nothing
   * removed, for any other endpoint.
   */
  evict(endpointId: string): Promise<LeftEndpoint | undefined>
  cancel(): void
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
 * the IPAM (dockerd's `ReleaseAddress` was lost too); `evict` does it sooner for one whose ports a
 * request needs. Runs beside the plugin, one endpoint at a time; what fails is reported, never
 * thrown.
 */
export function sweepLeftEndpoints(
  controller: NetworkController,
  ipam: Ipam,
  options: { graceMs?: number; emit?: PluginEventSink } = {},
): LeftEndpointSweep {
  let cancelled = false
  let timer: NodeJS.Timeout | undefined
  let wake: (() => void) | undefined
  /** The endpoints parked when the plugin started (read once, at once; a failure is `done`'s to report). */
  const first = parkedDockerEndpoints(controller)
  /** Those removed (or being removed) already, by the sweep or by `evict`: each goes once. */
  const taken = new Set<string>()
  const done = (async (): Promise<LeftEndpoint[]> => {
    const atStart = await first
    if (atStart.size === 0) return []
    await new Promise<void>((resolve) => {
      wake = resolve
      timer = setTimeout(resolve, options.graceMs ?? LEFT_ENDPOINT_GRACE_MS)
      timer.unref()
    })
    if (cancelled) return []
    const out: LeftEndpoint[] = []
    for (const [id, { net, ep }] of await parkedDockerEndpoints(controller)) {
      if (!atStart.has(id) || taken.has(id) || cancelled) continue
      taken.add(id)
      out.push(await removeLeft(net, ep, ipam, options.emit))
    }
    return out
  })().catch((error: unknown) => [{ network: '', endpoint: '', error }])
  return {
    done,
    async evict(endpointId) {
      const atStart = await first.catch(() => undefined)
      if (cancelled || taken.has(endpointId) || !atStart?.has(endpointId)) return undefined
      const now = (await parkedDockerEndpoints(controller)).get(endpointId)
      if (!now || taken.has(endpointId)) return undefined // joined since (not left), or gone meanwhile
      taken.add(endpointId)
      return removeLeft(now.net, now.ep, ipam, options.emit)
    },
    cancel() {
      cancelled = true
      if (timer) clearTimeout(timer)
      wake?.()
    },
  }
}
