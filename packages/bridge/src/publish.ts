import { errorKind, InvalidConfigError, NotSupportedError, type PortBinding, type PublishedPort } from '@cnm/driverapi'
import { isIPv6, isLoopback, isUnspecified, parseAddress } from '@cnm/ip'
import type { ConntrackMatch, ConntrackQuery, ConntrackWatch, Handle } from '@cnm/netlink'
import type { PortMapper } from '@cnm/portmapper'
import { conntrackEmpty } from './conntrack-empty.js'
import type { EndpointState } from './resources.js'

export type { PublishedPort }

/** Where a flush runs: the host's handle, and the driver's conntrack watch when it has one. */
export interface FlushTarget {
  host: Handle
  conntrack?: ConntrackWatch | undefined
}

/**
 * Publishes an endpoint's ports through its network's port mapper, one binding at a time; on
 * failure the ones already published are unmapped and the error is rethrown. A binding without a
 * host address is published, as Docker does, on every address of each family the endpoint has —
 * `0.0.0.0` and `::` — on the same host port; one with a host address goes to the endpoint's address
 * of that family. With `ct`, the conntrack entries of the new host ports are flushed once the
 * rules are in (see {@link flushPublished}); a restore, which republishes what was there, passes none.
 */
export async function publishPorts(
  mapper: PortMapper,
  ep: EndpointState,
  bindings: readonly PortBinding[],
  ct?: FlushTarget,
): Promise<void> {
  // An endpoint whose caller reserves its host ports (the CNI path) is not held by sockets here.
  const options = ep.config.holdPorts === false ? { hold: false } : {}
  try {
    for (const b of bindings) {
      if (b.hostIP !== undefined) {
        ep.ports.push(await mapper.publish(containerAddress(ep, b.hostIP, b), b, options))
        continue
      }
      const v4 = ep.ipv4 ? await mapper.publish(ep.ipv4, b, options) : undefined
      if (v4) ep.ports.push(v4)
      if (ep.ipv6) {
        // The same host port (block) as the IPv4 side got, exactly.
        const same = v4
          ? { ...b, hostIP: '::', hostPort: v4.hostPort, hostPortEnd: v4.hostPortEnd }
          : { ...b, hostIP: '::' }
        ep.ports.push(await mapper.publish(ep.ipv6, same, options))
      }
    }
    if (ct) await flushPublished(ct, ep.ports)
  } catch (err) {
    await unpublishPorts(mapper, ep, ct)
    throw err
  }
}

/** The endpoint's address of the host address's family (a typed error when it has none). */
function containerAddress(ep: EndpointState, hostIP: string, b: PortBinding): string {
  const family = isIPv6(hostIP) ? 6 : 4
  if (family === 6 && isLoopback(parseAddress(hostIP))) {
    // There is no route_localnet for IPv6: the kernel never routes ::1 to a bridge, so a DNAT rule
    // could not deliver (Docker needs its userland proxy for this).
    const instead = ep.ipv6
      ? '[::] (whose port takes [::1] too) or 127.0.0.1'
      : '127.0.0.1 (the endpoint has no IPv6 address)'
    throw new NotSupportedError(
      `port ${b.containerPort}/${b.proto} on ${hostIP}: IPv6 loopback cannot be published (the kernel does not route ::1 to a bridge); use ${instead}`,
    )
  }
  const ip = family === 6 ? ep.ipv6 : ep.ipv4
  if (!ip) {
    throw new InvalidConfigError(
      `port ${b.containerPort}/${b.proto} on ${hostIP}: endpoint ${ep.id} has no IPv${family} address`,
    )
  }
  return ip
}

/** The bindings that re-publish exactly what `ports` holds (same host address and ports). */
export function republishBindings(ports: readonly Omit<PublishedPort, 'containerIP'>[]): PortBinding[] {
  return ports.map((p) => ({
    proto: p.proto,
    containerPort: p.containerPort,
    ...(p.containerPortEnd !== p.containerPort ? { containerPortEnd: p.containerPortEnd } : {}),
    hostIP: p.hostIP,
    hostPort: p.hostPort,
    ...(p.hostPortEnd !== p.hostPort ? { hostPortEnd: p.hostPortEnd } : {}),
  }))
}

/**
 * Unmaps every published port of the endpoint, then (with `ct`) flushes their conntrack entries;
 * returns every failure.
 */
export async function unpublishPorts(
  mapper: PortMapper | undefined,
  ep: EndpointState,
  ct?: FlushTarget,
): Promise<unknown[]> {
  const errors: unknown[] = []
  const ports = mapper ? ep.ports : []
  for (const p of ports) {
    try {
      await mapper?.unpublish(p)
    } catch (err) {
      errors.push(err)
    }
  }
  ep.ports = []
  if (ct && ports.length > 0) {
    await flushConntrack(ct.host, ports, [], ct.conntrack).catch((err: unknown) => errors.push(err))
  }
  return errors
}

/**
 * Where a published port's flows arrive: its host address, or for `0.0.0.0`/`::` every local
 * address of that family (what the DNAT rule's `fib daddr type local` takes; all of 127.0.0.0/8) —
 * never a remote server's port that the host or a container talks to. The same addresses are where
 * the replies of a flow masqueraded to that port would arrive, and be taken from the published port.
 */
function destinations(p: PublishedPort, local: readonly { family: 4 | 6; address: string }[]): string[] {
  if (!isUnspecified(parseAddress(p.hostIP))) return [p.hostIP]
  const family = isIPv6(p.hostIP) ? 6 : 4
  return [...local.filter((a) => a.family === family).map((a) => a.address), ...(family === 4 ? ['127.0.0.0/8'] : [])]
}

/**
 * What a publish flushes: the conntrack entries of the flows that arrive at the new host ports (as
 * {@link flushConntrack}), and of the source-NATed UDP flows whose source was translated to one of
 * them — a container's flow masquerade let keep a source port that was not published yet (a
 * restarting container's port, briefly free): its reply tuple `peer:port -> host:hostPort` would go
 * on taking the peer's datagrams to the newly published port to that container instead of the
 * published one for as long as it keeps the entry alive (CVE-2021-3773 class; the firewall remaps
 * such source ports only for flows that start once the port is published). Its next packet is
 * tracked anew, and masqueraded to a random port. Not TCP's or SCTP's: such an entry is a
 * connection its peer holds too, whose four-tuple the peer's own stack never opens again while it
 * lives, so it takes no new connection from the published port, and deleting it would only cut the
 * container's connection. Not on unpublish: with the port's DNAT gone, such a flow takes nothing
 * from anyone.
 */
export async function flushPublished(ct: FlushTarget, ports: readonly PublishedPort[]): Promise<void> {
  await flushConntrack(ct.host, ports, [], ct.conntrack, undefined, true)
}

/**
 * Deletes the conntrack entries of the flows that arrive at these published ports (protocol, host
 * port range, host address) and of every flow to or from `addresses` before or after NAT (an
 * endpoint's, when it goes), in one dump of the host's table (through `run`: at once by default,
 * or a flush queue's next dump) — none when `watch` saw no flow of them. A flow that keeps sending — a UDP
 * client every 100 ms — would otherwise keep its entry, and with it the DNAT (or the lack of one)
 * decided for its first packet: after a container is replaced, its datagrams would go on to the old
 * address for ever. Its next packet is now tracked anew, through the rules as they are. A kernel
 * without ctnetlink (`unsupported`) has nothing cnm could flush, and is no error. With
 * `translated` (a publish: {@link flushPublished}), also the source-NATed flows whose source was
 * translated to one of the ports, on the host address (reply destination port and address).
 */
export async function flushConntrack(
  host: Handle,
  ports: readonly PublishedPort[],
  addresses: readonly (string | undefined)[] = [],
  watch?: ConntrackWatch,
  run: (matches: readonly ConntrackMatch[]) => Promise<void> = (matches) => flushWatched(host, matches, watch),
  translated = false,
): Promise<void> {
  if (conntrackEmpty(host)) return // nothing tracked: no dump of the table or of the addresses
  const named = addresses.filter((a): a is string => a !== undefined)
  // No flow of these ports or addresses was ever seen (the watch's events): nothing to delete.
  if (watch && !(await watch.mayHold(conntrackQuery(ports, named, translated)))) return
  await run(await conntrackMatches(host, ports, named, translated))
}

/**
 * Deletes the entries that match in one dump ({@link flushMatches}), and tells the watch which
 * addresses it deleted every flow of (those matched by address alone; not the ports: a match by
 * port deletes only the flows of some destinations).
 */
export async function flushWatched(
  host: Handle,
  matches: readonly ConntrackMatch[],
  watch: ConntrackWatch | undefined,
): Promise<void> {
  const since = watch?.mark()
  await flushMatches(host, matches)
  const flushed = matches.flatMap((m) => (m.address && !m.address.includes('/') ? [m.address] : []))
  if (since !== undefined) watch?.forget(flushed, since)
}

/** What a conntrack watch is asked before a flush of these ports (`translated`: UDP ones as source ports too) and addresses. */
function conntrackQuery(
  ports: readonly PublishedPort[],
  addresses: readonly string[],
  translated: boolean,
): ConntrackQuery {
  const ranges = ports.map((p) => ({ proto: p.proto, port: p.hostPort, endPort: p.hostPortEnd }))
  const udp = ranges.filter((r) => r.proto === 'udp')
  return { addresses, ports: ranges, ...(translated && udp.length > 0 ? { snatPorts: udp } : {}) }
}

/**
 * The conntrack matches of {@link flushConntrack}: one per published port (with `translated`, two
 * for a UDP one: the flows to it, and the source-NATed flows translated to it), one per address.
 */
async function conntrackMatches(
  host: Handle,
  ports: readonly PublishedPort[],
  addresses: readonly (string | undefined)[],
  translated: boolean,
): Promise<ConntrackMatch[]> {
  const wildcard = ports.some((p) => isUnspecified(parseAddress(p.hostIP)))
  const local = wildcard ? await host.listAddresses() : []
  return [
    ...ports.flatMap((p): ConntrackMatch[] => {
      const destination = destinations(p, local)
      const to: ConntrackMatch = { proto: p.proto, port: p.hostPort, endPort: p.hostPortEnd, destination }
      if (!translated || p.proto !== 'udp') return [to] // see flushPublished
      const from: ConntrackMatch = {
        proto: p.proto,
        replyPort: p.hostPort,
        replyEndPort: p.hostPortEnd,
        replyDestination: destination,
        snat: true,
      }
      return [to, from]
    }),
    ...addresses.filter((a): a is string => a !== undefined).map((address) => ({ address })),
  ]
}

/**
 * Deletes the entries that match, in one dump of the table (none when nothing is tracked); a
 * kernel without ctnetlink has nothing to flush.
 */
export async function flushMatches(host: Handle, matches: readonly ConntrackMatch[]): Promise<void> {
  if (matches.length === 0 || conntrackEmpty(host)) return
  try {
    await host.flushConntrack(matches)
  } catch (err) {
    if (errorKind(err) !== 'unsupported') throw err
  }
}
