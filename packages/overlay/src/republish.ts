import { republish } from './addresses.js'
import type { DriverResources, NetworkState } from './state.js'

/**
 * Writes every endpoint of this host back into the cluster (claims and records), after the host's
 * lease was lost and a new one granted: the store dropped them with the old lease. Each endpoint is
 * tried; the first failure is thrown after all were tried.
 */
export async function republishAll(res: DriverResources, networks: ReadonlyMap<string, NetworkState>): Promise<void> {
  const errors: unknown[] = []
  for (const net of networks.values()) {
    for (const ep of net.endpoints.values()) {
      const record = {
        host: res.cluster.host,
        vtep: res.cluster.advertise,
        mac: ep.mac,
        ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
        ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
      }
      await republish(res, net.id, ep.id, record).catch((err: unknown) => errors.push(err))
    }
  }
  if (errors.length > 0) throw errors[0]
}
