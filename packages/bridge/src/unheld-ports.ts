import type { UnheldPortReport } from '@cnm/driverapi'
import { formatTransportAddress, socketHolders, type TransportAddress, type UnheldPort } from '@cnm/portmapper'
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
 * bound), each with the endpoint it goes to and the processes that have it: what a reconcile
 * reports. The port mappers ask the kernel which sockets have them; one scan of `/proc` (of those
 * sockets' owners only) names their processes. A socket this process holds (the `[::]` side of a
 * dual-stack port, seen as blocking its IPv4 side too) is not another program's.
 */
export async function unheldPorts(networks: Iterable<NetworkState>): Promise<UnheldPortReport[]> {
  const found: { net: NetworkState; ep: EndpointState; u: UnheldPort }[] = []
  for (const net of networks) {
    if (!net.portMapper) continue
    for (const u of await net.portMapper.unheld()) {
      const ep = endpointWith(net, { proto: u.proto, ip: u.hostIP, port: u.hostPort })
      if (ep) found.push({ net, ep, u })
    }
  }
  if (found.length === 0) return []
  const sockets = found.flatMap((f) => f.u.sockets)
  const holders = socketHolders(new Set(sockets.map((k) => k.inode)), new Set(sockets.map((k) => k.uid)))
  const out: UnheldPortReport[] = []
  for (const { net, ep, u } of found) {
    const theirs = u.sockets.filter((k) => !(holders.get(k.inode) ?? []).some((h) => h.pid === process.pid))
    if (theirs.length === 0) continue // only this process's own sockets: held
    const all = theirs.flatMap((k) => holders.get(k.inode) ?? [])
    out.push({
      network: net.id,
      endpoint: ep.id,
      port: formatTransportAddress({ proto: u.proto, ip: u.hostIP, port: u.hostPort }),
      holders: all.filter((h, i) => all.findIndex((o) => o.pid === h.pid) === i),
    })
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
