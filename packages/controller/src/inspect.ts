import { networkSubnets, type SandboxInfo } from '@cnm/driverapi'
import { type Core, driverOf } from './core.js'
import { unknownEndpoint, unknownNetwork } from './errors.js'
import type { EndpointInspect, NetworkInspect, PortInfo } from './types.js'

/** The published ports of one endpoint, as its driver holds them. */
export function endpointPorts(core: Core, eid: string): PortInfo[] {
  const ep = core.endpoints.get(eid)
  if (!ep) throw unknownEndpoint(eid)
  const net = core.networks.get(ep.networkId)
  if (!net) return []
  return driverOf(core, net.type)
    .endpointInfo(ep.networkId, eid)
    .ports.map((p) => ({ network: net.name, endpoint: ep.name, ...p }))
}

export function inspectEndpoint(core: Core, eid: string): EndpointInspect {
  const ep = core.endpoints.get(eid)
  if (!ep) throw unknownEndpoint(eid)
  const net = core.networks.get(ep.networkId)
  const info = net ? driverOf(core, net.type).endpointInfo(ep.networkId, eid) : undefined
  const join = core.joins.get(eid)
  const sb = join ? core.sandboxes.get(join.sandboxId) : undefined
  return {
    id: ep.id,
    name: ep.name,
    aliases: ep.aliases ?? [],
    network: { id: ep.networkId, name: net?.name ?? '' },
    sandboxKey: ep.sandboxKey,
    joined: join && sb ? { sandboxId: sb.id, key: sb.key, interface: join.interfaceName } : undefined,
    macAddress: info?.macAddress,
    ipv4: info?.ipv4,
    ipv6: info?.ipv6,
    sandboxInfo: ep.sandboxInfo as SandboxInfo,
    ports: endpointPorts(core, eid),
  }
}

export function inspectNetwork(core: Core, nid: string): NetworkInspect {
  const net = core.networks.get(nid)
  if (!net) throw unknownNetwork(nid)
  const info = core.drivers.get(net.type)?.networkInfo(nid)
  return {
    id: net.id,
    name: net.name,
    driver: net.type,
    options: net.options,
    ...(net.ipam ? { ipam: net.ipam } : {}),
    device: info?.device,
    subnet: info?.subnetV4,
    gateway: info?.gatewayV4,
    subnetIPv6: info?.subnetV6,
    gatewayIPv6: info?.gatewayV6,
    ...(info ? { subnets: networkSubnets(info) } : {}),
    internal: info?.internal ?? false,
    icc: info?.icc ?? true,
    labels: net.labels ?? {},
    created: net.created,
    endpoints: core.endpoints.inGroup(nid).map((e) => inspectEndpoint(core, e.id)),
  }
}
