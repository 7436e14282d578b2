import { InvalidConfigError, type PortBinding, parseInterfaceName } from '@cnm/driverapi'
import { parseAddress, unmapped } from '@cnm/ip'
import { parseMac } from '@cnm/netlink'

/** Endpoint options, validated. */
export interface EndpointConfig {
  portBindings: PortBinding[]
  macAddress: string | undefined
  /** Preferred IPv4 / IPv6 address (plain, no prefix). */
  ipv4Address: string | undefined
  ipv6Address: string | undefined
  /** The container's interface name inside the sandbox (default: its first free `ethN`). */
  interfaceName?: string
  /**
   * `false`: the endpoint's published ports are not held with bound sockets, whatever the network's
   * `holdPorts` (the caller's runtime reserves them: the CNI path); a port bound when it is
   * published is still refused.
   */
  holdPorts?: boolean
}

const KEYS = new Set(['portBindings', 'macAddress', 'ipv4Address', 'ipv6Address', 'interfaceName', 'holdPorts'])

function port(v: unknown, what: string, allowZero: boolean): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535) {
    throw new InvalidConfigError(`${what} ${JSON.stringify(v)} must be an integer ${allowZero ? 0 : 1}–65535`)
  }
  return v
}

const BINDING_KEYS = new Set(['proto', 'containerPort', 'containerPortEnd', 'hostIP', 'hostPort', 'hostPortEnd'])

function parseBinding(raw: unknown): PortBinding {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError(`a port binding must be an object, got ${JSON.stringify(raw)}`)
  }
  const b = raw as Record<string, unknown>
  const unknown = Object.keys(b).find((k) => !BINDING_KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown port binding field ${JSON.stringify(unknown)}`)
  if (b.proto !== 'tcp' && b.proto !== 'udp' && b.proto !== 'sctp') {
    throw new InvalidConfigError(`port binding protocol ${JSON.stringify(b.proto)} must be tcp, udp or sctp`)
  }
  const containerPort = port(b.containerPort, 'containerPort', false)
  if (containerPort === undefined) throw new InvalidConfigError('a port binding needs containerPort')
  const out: PortBinding = { proto: b.proto, containerPort }
  const cEnd = port(b.containerPortEnd, 'containerPortEnd', false)
  const hostPort = port(b.hostPort, 'hostPort', true)
  const hEnd = port(b.hostPortEnd, 'hostPortEnd', false)
  if (cEnd !== undefined) {
    if (cEnd < containerPort) throw new InvalidConfigError(`container port range ${containerPort}-${cEnd} is reversed`)
    out.containerPortEnd = cEnd
  }
  if (hostPort !== undefined) out.hostPort = hostPort
  if (hEnd !== undefined) out.hostPortEnd = hEnd
  if (b.hostIP !== undefined) {
    try {
      // A host address is a socket address: an IPv4-mapped one means its IPv4 address.
      out.hostIP = unmapped(parseAddress(String(b.hostIP))).text
    } catch (cause) {
      throw new InvalidConfigError(`hostIP ${JSON.stringify(b.hostIP)} is not an IP address`, { cause })
    }
  }
  return out
}

function address(v: unknown, family: 4 | 6, key: string): string | undefined {
  if (v === undefined) return undefined
  try {
    const a = parseAddress(String(v))
    if (a.family !== family) throw new Error('wrong family')
    return a.text
  } catch (cause) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv${family} address`, { cause })
  }
}

/** Parses `createEndpoint` options. */
export function parseEndpointConfig(raw: unknown = {}): EndpointConfig {
  if (raw === null || raw === undefined)
    return { portBindings: [], macAddress: undefined, ipv4Address: undefined, ipv6Address: undefined }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('endpoint options must be an object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown endpoint option ${JSON.stringify(unknown)}`)
  if (obj.portBindings !== undefined && !Array.isArray(obj.portBindings))
    throw new InvalidConfigError('portBindings must be an array')
  let macAddress: string | undefined
  if (obj.macAddress !== undefined) {
    try {
      parseMac(String(obj.macAddress))
      macAddress = String(obj.macAddress).toLowerCase()
    } catch (cause) {
      throw new InvalidConfigError(`macAddress ${JSON.stringify(obj.macAddress)} is not a unicast MAC`, { cause })
    }
  }
  const interfaceName = parseInterfaceName(obj.interfaceName)
  if (obj.holdPorts !== undefined && typeof obj.holdPorts !== 'boolean')
    throw new InvalidConfigError(`holdPorts ${JSON.stringify(obj.holdPorts)} must be true or false`)
  return {
    portBindings: ((obj.portBindings as unknown[] | undefined) ?? []).map(parseBinding),
    macAddress,
    ipv4Address: address(obj.ipv4Address, 4, 'ipv4Address'),
    ipv6Address: address(obj.ipv6Address, 6, 'ipv6Address'),
    ...(interfaceName === undefined ? {} : { interfaceName }),
    ...(obj.holdPorts === undefined ? {} : { holdPorts: obj.holdPorts }),
  }
}
