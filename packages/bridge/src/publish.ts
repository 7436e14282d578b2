import type { PortBinding, PublishedPort } from '@cnm/driverapi'
import type { PortMapper } from '@cnm/portmapper'
import type { EndpointState } from './resources.js'

export type { PublishedPort }

async function publishOne(mapper: PortMapper, ip: string, b: PortBinding): Promise<PublishedPort> {
  const containerPortEnd = b.containerPortEnd ?? b.containerPort
  if (containerPortEnd !== b.containerPort) {
    const host = await mapper.mapRange(
      { proto: b.proto, ip, port: b.containerPort, endPort: containerPortEnd },
      b.hostIP,
      b.hostPort,
      b.hostPortEnd,
    )
    return {
      proto: b.proto,
      containerIP: ip,
      containerPort: b.containerPort,
      containerPortEnd,
      hostIP: host.ip,
      hostPort: host.port,
      hostPortEnd: host.endPort,
    }
  }
  const host = await mapper.map({ proto: b.proto, ip, port: b.containerPort }, b.hostIP, b.hostPort)
  return {
    proto: b.proto,
    containerIP: ip,
    containerPort: b.containerPort,
    containerPortEnd,
    hostIP: host.ip,
    hostPort: host.port,
    hostPortEnd: host.port,
  }
}

/**
 * Publishes an endpoint's ports through its network's port mapper, one binding at a time; on
 * failure the ones already published are unmapped and the error is rethrown.
 */
export async function publishPorts(
  mapper: PortMapper,
  ep: EndpointState,
  bindings: readonly PortBinding[],
): Promise<void> {
  try {
    for (const b of bindings) ep.ports.push(await publishOne(mapper, ep.ipv4 ?? '', b))
  } catch (err) {
    await unpublishPorts(mapper, ep)
    throw err
  }
}

/** The bindings that re-publish exactly what `ports` holds (same host address and ports). */
export function republishBindings(ports: readonly Omit<PublishedPort, 'containerIP'>[]): PortBinding[] {
  return ports.map((p) => ({
    proto: p.proto,
    containerPort: p.containerPort,
    ...(p.containerPortEnd !== p.containerPort ? { containerPortEnd: p.containerPortEnd } : {}),
    hostIP: p.hostIP,
    hostPort: p.hostPort,
    ...(p.hostPortEnd !== p.hostPort ? { hostPortEnd: p.hostPortEnd } : {}),
  }))
}

/** Unmaps every published port of the endpoint; returns every failure. */
export async function unpublishPorts(mapper: PortMapper | undefined, ep: EndpointState): Promise<unknown[]> {
  const errors: unknown[] = []
  for (const p of mapper ? ep.ports : []) {
    try {
      await mapper?.unmap({ proto: p.proto, ip: p.hostIP, port: p.hostPort })
    } catch (err) {
      errors.push(err)
    }
  }
  ep.ports = []
  return errors
}
