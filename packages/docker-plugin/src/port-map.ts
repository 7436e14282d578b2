import type { PortBinding, PublishedPort, TransportProtocol } from '@cnm/driverapi'
import { tryParseAddress } from '@cnm/ip'
import { invalidRequest } from './errors.js'

/** Where dockerd puts an endpoint's published ports (`-p`, `-P`). */
export const PORT_MAP = 'com.docker.network.portmap'
/** Where dockerd puts an endpoint's exposed ports (`EXPOSE`, `--expose`). */
export const EXPOSED_PORTS = 'com.docker.network.endpoint.exposedports'

const PROTOCOLS: Readonly<Record<number, TransportProtocol>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' }

function port(what: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535) {
    throw invalidRequest(`${what} ${JSON.stringify(v)} must be a port ${allowZero ? 0 : 1}–65535`)
  }
  return v
}

function protocol(what: string, v: unknown): TransportProtocol {
  const p = typeof v === 'number' ? PROTOCOLS[v] : undefined
  if (p === undefined)
    throw invalidRequest(`${what}: protocol ${JSON.stringify(v)} is not tcp (6), udp (17) or sctp (132)`)
  return p
}

/** One of libnetwork's `types.PortBinding` (JSON), as cnm's {@link PortBinding}. */
function binding(owner: string, raw: unknown, defaultHostIP: string | undefined): PortBinding {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalidRequest(`${owner}: a port binding must be an object, got ${JSON.stringify(raw)}`)
  }
  const b = raw as Record<string, unknown>
  const what = `${owner}: port binding ${JSON.stringify(raw)}`
  const out: PortBinding = { proto: protocol(what, b.Proto), containerPort: port(`${what}: Port`, b.Port, false) }
  const hostPort = port(`${what}: HostPort`, b.HostPort ?? 0, true)
  const hostPortEnd = port(`${what}: HostPortEnd`, b.HostPortEnd ?? 0, true)
  if (hostPort !== 0) out.hostPort = hostPort
  if (hostPortEnd !== 0 && hostPortEnd !== hostPort) {
    if (hostPortEnd < hostPort) throw invalidRequest(`${what}: host port range ${hostPort}-${hostPortEnd} is reversed`)
    out.hostPortEnd = hostPortEnd
  }
  const hostIP = b.HostIP === null || b.HostIP === undefined || b.HostIP === '' ? defaultHostIP : b.HostIP
  if (hostIP !== undefined) {
    const a = tryParseAddress(hostIP)
    if (a === undefined) throw invalidRequest(`${what}: HostIP ${JSON.stringify(hostIP)} is not an IP address`)
    out.hostIP = a.text
  }
  return out
}

/**
 * The ports an endpoint's options ask to publish (`com.docker.network.portmap`), as cnm's port
 * bindings; a binding without a host address gets the network's `host_binding_ipv4`, if it has
 * one. Exposed ports (`com.docker.network.endpoint.exposedports`) are checked and need nothing
 * more: cnm's firewall lets every port of a container be reached from its network.
 */
export function parsePortMap(
  owner: string,
  options: Record<string, unknown> | null | undefined,
  defaultHostIP?: string,
): PortBinding[] {
  const raw = options?.[PORT_MAP]
  const exposed = options?.[EXPOSED_PORTS]
  if (exposed !== undefined && exposed !== null) {
    if (!Array.isArray(exposed)) throw invalidRequest(`${owner}: ${EXPOSED_PORTS} must be an array`)
    for (const e of exposed as Record<string, unknown>[]) {
      protocol(`${owner}: exposed port ${JSON.stringify(e)}`, e?.Proto)
      port(`${owner}: exposed port ${JSON.stringify(e)}`, e?.Port, false)
    }
  }
  if (raw === undefined || raw === null) return []
  if (!Array.isArray(raw)) throw invalidRequest(`${owner}: ${PORT_MAP} must be an array`)
  return raw.map((b) => binding(owner, b, defaultHostIP))
}

/**
 * The bindings an endpoint with these addresses can be published on: as Docker's bridge with its
 * userland proxy off (dockerd's setting beside cnm), a binding on a host address of a family the
 * endpoint has no address of is left out rather than refused — `-p [::]:8080:80` (or the pair
 * `0.0.0.0:8080:80` and `[::]:8080:80`) for a container on an IPv4-only network publishes on IPv4
 * only, and the container still starts.
 */
export function servable(
  bindings: readonly PortBinding[],
  addresses: { ipv4?: string | undefined; ipv6?: string | undefined },
): PortBinding[] {
  return bindings.filter((b) => {
    if (b.hostIP === undefined) return true
    return (tryParseAddress(b.hostIP)?.family === 6 ? addresses.ipv6 : addresses.ipv4) !== undefined
  })
}

/**
 * Whether every binding asked for is among the ports published: same protocol and container port,
 * and with `byHostPort` also the same host port (a binding with a fixed one).
 */
export function published(
  bindings: readonly PortBinding[],
  ports: readonly PublishedPort[],
  byHostPort = false,
): boolean {
  return bindings.every((b) =>
    ports.some(
      (p) =>
        p.proto === b.proto &&
        p.containerPort <= b.containerPort &&
        b.containerPort <= p.containerPortEnd &&
        (!byHostPort || (b.hostPort !== undefined && p.hostPort <= b.hostPort && b.hostPort <= p.hostPortEnd)),
    ),
  )
}
