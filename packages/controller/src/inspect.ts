import type { BridgeEndpointRecord } from '@cnm/bridge'
import type { SandboxInfo } from '@cnm/driverapi'
import type { Core } from './core.js'
import { unknownEndpoint, unknownNetwork } from './errors.js'
import type { EndpointInspect, NetworkInspect, PortInfo } from './types.js'

/** The published ports of one endpoint. */
export function endpointPorts(core: Core, eid: string): PortInfo[] {
  const ep = core.endpoints.get(eid)
  if (!ep) throw unknownEndpoint(eid)
  const net = core.networks.get(ep.networkId)
  const record = ep.record as BridgeEndpointRecord
  return record.ports.map((p) => ({
    network: net?.name ?? ep.networkId,
    endpoint: ep.name,
    proto: p.proto,
    hostIP: p.hostIP,
    hostPort: p.hostPort,
    hostPortEnd: p.hostPortEnd,
    containerIP: record.ipv4 ?? '',
    containerPort: p.containerPort,
    containerPortEnd: p.containerPortEnd,
  }))
}

export function inspectEndpoint(core: Core, eid: string): EndpointInspect {
  const ep = core.endpoints.get(eid)
  if (!ep) throw unknownEndpoint(eid)
  const net = core.networks.get(ep.networkId)
  const record = ep.record as BridgeEndpointRecord
  const join = core.joins.get(eid)
  const sb = join ? core.sandboxes.get(join.sandboxId) : undefined
  return {
    id: ep.id,
    name: ep.name,
    network: { id: ep.networkId, name: net?.name ?? '' },
    sandboxKey: ep.sandboxKey,
    joined: join && sb ? { sandboxId: sb.id, key: sb.key, interface: join.interfaceName } : undefined,
    macAddress: record.mac || undefined,
    ipv4: record.ipv4,
    ipv6: record.ipv6,
    sandboxInfo: ep.sandboxInfo as SandboxInfo,
    ports: endpointPorts(core, eid),
  }
}

export function inspectNetwork(core: Core, nid: string): NetworkInspect {
  const net = core.networks.get(nid)
  if (!net) throw unknownNetwork(nid)
  const info = core.drivers.get(net.type)?.network(nid)
  return {
    id: net.id,
    name: net.name,
    driver: net.type,
    options: net.options,
    bridge: info?.bridgeName,
    subnet: info?.subnetV4,
    gateway: info?.gatewayV4,
    subnetIPv6: info?.subnetV6,
    gatewayIPv6: info?.gatewayV6,
    internal: info?.config.internal ?? false,
    icc: info?.config.enableICC ?? true,
    endpoints: [...core.endpoints.values()].filter((e) => e.networkId === nid).map((e) => inspectEndpoint(core, e.id)),
  }
}
