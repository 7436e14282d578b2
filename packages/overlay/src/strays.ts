import { hasErrorCode, type KnownRecords, type StrayReport } from '@cnm/driverapi'
import { releaseClaim } from './addresses.js'
import { endpointsPrefix, overlayPrefix, parseEndpointRecordValue } from './cluster-keys.js'
import { parseAlias } from './marks.js'
import type { DriverResources, NetworkState } from './state.js'

async function attempt(report: StrayReport, list: string[], what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn()
    list.push(what)
  } catch (err) {
    if (hasErrorCode(err, 'ENODEV')) return // gone meanwhile
    report.errors.push(`${what}: ${(err as Error).message}`)
  }
}

/**
 * Removes what carries this driver's owner mark but that neither the driver holds nor `known`
 * records (left by a crash between a change and the store's commit): host-side veths (their
 * container side goes with them), then networks' VXLAN devices and bridges with their firewall
 * rules; and this host's endpoint records and address claims in the cluster that name no endpoint
 * held or recorded. Another owner's links and other hosts' records are never touched.
 */
export async function removeStrays(
  res: DriverResources,
  networks: ReadonlyMap<string, NetworkState>,
  known: KnownRecords,
): Promise<StrayReport> {
  const report: StrayReport = { links: [], firewallNetworks: [], firewallPorts: [], errors: [] }
  const heldEndpoint = (nid: string, eid: string): boolean =>
    (networks.get(nid)?.endpoints.has(eid) ?? false) || known.endpoints.get(eid)?.networkId === nid
  // A network's devices stay while it holds endpoints here (held or recorded).
  const devicesWanted = (nid: string): boolean =>
    networks.get(nid)?.devices !== undefined || [...known.endpoints.values()].some((e) => e.networkId === nid)
  const links = await res.host.listLinks()
  const devices: { name: string; kind: string | undefined }[] = []
  for (const link of links) {
    const mark = parseAlias(link.alias)
    if (!mark || mark.owner !== res.owner) continue
    if (mark.endpoint !== undefined) {
      if (!heldEndpoint(mark.network, mark.endpoint)) {
        await attempt(report, report.links, link.name, () => res.host.deleteLink(link.name))
      }
    } else if (!devicesWanted(mark.network)) {
      devices.push({ name: link.name, kind: link.kind })
    }
  }
  // VXLAN devices first, then the bridges with their rules.
  devices.sort((a, b) => (a.kind === 'bridge' ? 1 : 0) - (b.kind === 'bridge' ? 1 : 0))
  for (const d of devices) {
    if (d.kind === 'bridge') {
      await attempt(report, report.firewallNetworks, d.name, () => res.firewall.deleteNetwork({ bridge: d.name }))
    }
    await attempt(report, report.links, d.name, () => res.host.deleteLink(d.name))
  }
  await removeStrayRecords(res, heldEndpoint, report)
  return report
}

/** This host's endpoint records (and their address claims) that no endpoint held or recorded names. */
async function removeStrayRecords(
  res: DriverResources,
  held: (nid: string, eid: string) => boolean,
  report: StrayReport,
): Promise<void> {
  const { cluster } = res
  const prefix = `${overlayPrefix(cluster)}endpoints/`
  let entries: Awaited<ReturnType<typeof cluster.kv.range>>['entries']
  try {
    entries = (await cluster.kv.range(prefix)).entries
  } catch (err) {
    report.errors.push(`list endpoint records: ${(err as Error).message}`)
    return
  }
  for (const e of entries) {
    const [nid, eid] = e.key.slice(prefix.length).split('/')
    const record = parseEndpointRecordValue(e.value)
    if (!nid || !eid || record?.host !== cluster.host || held(nid, eid)) continue
    if (!e.key.startsWith(endpointsPrefix(cluster, nid))) continue
    await attempt(report, [], `record ${eid}`, async () => {
      await releaseClaim(res, nid, eid, record.ipv4, record.ipv6)
    })
  }
}
