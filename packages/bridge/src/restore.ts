import { InvalidConfigError, parseIpam, type RestoreOutcome, withUndo } from '@cnm/driverapi'
import { parseCIDR } from '@cnm/ip'
import { parseEndpointConfig } from './endpoint-config.js'
import { parseAlias } from './marks.js'
import { parseNetworkConfig } from './network-config.js'
import { newNetworkState } from './network-state.js'
import { publishPorts, republishBindings } from './publish.js'
import type { BridgeEndpointRecord, BridgeNetworkRecord } from './records.js'
import type { DriverResources, EndpointState, NetworkContext, NetworkState } from './resources.js'
import { runSteps, type Step } from './steps/step.js'
import { subnetHolding } from './subnets.js'

/** Checks the shape of a network record before anything is done with it. */
export function networkRecordOf(nid: string, raw: unknown): BridgeNetworkRecord {
  const r = raw as Partial<BridgeNetworkRecord> | null
  if (typeof r !== 'object' || r === null || r.id !== nid || typeof r.bridgeName !== 'string') {
    throw new InvalidConfigError(`network ${nid}: not a bridge network record`)
  }
  return r as BridgeNetworkRecord
}

/** Checks the shape of an endpoint record before anything is done with it. */
export function endpointRecordOf(eid: string, raw: unknown): BridgeEndpointRecord {
  const r = raw as Partial<BridgeEndpointRecord> | null
  if (
    typeof r !== 'object' ||
    r === null ||
    r.id !== eid ||
    typeof r.hostVeth !== 'string' ||
    !Array.isArray(r.ports)
  ) {
    throw new InvalidConfigError(`endpoint ${eid}: not a bridge endpoint record`)
  }
  return r as BridgeEndpointRecord
}

/**
 * Restores a recorded network: re-registers its pools and gateway, and runs the setup steps against
 * the recorded bridge and addresses — taking what the kernel still has, rebuilding what is missing
 * (a bridge deleted behind cnm's back comes back with the same name and addresses).
 */
export async function restoreNetwork(
  res: DriverResources,
  steps: readonly Step<NetworkContext>[],
  record: BridgeNetworkRecord,
  otherSubnets: string[],
): Promise<{ net: NetworkState; outcome: RestoreOutcome }> {
  // The record's text (the store's JSON: an edge) parsed once here; an older record's address keys
  // are converted by parseNetworkConfig.
  const config = parseNetworkConfig(record.options, record.ipam === undefined ? undefined : parseIpam(record.ipam))
  let existing = await res.host.findLink(record.bridgeName)
  let renamedBack = false
  if (!existing) {
    // Renamed behind cnm's back: the alias still names this network. Its name comes back (a new
    // bridge beside it would carry the same gateway address twice).
    const renamed = (await res.host.listLinks()).find((l) => {
      const mark = parseAlias(l.alias)
      return l.kind === 'bridge' && mark?.owner === res.owner && mark.network === record.id && !mark.endpoint
    })
    if (renamed) {
      await res.host.setLinkUp(renamed.name, false)
      await res.host.renameLink(renamed.name, record.bridgeName)
      existing = await res.host.findLink(record.bridgeName)
      renamedBack = true
    }
  }
  const present = existing?.kind === 'bridge'
  const net = newNetworkState(record.id, config, record.bridgeName, record.options)
  net.config = {
    ...config,
    bridgeName: record.bridgeName,
    allowNonDefaultBridge: true,
    // The record's text (the store's JSON: an edge) parsed once here.
    addressIPv4: record.bridgeCidrV4 ? parseCIDR(record.bridgeCidrV4) : config.addressIPv4,
    fixedCIDRv6: config.enableIPv6 ? (record.subnetV6 ? parseCIDR(record.subnetV6) : config.fixedCIDRv6) : undefined,
  }
  // what an adopted bridge had before cnm: the values now are cnm's own
  net.priorSysctls = recordedSysctls(record.priorSysctls)
  // Rules flushed or deleted behind cnm's back (`nft flush ruleset`, a firewall reload, one chain
  // flushed): put back by the firewall step, and reported as a repair (`rulesRepaired`).
  const ctx: NetworkContext = {
    res,
    net,
    otherSubnets,
    restoring: true,
    bridgeWasOurs: present && record.createdBridge,
  }
  await runSteps(steps, ctx)
  net.config = config
  // A later subnet's gateway address deleted behind cnm's back was put back: a repair.
  const readded = present && net.moreSubnets.some((s) => s.added)
  if (present) {
    net.createdBridge = record.createdBridge
    if (record.createdBridge) net.priorSysctls = {}
    net.addedV4 ||= record.addedV4
    net.addedV6 ||= record.addedV6
    for (const s of net.moreSubnets) s.added ||= record.moreAdded?.includes(s.bridgeCidr) === true
  }
  return { net, outcome: present && !renamedBack && !ctx.rulesRepaired && !readded ? 'restored' : 'rebuilt' }
}

/** A record's `priorSysctls`, if it is a map of strings (older records have none). */
function recordedSysctls(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {}
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'))
}

/**
 * Restores a recorded endpoint: `gone` when its veth no longer exists (the caller drops the
 * record); else its addresses and host ports are reserved again and its ports re-published.
 */
export async function restoreEndpoint(
  res: DriverResources,
  net: NetworkState,
  record: BridgeEndpointRecord,
): Promise<RestoreOutcome> {
  const veth = await res.host.findLink(record.hostVeth)
  if (!veth) return 'gone'
  // A bridge rebuilt (or renamed back) meanwhile has lost its ports: the veth goes back on it.
  if (net.bridgeIndex !== undefined && veth.master !== net.bridgeIndex) {
    await res.host.setMaster(record.hostVeth, net.bridgeName)
    if (record.ports.length > 0) await res.host.setHairpin(record.hostVeth, true)
  }
  if (!veth.up) await res.host.setLinkUp(record.hostVeth)
  const { ports: _recorded, options, ...rest } = record
  const ep: EndpointState = { ...rest, ports: [], config: parseEndpointConfig(options) }
  // A restore that fails (a host port another program took meanwhile) reserves nothing: it is
  // tried again by the next sync or reconcile, which must find its addresses free.
  await withUndo(async (undo) => {
    for (const ip of [ep.ipv4, ep.ipv6]) {
      const pool = subnetHolding(net, ip)?.subnet
      if (!pool || !ip) continue
      res.allocator.requestIP(pool, ip)
      undo.push(() => res.allocator.releaseIP(pool, ip))
    }
    if (record.ports.length > 0) {
      net.portMapper ??= res.newPortMapper(net.bridgeName, net.config.holdPorts)
      await publishPorts(net.portMapper, ep, republishBindings(record.ports))
    }
  })
  net.endpoints.set(ep.id, ep)
  return 'restored'
}
