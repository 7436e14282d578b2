import { InvalidConfigError, type PortBinding, type PublishedPort, withUndo } from '@cnm/driverapi'
import { parseEndpointConfig } from './endpoint-config.js'
import { withHostBinding } from './host-binding.js'
import { publishPorts, unpublishPorts } from './publish.js'
import type { DriverResources, EndpointState, NetworkState } from './resources.js'

/** Whether a published port is one of `ports` (same protocol, host address and host port). */
const among =
  (ports: readonly PublishedPort[]) =>
  (p: PublishedPort): boolean =>
    ports.some((q) => q.proto === p.proto && q.hostIP === p.hostIP && q.hostPort === p.hostPort)

/**
 * Publishes more ports on an existing endpoint (libnetwork's `ProgramExternalConnectivity`), all or
 * none: hairpin on its host end, then each binding through the network's port mapper (held, DNAT,
 * localhost, hairpin) and the conntrack entries of the new host ports flushed. On a failure the
 * ones published here are unmapped (the endpoint's earlier ports stay) and the error is rethrown.
 */
export async function publishEndpointPorts(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  raw: readonly PortBinding[],
): Promise<PublishedPort[]> {
  const bindings = parseEndpointConfig({ portBindings: raw }).portBindings
  if (bindings.length === 0) return []
  if (net.config.internal) {
    throw new InvalidConfigError(
      `network ${net.id} is internal: nothing can reach it from outside, so ports cannot be published on it`,
    )
  }
  const added: EndpointState = { ...ep, ports: [] }
  await withUndo(async (undo) => {
    if (ep.ports.length === 0) {
      await res.host.setHairpin(ep.hostVeth, true)
      undo.push(() => res.host.setHairpin(ep.hostVeth, false))
    }
    net.portMapper ??= res.newPortMapper(net.bridgeName, net.config.holdPorts)
    await publishPorts(net.portMapper, added, withHostBinding(bindings, net.config), res)
  })
  ep.ports.push(...added.ports)
  return added.ports.map((p) => ({ ...p }))
}

/**
 * Unpublishes exactly these ports of an endpoint (`RevokeExternalConnectivity`): each is unmapped
 * and its conntrack entries flushed; the others stay. Every step runs; returns every failure.
 */
export async function unpublishEndpointPorts(
  res: DriverResources,
  net: NetworkState,
  ep: EndpointState,
  ports: readonly PublishedPort[],
): Promise<unknown[]> {
  const named = among(ports)
  const going: EndpointState = { ...ep, ports: ep.ports.filter(named) }
  ep.ports = ep.ports.filter((p) => !named(p))
  return unpublishPorts(net.portMapper, going, res)
}
