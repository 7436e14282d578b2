import {
  addressClaimKey,
  addressClaimsPrefix,
  hasErrorCode,
  type Interface,
  runAll,
  type SandboxInfo,
  withUndo,
} from '@cnm/driverapi'
import { type Handle, openHandle } from '@cnm/netlink'
import { claimAddress, releaseAddress, releaseClaim } from './addresses.js'
import { setupDevices, teardownDevices } from './devices.js'
import type { EndpointConfig } from './endpoint-config.js'
import { AddressInUseError } from './errors.js'
import { endpointAlias, OVERLAY_LINK_GROUP } from './marks.js'
import { containerLinkName, freeEthName, hostVethName, ipv6FromMac, macFromId, macFromIPv4 } from './names.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'

/** What a sandbox must configure for the endpoint: its link (renamed to `ifName`), address, MTU, gateway. */
export function sandboxInfo(net: NetworkState, ep: EndpointState): SandboxInfo {
  const { ipv4: v4, ipv6: v6 } = net.config
  const iface: Interface = {
    srcName: ep.linkName,
    dstName: ep.ifName,
    macAddress: ep.mac,
    ...(ep.ipv4 && v4 ? { address: `${ep.ipv4}/${v4.subnet.prefixLength}` } : {}),
    ...(ep.ipv6 && v6 ? { addressIPv6: `${ep.ipv6}/${v6.subnet.prefixLength}` } : {}),
    ...(net.devices ? { mtu: net.devices.mtu } : {}),
  }
  const gateways = net.config.internal
    ? {}
    : {
        ...(ep.ipv4 && v4 ? { gateway: v4.gateway.text } : {}),
        ...(ep.ipv6 && v6 ? { gatewayIPv6: v6.gateway.text } : {}),
      }
  return { interfaces: [iface], ...gateways }
}

/** How many addresses other hosts took meanwhile are skipped before giving up. */
const ATTEMPTS = 64

/** Thrown inside one attempt when another endpoint won the address: the attempt is undone, the next tried. */
class LostClaim extends Error {}

/**
 * One attempt at an endpoint with `ipv4` (none on an IPv6-only network) and `mac`: the cluster
 * claim (addresses and record, one transaction)
 * runs while the kernel work does — the network's devices if it is the first endpoint here, then a
 * veth whose container side is born in the sandbox (MTU of the overlay, MAC from the address) and
 * whose host side is a port of the network's bridge. A lost claim or a failed step undoes all of it.
 */
async function attempt(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  sandboxKey: string,
  cfg: EndpointConfig,
  ipv4: string | undefined,
  mac: string,
): Promise<SandboxInfo> {
  const v6 = net.config.ipv6
  const ipv6 = v6 ? (cfg.ipv6Address ?? ipv6FromMac(v6.subnet, mac)) : undefined
  const record = {
    host: res.cluster.host,
    vtep: res.cluster.advertise,
    mac,
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
  }
  const claimed = claimAddress(res, net.id, eid, record).then(
    (won) => ({ won }),
    (err: unknown) => ({ err }),
  )
  return withUndo(async (undo) => {
    undo.push(async () => {
      const c = await claimed
      if ('won' in c && c.won) await releaseClaim(res, net.id, eid, ipv4, ipv6)
    })
    if (!net.devices) {
      await setupDevices(res, net)
      undo.push(async () => {
        if (net.endpoints.size === 0) throwFirst(await teardownDevices(res, net))
      })
    }
    const devices = net.devices
    if (!devices) throw new Error(`overlay network ${net.id}: no devices`)
    const ep: EndpointState = {
      id: eid,
      hostVeth: hostVethName(eid),
      linkName: containerLinkName(eid),
      ifName: 'eth0',
      sandboxKey,
      joinedKey: undefined,
      ipv4,
      ipv6,
      mac,
      config: cfg,
    }
    let sandbox: Handle | undefined
    try {
      if (sandboxKey) {
        // Born in the sandbox under its final name (no rename there afterwards).
        sandbox = await openHandle({ netns: sandboxKey })
        ep.ifName = await freeEthName(sandbox)
        ep.linkName = ep.ifName
      }
      undo.push(() => res.host.deleteLink(ep.hostVeth).catch(ignoreGone))
      await res.host.createVeth(ep.hostVeth, ep.linkName, {
        ...(sandbox ? { peerNetns: sandbox.nsPath } : {}),
        mtu: devices.mtu,
        peerMac: mac,
        alias: endpointAlias(res.owner, net.id, eid),
        group: OVERLAY_LINK_GROUP,
      })
    } finally {
      sandbox?.close()
    }
    await res.host.setMaster(ep.hostVeth, devices.bridge)
    await res.host.setLinkUp(ep.hostVeth)
    const c = await claimed
    if ('err' in c) throw c.err
    if (!c.won) throw new LostClaim([ipv4, ipv6].filter(Boolean).join(' and '))
    net.endpoints.set(eid, ep)
    return sandboxInfo(net, ep)
  })
}

/**
 * Creates an endpoint with an address from this host's pool (the preferred one when given) that
 * the cluster confirms no other endpoint holds: an address another host took meanwhile is skipped
 * and the next one tried; the preferred one taken elsewhere is `ERR_ADDRESS_IN_USE`. Nothing stays
 * behind on failure.
 */
export async function createEndpoint(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  sandboxKey: string,
  cfg: EndpointConfig,
): Promise<SandboxInfo> {
  const pool = net.pool
  if (!pool) return createIPv6OnlyEndpoint(res, net, eid, sandboxKey, cfg)
  const skipped: string[] = []
  try {
    for (let i = 0; i < ATTEMPTS; i++) {
      const ipv4 = requestAddress(res, net.id, pool, cfg.ipv4Address)
      try {
        return await attempt(res, net, eid, sandboxKey, cfg, ipv4, cfg.macAddress ?? macFromIPv4(ipv4))
      } catch (err) {
        if (!(err instanceof LostClaim) || cfg.ipv4Address !== undefined || (await ipv6Taken(res, net, cfg))) {
          res.allocator.releaseIP(pool, ipv4)
          if (err instanceof LostClaim) throw new AddressInUseError(net.id, err.message)
          throw err
        }
        skipped.push(ipv4)
        // This host did not know the cluster's claims (no endpoint here yet, so no watch): read
        // them once and skip them all, instead of losing one race per address held elsewhere.
        if (i === 0) skipped.push(...(await holdClaimed(res, net, pool)))
      }
    }
    throw new AddressInUseError(net.id, `after ${ATTEMPTS} addresses taken elsewhere`)
  } finally {
    // Addresses other hosts hold are not this host's to keep: the cluster decides next time.
    for (const ip of skipped) res.allocator.releaseIP(pool, ip)
  }
}

/**
 * An address from the network's pool. One asked for that this host already knows is held (by an
 * endpoint here, or one elsewhere that the cluster's watch reported) is the cluster's conflict,
 * `ERR_ADDRESS_IN_USE`, as when the claim itself is lost: the same answer however the race went.
 */
function requestAddress(res: DriverResources, nid: string, pool: string, wanted: string | undefined): string {
  try {
    return res.allocator.requestIP(pool, wanted)
  } catch (err) {
    if (wanted !== undefined && hasErrorCode(err, 'ERR_IP_ALREADY_ALLOCATED')) throw new AddressInUseError(nid, wanted)
    throw err
  }
}

/**
 * Whether the IPv6 address every attempt would use (the one asked for, or the one a MAC asked for
 * gives) is claimed: then trying other IPv4 addresses is no use.
 */
async function ipv6Taken(res: DriverResources, net: NetworkState, cfg: EndpointConfig): Promise<boolean> {
  const fixed =
    cfg.ipv6Address ??
    (cfg.macAddress && net.config.ipv6 ? ipv6FromMac(net.config.ipv6.subnet, cfg.macAddress) : undefined)
  if (fixed === undefined) return false
  return (await res.cluster.kv.get(addressClaimKey(res.cluster, net.id, fixed))) !== undefined
}

/**
 * An endpoint of an IPv6-only network: its MAC is the one asked for, or one derived from its id
 * (locally administered), and its address the subnet's prefix with that MAC (or the one asked
 * for). A MAC-derived address another endpoint holds is retried with the next MAC.
 */
async function createIPv6OnlyEndpoint(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  sandboxKey: string,
  cfg: EndpointConfig,
): Promise<SandboxInfo> {
  for (let i = 0; i < ATTEMPTS; i++) {
    try {
      return await attempt(res, net, eid, sandboxKey, cfg, undefined, cfg.macAddress ?? macFromId(eid, i))
    } catch (err) {
      if (!(err instanceof LostClaim)) throw err
      if (cfg.macAddress !== undefined || cfg.ipv6Address !== undefined)
        throw new AddressInUseError(net.id, err.message)
    }
  }
  throw new AddressInUseError(net.id, `after ${ATTEMPTS} addresses taken elsewhere`)
}

/** Holds every address the cluster records as claimed on the network in this host's pool; returns them. */
async function holdClaimed(res: DriverResources, net: NetworkState, pool: string): Promise<string[]> {
  const prefix = addressClaimsPrefix(res.cluster, net.id)
  const held: string[] = []
  for (const e of (await res.cluster.kv.range(prefix)).entries) {
    try {
      held.push(res.allocator.requestIP(pool, e.key.slice(prefix.length)))
    } catch {
      // Held here already (this host's own, a peer's), or outside the range.
    }
  }
  return held
}

const ignoreGone = (err: unknown): void => {
  if (!hasErrorCode(err, 'ENODEV')) throw err
}

function throwFirst(errors: unknown[]): void {
  if (errors.length > 0) throw errors[0]
}

/**
 * Removes an endpoint: its veth (both ends go together; one gone with its sandbox is fine), its
 * address and record in the cluster, and the network's devices here when it was the last endpoint
 * on this host. Every step runs; failures are returned.
 */
export async function deleteEndpoint(res: DriverResources, net: NetworkState, ep: EndpointState): Promise<unknown[]> {
  const errors = await runAll([
    () => res.host.deleteLink(ep.hostVeth).catch(ignoreGone),
    () => releaseAddress(res, net, ep),
  ])
  net.endpoints.delete(ep.id)
  if (net.endpoints.size === 0) errors.push(...(await teardownDevices(res, net)))
  return errors
}
