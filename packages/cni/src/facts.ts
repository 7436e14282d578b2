import type { Endpoint, Network } from '@cnm/controller'
import type { SandboxInfo } from '@cnm/driverapi'
import { openHandle } from '@cnm/netlink'
import type { AttachmentFacts } from './result.js'

/** Where a host link of an endpoint is found: cnm marks its links with `…:<endpoint id>` aliases. */
const isEndpointLink = (alias: string | undefined, eid: string): boolean => alias?.endsWith(`:${eid}`) === true

/** What the result of an attachment says: the bridge, the host veth, the container's interface, its addresses. */
export async function attachmentFacts(
  network: Network,
  endpoint: Endpoint,
  ifname: string,
  netns: string,
): Promise<AttachmentFacts> {
  const net = network.inspect()
  const ep = endpoint.inspect()
  const info = ep.sandboxInfo as SandboxInfo
  const iface = info.interfaces[0]
  const host = await openHandle()
  let bridge: AttachmentFacts['bridge']
  let hostVeth: AttachmentFacts['hostVeth']
  try {
    for (const l of await host.listLinks()) {
      if (net.device && l.name === net.device) bridge = { name: l.name, mac: l.mac }
      else if (isEndpointLink(l.alias, endpoint.id)) hostVeth = { name: l.name, mac: l.mac }
    }
  } finally {
    host.close()
  }
  return {
    bridge,
    hostVeth,
    container: { name: ifname, mac: iface?.macAddress ?? ep.macAddress, mtu: iface?.mtu, netns },
    ipv4: iface?.address ? { address: iface.address, gateway: info.gateway ?? net.gateway } : undefined,
    ipv6: iface?.addressIPv6 ? { address: iface.addressIPv6, gateway: info.gatewayIPv6 ?? net.gatewayIPv6 } : undefined,
  }
}
