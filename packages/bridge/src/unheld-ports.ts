import type { UnheldPortReport } from '@cnm/driverapi'
import { formatTransportAddress } from '@cnm/portmapper'
import type { NetworkState } from './resources.js'

/**
 * The published ports of these networks that a restore could not hold (another program has them
 * bound), each with the endpoint it goes to: what a reconcile reports (the port mappers ask the
 * kernel which sockets have them, and `/proc` who holds those).
 */
export async function unheldPorts(networks: Iterable<NetworkState>): Promise<UnheldPortReport[]> {
  const out: UnheldPortReport[] = []
  for (const net of networks) {
    if (!net.portMapper) continue
    for (const u of await net.portMapper.unheld()) {
      const ep = [...net.endpoints.values()].find((e) =>
        e.ports.some(
          (p) =>
            p.proto === u.proto && p.hostIP === u.hostIP && p.hostPort <= u.hostPort && u.hostPort <= p.hostPortEnd,
        ),
      )
      if (!ep) continue
      out.push({
        network: net.id,
        endpoint: ep.id,
        port: formatTransportAddress({ proto: u.proto, ip: u.hostIP, port: u.hostPort }),
        holders: u.holders,
      })
    }
  }
  return out
}
