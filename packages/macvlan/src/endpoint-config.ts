import { InvalidConfigError, NotSupportedError, parseInterfaceName } from '@cnm/driverapi'
import { parseAddress } from '@cnm/ip'
import { parseMac } from '@cnm/netlink'

/** Endpoint options, validated. */
export interface EndpointConfig {
  /** Preferred IPv4 / IPv6 address (plain, no prefix). */
  ipv4Address: string | undefined
  ipv6Address: string | undefined
  /** Default: derived from the IPv4 address (`02:42:` + its bytes), else the kernel's random one. */
  macAddress: string | undefined
  /** The container's interface name inside the sandbox (default: its first free `ethN`). */
  interfaceName?: string
}

const KEYS = new Set(['ipv4Address', 'ipv6Address', 'macAddress', 'portBindings', 'interfaceName'])

function address(v: unknown, family: 4 | 6, key: string): string | undefined {
  if (v === undefined) return undefined
  try {
    const a = parseAddress(String(v))
    if (typeof v !== 'string' || a.family !== family) throw new Error('wrong family')
    return a.text
  } catch (cause) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv${family} address`, { cause })
  }
}

function mac(v: unknown): string | undefined {
  if (v === undefined) return undefined
  try {
    if (typeof v !== 'string') throw new Error('not a string')
    parseMac(v)
    return v.toLowerCase()
  } catch (cause) {
    throw new InvalidConfigError(`macAddress ${JSON.stringify(v)} is not a unicast MAC address`, { cause })
  }
}

/**
 * Parses `createEndpoint` options. A macvlan endpoint sits on the LAN with its own address: it has
 * no ports to publish, so a non-empty `portBindings` is refused (`ERR_NOT_SUPPORTED`).
 */
export function parseEndpointConfig(raw: unknown): EndpointConfig {
  if (raw === null || raw === undefined)
    return { ipv4Address: undefined, ipv6Address: undefined, macAddress: undefined }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('endpoint options must be an object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown macvlan endpoint option ${JSON.stringify(unknown)}`)
  if (obj.portBindings !== undefined) {
    if (!Array.isArray(obj.portBindings)) throw new InvalidConfigError('portBindings must be an array')
    if (obj.portBindings.length > 0) {
      throw new NotSupportedError(
        'the macvlan driver does not publish ports: a macvlan endpoint is reached on its own LAN address',
      )
    }
  }
  const interfaceName = parseInterfaceName(obj.interfaceName)
  return {
    ipv4Address: address(obj.ipv4Address, 4, 'ipv4Address'),
    ipv6Address: address(obj.ipv6Address, 6, 'ipv6Address'),
    macAddress: mac(obj.macAddress),
    ...(interfaceName === undefined ? {} : { interfaceName }),
  }
}
