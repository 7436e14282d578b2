import type { UnheldPortReport } from '@cnm/driverapi'
import { formatTransportAddress, type TransportAddress } from '@cnm/portmapper'
import type { EndpointState, NetworkState } from './resources.js'

/** How often a long-lived owner tries again to hold the published ports another program had (ms). */
export const RETAKE_MS = 10_000

/** The endpoint a host port of the network is published to. */
function endpointWith(net: NetworkState, a: TransportAddress): EndpointState | undefined {
  return [...net.endpoints.values()].find((e) =>
    e.ports.some((p) => p.proto === a.proto && p.hostIP === a.ip && p.hostPort <= a.port && a.port <= p.hostPortEnd),
  )
}

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
      const ep = endpointWith(net, { proto: u.proto, ip: u.hostIP, port: u.hostPort })
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

/**
 * Tries again to hold the published ports another program had bound (every {@link RETAKE_MS} in a
 * long-lived owner): `told` hears of each one held again, that program having let go.
 */
export async function retakePorts(networks: Iterable<NetworkState>, told?: (what: string) => void): Promise<void> {
  for (const net of networks) {
    for (const a of (await net.portMapper?.holdTaken()) ?? []) {
      const ep = endpointWith(net, a)
      told?.(
        `published port ${formatTransportAddress(a)}${ep ? ` of endpoint ${ep.id}` : ''} is held again: the program that had it bound let go`,
      )
    }
  }
}
