import type { PublishedPort, TransportProtocol } from '@cnm/driverapi'
import { type IPFamily, isUnspecified, parseIP } from './address.js'
import {
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CONFIG,
  ERR_INVALID_PORT,
  ERR_UNKNOWN_PROTOCOL,
  FirewallError,
} from './errors.js'
import { validateBridgeName } from './names.js'

/** Transport protocols a port can be published for. */
export const PORT_PROTOCOLS = ['tcp', 'udp', 'sctp'] as const satisfies readonly TransportProtocol[]
/**
 * The transport protocol of a published port: `tcp`, `udp` or `sctp` (`@cnm/driverapi`'s
 * `TransportProtocol`).
 */
export type PortProtocol = TransportProtocol

/**
 * One published port, or a range of them: `@cnm/driverapi`'s `PublishedPort`, whose host address,
 * host range end and container range end may be left out (undefined, `0.0.0.0` or `::` mean every
 * local address of the container IP's family; without `containerPortEnd` a host range sends every
 * host port to `containerPort`), with the bridge the container is on (recorded with the rule and
 * reported by `inventory()`).
 */
export type PortMapping = Omit<PublishedPort, 'hostIP' | 'hostPortEnd' | 'containerPortEnd'> &
  Partial<Pick<PublishedPort, 'hostIP' | 'hostPortEnd' | 'containerPortEnd'>> & { bridge?: string }

/**
 * A {@link PortMapping}, validated and canonical: the resolved `PublishedPort` (its `hostIP`
 * undefined for every local address of `family`; `containerPortEnd` equal to `containerPort` when
 * every host port goes to that one port), with its family and bridge.
 */
export type ParsedPortMapping = Omit<PublishedPort, 'hostIP'> & {
  family: IPFamily
  hostIP: string | undefined
  bridge: string | undefined
}

/** One host port and where it goes (a range expanded). */
export interface PortRule {
  proto: PortProtocol
  family: IPFamily
  hostIP: string | undefined
  hostPort: number
  containerIP: string
  containerPort: number
  bridge: string | undefined
}

const KEYS = new Set([
  'proto',
  'hostIP',
  'hostPort',
  'hostPortEnd',
  'containerIP',
  'containerPort',
  'containerPortEnd',
  'bridge',
])

function port(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new FirewallError(ERR_INVALID_PORT, `invalid ${what} ${String(value)}: expected an integer from 1 to 65535`)
  }
  return value
}

/** `tcp 0.0.0.0:8080-8081 -> 172.18.0.2:80-81`, for messages. */
export function describeMapping(m: ParsedPortMapping): string {
  const host = m.hostIP ?? (m.family === 4 ? '0.0.0.0' : '::')
  const fmt = (ip: string, a: number, b: number): string =>
    `${ip.includes(':') ? `[${ip}]` : ip}:${a === b ? a : `${a}-${b}`}`
  return `${m.proto} ${fmt(host, m.hostPort, m.hostPortEnd)} -> ${fmt(m.containerIP, m.containerPort, m.containerPortEnd)}`
}

/** Validates a {@link PortMapping} before anything reaches the kernel. */
export function parsePortMapping(raw: unknown): ParsedPortMapping {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FirewallError(ERR_INVALID_CONFIG, 'a port mapping must be an object')
  }
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown !== undefined) {
    throw new FirewallError(ERR_INVALID_CONFIG, `unknown port mapping option ${JSON.stringify(unknown)}`)
  }
  const proto = obj.proto
  if (typeof proto !== 'string' || !(PORT_PROTOCOLS as readonly string[]).includes(proto)) {
    throw new FirewallError(
      ERR_UNKNOWN_PROTOCOL,
      `unknown protocol ${JSON.stringify(proto)}: expected ${PORT_PROTOCOLS.join(', ')}`,
    )
  }
  const container = parseIP(obj.containerIP, 'container IP')
  if (isUnspecified(container.address)) {
    throw new FirewallError(ERR_INVALID_ADDRESS, `invalid container IP ${container.address}: not a single address`)
  }
  let hostIP: string | undefined
  if (obj.hostIP !== undefined) {
    const host = parseIP(obj.hostIP, 'host IP')
    if (host.family !== container.family) {
      throw new FirewallError(
        ERR_INVALID_ADDRESS,
        `host IP ${host.address} and container IP ${container.address} are of different families`,
      )
    }
    if (!isUnspecified(host.address)) hostIP = host.address
  }
  const hostPort = port(obj.hostPort, 'host port')
  const hostPortEnd = obj.hostPortEnd === undefined ? hostPort : port(obj.hostPortEnd, 'host port range end')
  const containerPort = port(obj.containerPort, 'container port')
  const containerPortEnd =
    obj.containerPortEnd === undefined ? containerPort : port(obj.containerPortEnd, 'container port range end')
  if (hostPortEnd < hostPort || containerPortEnd < containerPort) {
    throw new FirewallError(
      ERR_INVALID_PORT,
      `invalid port range ${hostPort}-${hostPortEnd}:${containerPort}-${containerPortEnd}: reversed`,
    )
  }
  if (containerPortEnd !== containerPort && containerPortEnd - containerPort !== hostPortEnd - hostPort) {
    throw new FirewallError(
      ERR_INVALID_PORT,
      `invalid port range: host ${hostPort}-${hostPortEnd} and container ${containerPort}-${containerPortEnd} differ in size`,
    )
  }
  const bridge = obj.bridge === undefined ? undefined : validateBridgeName(obj.bridge)
  return {
    proto: proto as PortProtocol,
    family: container.family,
    hostIP,
    hostPort,
    hostPortEnd,
    containerIP: container.address,
    containerPort,
    containerPortEnd,
    bridge,
  }
}

/** The per-host-port rules of a mapping. */
export function expandMapping(m: ParsedPortMapping): PortRule[] {
  const rules: PortRule[] = []
  const shift = m.containerPortEnd !== m.containerPort
  for (let p = m.hostPort; p <= m.hostPortEnd; p++) {
    rules.push({
      proto: m.proto,
      family: m.family,
      hostIP: m.hostIP,
      hostPort: p,
      containerIP: m.containerIP,
      containerPort: shift ? m.containerPort + (p - m.hostPort) : m.containerPort,
      bridge: m.bridge,
    })
  }
  return rules
}

/** Identity of a published host port: protocol, family, host address (or wildcard), port. */
export function hostKey(r: { proto: string; family: IPFamily; hostIP: string | undefined }, hostPort: number): string {
  return `${r.proto}/${r.family}/${r.hostIP ?? '*'}/${hostPort}`
}

/** Parses a list, refusing a host port that appears twice in it (`ERR_INVALID_PORT`). */
export function parsePortMappings(raw: unknown): ParsedPortMapping[] {
  if (!Array.isArray(raw)) throw new FirewallError(ERR_INVALID_CONFIG, 'port mappings must be an array')
  const maps = raw.map(parsePortMapping)
  const seen = new Set<string>()
  for (const m of maps) {
    for (let p = m.hostPort; p <= m.hostPortEnd; p++) {
      const key = hostKey(m, p)
      if (seen.has(key))
        throw new FirewallError(ERR_INVALID_PORT, `host port ${p} appears twice (${describeMapping(m)})`)
      seen.add(key)
    }
  }
  return maps
}
