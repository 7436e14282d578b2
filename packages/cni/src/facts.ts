import type { Endpoint, Network } from '@cnm/controller'
import type { SandboxInfo } from '@cnm/driverapi'
import { type Handle, type Link, openHandle } from '@cnm/netlink'
import type { AttachmentFacts } from './result.js'

/** A link by index, or undefined when it is gone. */
async function linkAt(h: Handle, index: number | undefined): Promise<Link | undefined> {
  if (index === undefined) return undefined
  try {
    return await h.getLink(index)
  } catch {
    return undefined
  }
}

/**
 * The host side of the container's interface, without a dump of the host's links (one per
 * container: what grows with N): the interface's peer (IFLA_LINK, read inside the namespace `key`),
 * then that link's master, the network's bridge. Three requests, whatever the number of containers.
 */
async function hostSide(
  key: string,
  ifname: string,
): Promise<Pick<AttachmentFacts, 'bridge' | 'hostVeth'> & { gateways: Set<string> }> {
  const inside = await openHandle({ netns: key })
  let peer: number | undefined
  const gateways = new Set<string>()
  try {
    // The default routes' gateways: a container's first network gives them, a later one does not.
    for (const r of [...(await inside.listRoutes(4)), ...(await inside.listRoutes(6))]) {
      const dst = r.destination
      if (r.gateway && (dst === undefined || dst === 'default' || dst === '0.0.0.0/0' || dst === '::/0'))
        gateways.add(r.gateway)
    }
    // A veth's peer is on the host; a macvlan's "link" is its parent, not a host side of its own.
    const link = await inside.findLink(ifname)
    peer = link?.kind === 'veth' ? link.linkIndex : undefined
  } finally {
    inside.close()
  }
  if (peer === undefined) return { bridge: undefined, hostVeth: undefined, gateways }
  const host = await openHandle()
  try {
    const veth = await linkAt(host, peer)
    const bridge = await linkAt(host, veth?.master)
    return {
      hostVeth: veth ? { name: veth.name, mac: veth.mac } : undefined,
      bridge: bridge ? { name: bridge.name, mac: bridge.mac } : undefined,
      gateways,
    }
  } finally {
    host.close()
  }
}

function withRoute(address: string, gateway: string | undefined, gateways: Set<string>) {
  return { address, gateway, defaultRoute: gateway !== undefined && gateways.has(gateway) }
}

/**
 * What the result of an attachment says: the bridge, the host veth, the container's interface, its
 * addresses. `key` is cnm's bind of the container's namespace.
 */
export async function attachmentFacts(
  network: Network,
  endpoint: Endpoint,
  ifname: string,
  netns: string,
  key: string,
): Promise<AttachmentFacts> {
  const ep = endpoint.inspect()
  const info = ep.sandboxInfo as SandboxInfo
  const iface = info.interfaces[0]
  const { bridge, hostVeth, gateways } = await hostSide(key, ifname)
  // The network's own gateways only when the driver gave none (an internal network).
  const net = (info.gateway ?? info.gatewayIPv6) === undefined ? network.inspect() : undefined
  return {
    bridge,
    hostVeth,
    container: { name: ifname, mac: iface?.macAddress ?? ep.macAddress, mtu: iface?.mtu, netns },
    ipv4: iface?.address ? withRoute(iface.address, info.gateway ?? net?.gateway, gateways) : undefined,
    ipv6: iface?.addressIPv6 ? withRoute(iface.addressIPv6, info.gatewayIPv6 ?? net?.gatewayIPv6, gateways) : undefined,
  }
}
