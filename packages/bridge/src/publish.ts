import type { PortMapper } from '@cnm/portmapper'
import type { PortBinding } from './endpoint-config.js'
import type { EndpointState } from './resources.js'

/**
 * Publishes an endpoint's ports through the port mapper, one binding at a time; on failure the
 * ones already published are unmapped and the error is rethrown.
 */
export async function publishPorts(mapper: PortMapper, ep: EndpointState, bindings: PortBinding[]): Promise<void> {
  try {
    for (const b of bindings) {
      if (b.proto && (b.containerPortEnd ?? b.containerPort) !== b.containerPort) {
        const host = await mapper.mapRange(
          { proto: b.proto, ip: ep.ipv4 ?? '', port: b.containerPort, endPort: b.containerPortEnd ?? b.containerPort },
          b.hostIP,
          b.hostPort,
          b.hostPortEnd,
        )
        for (let p = host.port; p <= host.endPort; p++) ep.published.push({ proto: host.proto, ip: host.ip, port: p })
        ep.publishedRanges.push(host)
      } else {
        const host = await mapper.map(
          { proto: b.proto, ip: ep.ipv4 ?? '', port: b.containerPort },
          b.hostIP,
          b.hostPort,
        )
        ep.published.push(host)
      }
    }
  } catch (err) {
    await unpublishPorts(mapper, ep)
    throw err
  }
}

/** Unmaps every published port of the endpoint; returns every failure. */
export async function unpublishPorts(mapper: PortMapper | undefined, ep: EndpointState): Promise<unknown[]> {
  if (!mapper) return []
  const errors: unknown[] = []
  const singles = ep.published.filter(
    (p) =>
      !ep.publishedRanges.some((r) => r.proto === p.proto && r.ip === p.ip && p.port >= r.port && p.port <= r.endPort),
  )
  for (const host of [...singles, ...ep.publishedRanges]) {
    try {
      await mapper.unmap({ proto: host.proto, ip: host.ip, port: host.port })
    } catch (err) {
      errors.push(err)
    }
  }
  ep.published = []
  ep.publishedRanges = []
  return errors
}
