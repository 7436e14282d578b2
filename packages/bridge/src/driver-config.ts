import { InvalidConfigError } from '@cnm/driverapi'
import { type FirewallBackendName, parseFirewallOptions } from '@cnm/firewall'
import { type IPPrefix, parseCIDR } from '@cnm/ip'

/** A pool networks' subnets are carved from: `base` split into subnets of prefix `size`. */
export interface AddressPool {
  base: string
  size: number
}

/** Driver-wide options, given to `config()`. */
export interface BridgeDriverConfig {
  /** Firewall backend (default: nftables when `nft` works, else iptables). */
  firewallBackend: FirewallBackendName | undefined
  /** Where networks without `addressIPv4` get their subnet (Docker's defaults). */
  defaultAddressPools: AddressPool[]
  /** Whether networks may turn on IP forwarding (default true). */
  enableIPForwarding: boolean
}

/** Docker's default local pools: 172.17–31.0.0/16, then 192.168.0.0/16 split into /20s. */
export const DEFAULT_ADDRESS_POOLS: readonly AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/15', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/13', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
]

const KEYS = new Set(['firewallBackend', 'defaultAddressPools', 'enableIPForwarding'])

function parsePools(raw: unknown): AddressPool[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw new InvalidConfigError('defaultAddressPools must be a non-empty array')
  return raw.map((p: unknown) => {
    const { base, size } = (p ?? {}) as { base?: unknown; size?: unknown }
    let parsed: IPPrefix
    try {
      parsed = parseCIDR(String(base))
    } catch (cause) {
      throw new InvalidConfigError(`default address pool ${JSON.stringify(base)} is not a CIDR`, { cause })
    }
    const max = parsed.family === 4 ? 30 : 126
    if (typeof size !== 'number' || !Number.isInteger(size) || size < parsed.prefixLength || size > max) {
      throw new InvalidConfigError(
        `default address pool ${parsed.cidr}: size ${String(size)} must be ${parsed.prefixLength}–${max}`,
      )
    }
    return { base: parsed.cidr, size }
  })
}

/** Parses `config()` options; unknown keys and bad values are `ERR_INVALID_CONFIG`. */
export function parseDriverConfig(raw: unknown = {}): BridgeDriverConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidConfigError('bridge driver options must be an object')
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown bridge driver option ${JSON.stringify(unknown)}`)
  let backend: FirewallBackendName | undefined
  try {
    backend = parseFirewallOptions({ backend: obj.firewallBackend }).backend
  } catch (cause) {
    throw new InvalidConfigError((cause as Error).message, { cause })
  }
  if (obj.enableIPForwarding !== undefined && typeof obj.enableIPForwarding !== 'boolean') {
    throw new InvalidConfigError('enableIPForwarding must be a boolean')
  }
  return {
    firewallBackend: backend,
    defaultAddressPools:
      obj.defaultAddressPools === undefined ? [...DEFAULT_ADDRESS_POOLS] : parsePools(obj.defaultAddressPools),
    enableIPForwarding: obj.enableIPForwarding !== false,
  }
}
