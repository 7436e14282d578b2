import { InvalidConfigError, NotSupportedError, type PortBinding, type PublishedPort } from '@cnm/driverapi'
import { isIPv6, isLoopback, parseAddress } from '@cnm/ip'
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
 * failure the ones already published are unmapped and the error is rethrown. A binding without a
 * host address is published, as Docker does, on every address of each family the endpoint has —
 * `0.0.0.0` and `::` — on the same host port; one with a host address goes to the endpoint's address
 * of that family.
 */
export async function publishPorts(
  mapper: PortMapper,
  ep: EndpointState,
  bindings: readonly PortBinding[],
): Promise<void> {
  try {
    for (const b of bindings) {
      if (b.hostIP !== undefined) {
        ep.ports.push(await publishOne(mapper, containerAddress(ep, b.hostIP, b), b))
        continue
      }
      const v4 = ep.ipv4 ? await publishOne(mapper, ep.ipv4, b) : undefined
      if (v4) ep.ports.push(v4)
      if (ep.ipv6) {
        const same = v4
          ? {
              ...b,
              hostIP: '::',
              hostPort: v4.hostPort,
              ...(v4.hostPortEnd !== v4.hostPort ? { hostPortEnd: v4.hostPortEnd } : {}),
            }
          : { ...b, hostIP: '::' }
        ep.ports.push(await publishOne(mapper, ep.ipv6, same))
      }
    }
  } catch (err) {
    await unpublishPorts(mapper, ep)
    throw err
  }
}

/** The endpoint's address of the host address's family (a typed error when it has none). */
function containerAddress(ep: EndpointState, hostIP: string, b: PortBinding): string {
  const family = isIPv6(hostIP) ? 6 : 4
  if (family === 6 && isLoopback(parseAddress(hostIP))) {
    // There is no route_localnet for IPv6: the kernel never routes ::1 to a bridge, so a DNAT rule
    // could not deliver (Docker needs its userland proxy for this).
    throw new NotSupportedError(
      `port ${b.containerPort}/${b.proto} on ${hostIP}: IPv6 loopback cannot be published (the kernel does not route ::1 to a bridge); use [::] or 127.0.0.1`,
    )
  }
  const ip = family === 6 ? ep.ipv6 : ep.ipv4
  if (!ip) {
    throw new InvalidConfigError(
      `port ${b.containerPort}/${b.proto} on ${hostIP}: endpoint ${ep.id} has no IPv${family} address`,
    )
  }
  return ip
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
