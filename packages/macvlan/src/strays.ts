import { hasErrorCode, type KnownRecords, type StrayReport } from '@cnm/driverapi'
import { parseAlias } from './marks.js'
import { visitNamespaces } from './namespaces.js'
import type { DriverResources, NetworkState } from './state.js'

async function remove(report: StrayReport, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn()
    report.links.push(what)
  } catch (err) {
    if (hasErrorCode(err, 'ENODEV')) return // gone meanwhile (with its parent)
    report.errors.push(`${what}: ${(err as Error).message}`)
  }
}

/**
 * Removes links whose alias names this driver's owner but that neither the driver holds nor `known`
 * records (left by a crash between a kernel change and the store's commit): endpoint links in the
 * host namespace and in every bound network namespace (sandboxes), then VLAN sub-interfaces a
 * network created. Another owner's links, and unmarked ones, are never touched. Every removal is
 * tried; failures are reported.
 */
export async function removeStrays(
  res: DriverResources,
  networks: ReadonlyMap<string, NetworkState>,
  known: KnownRecords,
): Promise<StrayReport> {
  const report: StrayReport = { links: [], firewallNetworks: [], firewallPorts: [], errors: [] }
  const vlans: string[] = []
  await visitNamespaces(res.host, [''], true, async (handle, key) => {
    let links: Awaited<ReturnType<typeof handle.listLinks>>
    try {
      links = await handle.listLinks()
    } catch (err) {
      report.errors.push(`list links in ${key || 'the host namespace'}: ${(err as Error).message}`)
      return undefined
    }
    for (const link of links) {
      const mark = parseAlias(link.alias)
      if (!mark || mark.owner !== res.owner) continue
      // The bridge driver marks its bridges and veths alike: only macvlan and VLAN links are this driver's.
      if (link.kind !== (mark.endpoint === undefined ? 'vlan' : 'macvlan')) continue
      if (mark.endpoint !== undefined) {
        const held = networks.get(mark.network)?.endpoints.has(mark.endpoint) ?? false
        const recorded = known.endpoints.get(mark.endpoint)?.networkId === mark.network
        if (held || recorded) continue
        const what = key === '' ? link.name : `${link.name} in ${key}`
        await remove(report, what, () => handle.deleteLink(link.name))
      } else if (key === '' && !networks.has(mark.network) && !known.networks.has(mark.network)) {
        vlans.push(link.name)
      }
    }
    return undefined // every namespace
  })
  // Endpoint links first: deleting a VLAN takes the macvlan links on it along.
  for (const name of vlans) await remove(report, name, () => res.host.deleteLink(name))
  return report
}
