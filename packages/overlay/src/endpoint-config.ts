import { InvalidConfigError, NotSupportedError } from '@cnm/driverapi'
import { parseAddress } from '@cnm/ip'
import { parseMac } from '@cnm/netlink'

/** Endpoint options, validated. */
export interface EndpointConfig {
  /** Preferred IPv4 address (plain); claimed in the cluster, refused when another endpoint has it. */
  ipv4Address: string | undefined
  /** Preferred IPv6 address on a dual-stack network (plain); default: the subnet's prefix and the MAC. */
  ipv6Address: string | undefined
  /** Default: derived from the IPv4 address (`02:42:` + its bytes). */
  macAddress: string | undefined
}

const KEYS = new Set(['ipv4Address', 'ipv6Address', 'macAddress', 'portBindings'])

/** A plain address of `family` from option `key`, canonical; undefined when absent. */
function address(obj: Record<string, unknown>, key: string, family: 4 | 6): string | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  try {
    if (typeof v !== 'string') throw new Error('not a string')
    const a = parseAddress(v)
    if (a.family !== family) throw new Error(`not IPv${family}`)
    return a.text
  } catch (cause) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv${family} address`, { cause })
  }
}

/**
 * Parses `createEndpoint` options. An overlay endpoint is reached on its overlay address: it
 * publishes no ports, so a non-empty `portBindings` is refused (`ERR_NOT_SUPPORTED`).
 */
export function parseEndpointConfig(raw: unknown): EndpointConfig {
  if (raw === null || raw === undefined)
    return { ipv4Address: undefined, ipv6Address: undefined, macAddress: undefined }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('endpoint options must be an object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown overlay endpoint option ${JSON.stringify(unknown)}`)
  if (obj.portBindings !== undefined) {
    if (!Array.isArray(obj.portBindings)) throw new InvalidConfigError('portBindings must be an array')
    if (obj.portBindings.length > 0) throw new NotSupportedError('the overlay driver does not publish ports')
  }
  const ipv4Address = address(obj, 'ipv4Address', 4)
  const ipv6Address = address(obj, 'ipv6Address', 6)
  let macAddress: string | undefined
  if (obj.macAddress !== undefined) {
    try {
      if (typeof obj.macAddress !== 'string') throw new Error('not a string')
      parseMac(obj.macAddress)
      macAddress = obj.macAddress.toLowerCase()
    } catch (cause) {
      throw new InvalidConfigError(`macAddress ${JSON.stringify(obj.macAddress)} is not a unicast MAC address`, {
        cause,
      })
    }
  }
  return { ipv4Address, ipv6Address, macAddress }
}
