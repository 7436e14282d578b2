import { errorKind, type KnownRecords } from '@cnm/driverapi'
import { tryParseAddress } from '@cnm/ip'
import type { ConntrackMatch } from '@cnm/netlink'
import { conntrackEmpty } from './conntrack-empty.js'
import type { BridgeEndpointRecord } from './records.js'
import type { DriverResources, NetworkState } from './resources.js'
import { subnetsOf } from './subnets.js'

/**
 * Deletes the conntrack entries of every address of the driver's subnets that nothing holds: no
 * endpoint (restored, or recorded by the store), gateway or aux address (on bridges cnm created:
 * an adopted one may carry hosts that are not cnm's). A long-lived owner flushes
 * a deleted endpoint's entries after its delete answered, its addresses reserved until then; one
 * that died in between left entries a masqueraded flow keeps alive, for an address now free. The
 * driver's first stray check after a start (its restore) runs this, in one dump of the table.
 * Returns the problem, if any, as a line for the stray report.
 */
export async function sweepConntrack(
  res: DriverResources,
  networks: ReadonlyMap<string, NetworkState>,
  known: KnownRecords,
): Promise<string | undefined> {
  if (networks.size === 0 || conntrackEmpty(res.host)) return undefined
  const held = new Set<string>()
  for (const { record } of known.endpoints.values()) {
    const r = record as Partial<BridgeEndpointRecord> | null
    // a record's text canonical (as the match compares it); one that is no address holds nothing
    for (const ip of [r?.ipv4, r?.ipv6]) {
      const text = tryParseAddress(ip)?.text
      if (text) held.add(text)
    }
  }
  const subnets: string[] = []
  for (const net of networks.values()) {
    for (const ep of net.endpoints.values()) for (const ip of [ep.ipv4, ep.ipv6]) if (ip) held.add(ip)
    for (const aux of [net.config.auxAddresses, ...net.config.moreSubnets.map((m) => m.auxAddresses)]) {
      for (const ip of Object.values(aux)) held.add(ip.text)
    }
    for (const s of [...subnetsOf(net, 4), ...subnetsOf(net, 6)]) {
      if (s.gateway) held.add(s.gateway)
      // An adopted bridge (`bridgeName` of one that existed) may carry other hosts (a VM, a
      // hand-made veth) whose addresses cnm never hands out: their flows are not cnm's to end.
      if (net.createdBridge) subnets.push(s.subnet)
    }
  }
  if (subnets.length === 0) return undefined
  const except = [...held]
  const matches: ConntrackMatch[] = subnets.map((subnet) => ({ address: subnet, except }))
  try {
    await res.host.flushConntrack(matches)
    return undefined
  } catch (err) {
    if (errorKind(err) === 'unsupported') return undefined
    return `conntrack entries of free addresses: ${err instanceof Error ? err.message : String(err)}`
  }
}
