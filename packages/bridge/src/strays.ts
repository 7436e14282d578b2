import { hasErrorCode, type KnownRecords, type StrayReport } from '@cnm/driverapi'
import { containsAddress } from '@cnm/ipallocator'
import { CNM_LINK_GROUP, parseAlias } from './marks.js'
import type { BridgeEndpointRecord, BridgeNetworkRecord } from './records.js'
import type { DriverResources, NetworkState } from './resources.js'
import { allSubnets } from './subnets.js'

/** Objects a store still records (their restore may have failed): never strays. */
interface KnownObjects {
  networks: ReadonlySet<string>
  endpoints: ReadonlySet<string>
  /** Link names (bridges and host veths) of those records. */
  links: ReadonlySet<string>
  /** Published ports of those records, as `proto/hostPort`. */
  ports: ReadonlySet<string>
}

/** The link names and ports the store's (opaque) records name. */
export function knownObjects(known: KnownRecords): KnownObjects {
  const links = new Set<string>()
  const ports = new Set<string>()
  for (const record of known.networks.values()) {
    const name = (record as Partial<BridgeNetworkRecord> | null)?.bridgeName
    if (typeof name === 'string') links.add(name)
  }
  for (const { record } of known.endpoints.values()) {
    const r = record as Partial<BridgeEndpointRecord> | null
    if (typeof r?.hostVeth === 'string') links.add(r.hostVeth)
    for (const p of Array.isArray(r?.ports) ? r.ports : []) {
      for (let port = p.hostPort; port <= p.hostPortEnd; port++) ports.add(`${p.proto}/${port}`)
    }
  }
  return { networks: new Set(known.networks.keys()), endpoints: new Set(known.endpoints.keys()), links, ports }
}

/**
 * Removes kernel objects that carry cnm's marks but that the driver does not hold (after a crash
 * between a kernel change and the store's commit): bridges and veths whose alias names this
 * driver's owner, firewall networks whose bridge is gone or ours, published ports to containers in
 * our networks, and mappings the port mapper kept for an endpoint that is gone. Another owner's
 * objects are left alone. Every removal is tried.
 */
export async function removeStrays(
  res: DriverResources,
  networks: ReadonlyMap<string, NetworkState>,
  records: KnownRecords,
): Promise<StrayReport> {
  const known = knownObjects(records)
  const report: StrayReport = { links: [], firewallNetworks: [], firewallPorts: [], errors: [] }
  const attempt = async (what: string, fn: () => Promise<void>, list: string[]): Promise<void> => {
    try {
      await fn()
      list.push(what)
    } catch (err) {
      report.errors.push(`${what}: ${(err as Error).message}`)
    }
  }
  const endpoints = new Set([...networks.values()].flatMap((n) => [...n.endpoints.keys()]))
  const names = new Set(
    [...networks.values()].flatMap((n) => [n.bridgeName, ...[...n.endpoints.values()].map((e) => e.hostVeth)]),
  )
  const links = await res.host.listLinks()
  // Veths first: deleting a bridge does not delete its ports.
  for (const link of links.sort((a, b) => (a.kind === 'bridge' ? 1 : 0) - (b.kind === 'bridge' ? 1 : 0))) {
    const mark = parseAlias(link.alias)
    if (!mark && link.group !== CNM_LINK_GROUP) continue
    if (mark && mark.owner !== res.owner) continue // another store's: not ours to judge
    // The macvlan driver marks its links alike: only bridges and veths are this driver's.
    if (link.kind !== 'bridge' && link.kind !== 'veth') continue
    // Marked by group but not (yet) by alias: a crash right after creation; known only by name.
    const held = !mark
      ? names.has(link.name)
      : mark.endpoint
        ? networks.has(mark.network) && endpoints.has(mark.endpoint)
        : networks.has(mark.network)
    const recorded = !mark
      ? known.links.has(link.name)
      : mark.endpoint
        ? known.endpoints.has(mark.endpoint)
        : known.networks.has(mark.network)
    // A veth can go on its own meanwhile (its peer's namespace was removed): gone is removed.
    const remove = (): Promise<void> =>
      res.host.deleteLink(link.name).catch((err: unknown) => {
        if (!hasErrorCode(err, 'ENODEV')) throw err
      })
    if (!held && !recorded) await attempt(link.name, remove, report.links)
  }
  const inventory = await res.firewall.inventory()
  // Every host port of a mapping, as `proto/port/container address` (the inventory lists each port).
  const portIds = (p: { proto: string; hostPort: number; hostPortEnd?: number; containerIP: string }): string[] =>
    Array.from(
      { length: (p.hostPortEnd ?? p.hostPort) - p.hostPort + 1 },
      (_, i) => `${p.proto}/${p.hostPort + i}/${p.containerIP}`,
    )
  /** The ports the driver's endpoints publish; also what the rest of the kernel's ports are checked against. */
  const published = new Set(
    [...networks.values()].flatMap((n) => [...n.endpoints.values()].flatMap((e) => e.ports.flatMap(portIds))),
  )
  // A mapping whose endpoint is gone: its unpublish failed in a teardown that went on (the mapper
  // keeps the mapping, and its host ports, to retry; the endpoint's record went), so nothing would
  // retry it and its host ports stayed taken. Unpublished now when the kernel still has its rule,
  // else forgotten: either way its host ports are free again.
  const inKernel = new Set(inventory.ports.flatMap(portIds))
  const swept = new Set<string>()
  for (const n of networks.values()) {
    const mapper = n.portMapper
    for (const p of mapper?.published() ?? []) {
      const ids = portIds(p)
      if (!mapper || published.has(ids[0] ?? '')) continue
      const what = `${p.proto}/${p.hostIP}:${p.hostPort}->${p.containerIP}:${p.containerPort} (its endpoint is gone)`
      for (const id of ids) swept.add(id)
      if (inKernel.has(ids[0] ?? '')) await attempt(what, () => mapper.unpublish(p), report.firewallPorts)
      else await attempt(what, async () => mapper.forget(p), report.firewallPorts)
    }
  }
  // Rules are ours to remove when their bridge is gone, or is one of our own links.
  const present = new Map((await res.host.listLinks()).map((l) => [l.name, parseAlias(l.alias)]))
  const oursOrGone = (bridge: string): boolean => !present.has(bridge) || present.get(bridge)?.owner === res.owner
  const subnets = [...networks.values()].flatMap(allSubnets)
  const bridges = new Set([...networks.values()].filter((n) => n.firewallProgrammed).map((n) => n.bridgeName))
  for (const net of inventory.networks) {
    if (!bridges.has(net.bridge) && !known.links.has(net.bridge) && oursOrGone(net.bridge)) {
      await attempt(
        net.bridge,
        async () => {
          await res.firewall.deleteNetwork({ bridge: net.bridge })
          // Without its rules, route_localnet=1 on a bridge that is still there would let its
          // containers reach the host's loopback services: it goes back to the kernel default.
          if (present.has(net.bridge)) res.host.writeSysctl(`net/ipv4/conf/${net.bridge}/route_localnet`, '0')
        },
        report.firewallNetworks,
      )
    }
  }
  for (const port of inventory.ports) {
    const id = `${port.proto}/${port.hostPort}/${port.containerIP}`
    if (swept.has(id) || published.has(id)) continue
    if (known.ports.has(`${port.proto}/${port.hostPort}`)) continue
    // Ours: a port to a container in one of our networks, or one published on a bridge (its
    // comment) that no record names and that is ours or gone (an emptied store's orphans). Any
    // other is another store's (or another tool's).
    const onStrayBridge =
      port.bridge !== undefined && !bridges.has(port.bridge) && !known.links.has(port.bridge) && oursOrGone(port.bridge)
    if (!onStrayBridge && !subnets.some((s) => containsAddress(s, port.containerIP))) continue
    const what = `${port.proto}/${port.hostIP ?? '*'}:${port.hostPort}->${port.containerIP}:${port.containerPort}`
    await attempt(what, () => res.firewall.deletePorts([{ ...port }]), report.firewallPorts)
  }
  return report
}
