import { hasErrorCode, type Interface, pickInterfaceName, type SandboxInfo } from '@cnm/driverapi'
import { createMacvlan, type Handle, type Link, openHandle } from '@cnm/netlink'
import { allocateAddresses, releaseAddresses } from './addresses.js'
import type { EndpointConfig } from './endpoint-config.js'
import { CNM_LINK_GROUP, endpointAlias } from './marks.js'
import { endpointLinkName, macFromIPv4 } from './names.js'
import { visitNamespaces } from './namespaces.js'
import type { DriverResources, EndpointState, NetworkState } from './state.js'

/** What a sandbox must configure for the endpoint: its link (renamed to `ifName`), addresses, gateways. */
export function sandboxInfo(net: NetworkState, ep: EndpointState): SandboxInfo {
  const { ipv4: v4, ipv6: v6 } = net.config
  const iface: Interface = {
    srcName: ep.linkName,
    dstName: ep.ifName,
    macAddress: ep.mac,
    ...(ep.ipv4 && v4 ? { address: `${ep.ipv4}/${v4.subnet.prefixLength}` } : {}),
    ...(ep.ipv6 && v6 ? { addressIPv6: `${ep.ipv6}/${v6.subnet.prefixLength}` } : {}),
    ...(net.config.mtu ? { mtu: net.config.mtu } : {}),
  }
  return {
    interfaces: [iface],
    ...(net.gatewayV4 && !net.config.internal ? { gateway: net.gatewayV4 } : {}),
    ...(net.gatewayV6 && !net.config.internal ? { gatewayIPv6: net.gatewayV6 } : {}),
  }
}

/** The MAC the link is born with: the one asked for, else Docker's from the IPv4 address. */
function wantedMac(net: NetworkState, cfg: EndpointConfig, ipv4: string | undefined): string | undefined {
  if (cfg.macAddress) return cfg.macAddress
  // passthru takes the parent's own MAC; any other would be written onto the parent.
  if (net.config.mode === 'passthru' || !ipv4) return undefined
  return macFromIPv4(ipv4)
}

async function parentIndex(res: DriverResources, net: NetworkState): Promise<number> {
  return (await res.host.getLink(net.config.parent.name)).index
}

/** Creates the link in the sandbox's namespace (or the host's), down, marked; returns it. */
async function createLink(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  sandbox: Handle | undefined,
  mac: string | undefined,
): Promise<Link> {
  return createMacvlan(res.host, ep.linkName, {
    parent: await parentIndex(res, net),
    mode: net.config.mode,
    ...(sandbox ? { target: sandbox } : {}),
    ...(mac ? { mac } : {}),
    ...(net.config.mtu ? { mtu: net.config.mtu } : {}),
    group: CNM_LINK_GROUP,
    alias: endpointAlias(res.owner, net.id, ep.id),
  })
}

/**
 * Creates an endpoint: its addresses, then its macvlan link on the network's parent, born directly
 * in the sandbox's namespace (one request) under a temporary name the sandbox renames to the first
 * free `ethN`; with no sandbox key it is born in the host namespace, to be moved at join. The
 * addresses are given back if the link cannot be made.
 */
export async function createEndpoint(
  res: DriverResources,
  net: NetworkState,
  eid: string,
  sandboxKey: string,
  cfg: EndpointConfig,
): Promise<SandboxInfo> {
  const { ipv4, ipv6 } = allocateAddresses(res.allocator, net, cfg)
  const ep: EndpointState = {
    id: eid,
    linkName: endpointLinkName(eid),
    ifName: cfg.interfaceName ?? 'eth0',
    sandboxKey,
    joinedKey: undefined,
    ipv4,
    ipv6,
    mac: '',
    config: cfg,
  }
  let sandbox: Handle | undefined
  try {
    if (sandboxKey) {
      sandbox = await openHandle({ netns: sandboxKey })
      const names = (await sandbox.listLinks()).map((l) => l.name)
      ep.ifName = pickInterfaceName(names, cfg.interfaceName, `sandbox ${sandboxKey}`)
    }
    const link = await createLink(res, net, ep, sandbox, wantedMac(net, cfg, ipv4))
    ep.mac = link.mac ?? ''
  } catch (err) {
    releaseAddresses(res.allocator, net, ep)
    throw err
  } finally {
    sandbox?.close()
  }
  net.endpoints.set(eid, ep)
  return sandboxInfo(net, ep)
}

/**
 * Where an endpoint's link can be: where it joined, where it was born, the host namespace. One born
 * in the host namespace and never joined through the driver may have been moved anywhere: `scan`.
 */
export function placesOf(ep: Pick<EndpointState, 'joinedKey' | 'sandboxKey'>): { keys: string[]; scan: boolean } {
  const keys = [ep.joinedKey, ep.sandboxKey, ''].filter((k): k is string => k !== undefined)
  return { keys: [...new Set(keys)], scan: ep.sandboxKey === '' && ep.joinedKey === undefined }
}

/** Finds the endpoint's link (by its alias) wherever it is: its namespace key and its current name. */
export function findEndpointLink(
  res: DriverResources,
  nid: string,
  ep: Pick<EndpointState, 'id' | 'joinedKey' | 'sandboxKey'>,
): Promise<{ key: string; link: Link } | undefined> {
  const alias = endpointAlias(res.owner, nid, ep.id)
  const { keys, scan } = placesOf(ep)
  return visitNamespaces(res.host, keys, scan, async (handle, key) => {
    const link = (await handle.listLinks()).find((l) => l.alias === alias)
    return link ? { key, link } : undefined
  })
}

/**
 * Removes an endpoint: its link wherever it is (host or sandbox namespace; one already gone with
 * its sandbox is fine), then its addresses. Every step runs; failures are returned.
 */
export async function deleteEndpoint(res: DriverResources, net: NetworkState, ep: EndpointState): Promise<unknown[]> {
  const errors: unknown[] = []
  const alias = endpointAlias(res.owner, net.id, ep.id)
  const { keys, scan } = placesOf(ep)
  try {
    await visitNamespaces(res.host, keys, scan, async (handle) => {
      const link = (await handle.listLinks()).find((l) => l.alias === alias)
      if (!link) return undefined
      try {
        await handle.deleteLink(link.name)
      } catch (err) {
        if (!hasErrorCode(err, 'ENODEV')) throw err
      }
      return true
    })
  } catch (err) {
    errors.push(err)
  }
  releaseAddresses(res.allocator, net, ep)
  net.endpoints.delete(ep.id)
  return errors
}
