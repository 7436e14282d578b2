import type { NetworkController } from '@cnm/controller'
import { openHandle } from '@cnm/netlink'
import { endpointDeleted, type PluginEventSink } from './events.js'
import { dockerNetworkId } from './names.js'
import type { StateFile } from './state-file.js'

/** One endpoint {@link removeLeftEndpoints} removed, or could not. */
export interface LeftEndpoint {
  network: string
  endpoint: string
  /** Why it could not be removed (it stays; a reconcile or `cnm endpoint rm` can take it). */
  error?: unknown
}

/**
 * Removes the endpoints of Docker networks whose container left while cnm was not running. dockerd
 * moves a container's interface back out of its sandbox (under its name from `Join`) before it
 * asks for `DeleteEndpoint`; with the plugin down (`docker rm -f` while the daemon was stopped or
 * killed), it retries for a minute and then forgets the endpoint, which nobody would ever delete:
 * its published ports stayed held and its network could not go. At the plugin's start, an endpoint
 * whose container end is in this namespace is such a one (a joined endpoint's is in its container;
 * one dockerd made and had not joined yet when cnm stopped fails its `Join`, and dockerd undoes
 * it). Each is deleted (its ports unpublished, its veth removed) and its address given back in the
 * IPAM's reservations (dockerd's `ReleaseAddress` for it was lost too). Run before the plugin
 * answers anything, on the plugin's state file (its IPAM is made after, from what this leaves).
 */
export async function removeLeftEndpoints(
  controller: NetworkController,
  state: StateFile,
  emit: PluginEventSink = () => undefined,
): Promise<LeftEndpoint[]> {
  const candidates = controller
    .networks()
    .filter((n) => dockerNetworkId(n.name) !== undefined)
    .flatMap((n) => n.endpoints().map((ep) => ({ net: n, ep })))
    .filter(({ ep }) => ep.name.startsWith('docker-') && ep.sandboxInfo.interfaces[0]?.srcName)
  if (candidates.length === 0) return []
  const host = await openHandle()
  let here: Set<string>
  try {
    here = new Set((await host.listLinks()).map((l) => l.name))
  } finally {
    host.close()
  }
  const out: LeftEndpoint[] = []
  const released: string[] = []
  for (const { net, ep } of candidates) {
    if (!here.has(ep.sandboxInfo.interfaces[0]?.srcName ?? '')) continue
    const before = ep.inspect()
    try {
      await ep.delete()
      endpointDeleted(emit, before)
      for (const a of [before.ipv4, before.ipv6]) if (a) released.push(a.split('/')[0] as string)
      out.push({ network: net.name, endpoint: ep.name })
    } catch (error) {
      out.push({ network: net.name, endpoint: ep.name, error })
    }
  }
  if (released.length > 0) {
    const r = state.reservations()
    const gone = new Set(released)
    state.setReservations({
      pools: [...r.pools],
      addresses: Object.fromEntries(
        Object.entries(r.addresses)
          .map(([subnet, list]) => [subnet, list.filter((a) => !gone.has(a))] as const)
          .filter(([, list]) => list.length > 0),
      ),
    })
  }
  return out
}
