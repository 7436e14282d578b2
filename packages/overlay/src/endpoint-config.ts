import { InvalidConfigError, NotSupportedError } from '@cnm/driverapi'
import { parseAddress } from '@cnm/ip'
import { parseMac } from '@cnm/netlink'

/** Endpoint options, validated. */
export interface EndpointConfig {
  /** Preferred IPv4 address (plain); claimed in the cluster, refused when another endpoint has it. */
  ipv4Address: string | undefined
  /** Default: derived from the IPv4 address (`02:42:` + its bytes). */
  macAddress: string | undefined
}

const KEYS = new Set(['ipv4Address', 'macAddress', 'portBindings'])

/**
 * Parses `createEndpoint` options. An overlay endpoint is reached on its overlay address: it
 * publishes no ports, so a non-empty `portBindings` is refused (`ERR_NOT_SUPPORTED`).
 */
export function parseEndpointConfig(raw: unknown): EndpointConfig {
  if (raw === null || raw === undefined) return { ipv4Address: undefined, macAddress: undefined }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError('endpoint options must be an object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown overlay endpoint option ${JSON.stringify(unknown)}`)
  if (obj.portBindings !== undefined) {
    if (!Array.isArray(obj.portBindings)) throw new InvalidConfigError('portBindings must be an array')
    if (obj.portBindings.length > 0) throw new NotSupportedError('the overlay driver does not publish ports')
  }
  let ipv4Address: string | undefined
  if (obj.ipv4Address !== undefined) {
    try {
      const a = parseAddress(String(obj.ipv4Address))
      if (typeof obj.ipv4Address !== 'string' || a.family !== 4) throw new Error('not IPv4')
      ipv4Address = a.text
    } catch (cause) {
      throw new InvalidConfigError(`ipv4Address ${JSON.stringify(obj.ipv4Address)} is not an IPv4 address`, { cause })
    }
  }
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
  return { ipv4Address, macAddress }
}
