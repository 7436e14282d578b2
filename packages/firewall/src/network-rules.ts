import { cidrOverlaps, type ParsedCIDR, parseCIDR } from './address.js'
import { ERR_INVALID_CIDR, ERR_INVALID_CONFIG, FirewallError } from './errors.js'
import { validateBridgeName, validateNetworkId } from './names.js'

/**
 * VXLAN's UDP port (IANA): the overlay driver's devices (@cnm/overlay) listen on it on every host
 * address. Only the underlay (the other hosts) may send to it, never a bridge.
 */
export const VXLAN_PORT = 4789

/** What a bridge network needs from the firewall. */
export interface NetworkRules {
  /** The network's id (recorded with the rules; 1–128 of `A-Z a-z 0-9 _ . -`). */
  id: string
  /** The network's bridge interface. */
  bridge: string
  /** The network's IPv4 and/or IPv6 subnets (`172.18.0.0/16`, `fd00:1::/64`; host bits are cleared). */
  subnets: string[]
  /** Containers on this bridge may talk to each other directly. Default true. */
  icc?: boolean
  /** Masquerade the subnets when traffic leaves through another interface. Default true; internal networks never. */
  masquerade?: boolean
  /** No traffic leaves or enters the bridge through the host (only within it). Default false. */
  internal?: boolean
}

/** {@link NetworkRules}, validated: canonical subnets, defaults applied. */
export interface ParsedNetworkRules {
  id: string
  bridge: string
  subnets: ParsedCIDR[]
  icc: boolean
  masquerade: boolean
  internal: boolean
}

const KEYS = new Set(['id', 'bridge', 'subnets', 'icc', 'masquerade', 'internal'])

function flag(raw: Record<string, unknown>, key: string, fallback: boolean, bridge: string): boolean {
  const value = raw[key]
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') {
    throw new FirewallError(ERR_INVALID_CONFIG, `network on bridge ${bridge}: ${key} must be a boolean`)
  }
  return value
}

/** Validates {@link NetworkRules} before anything reaches the kernel. */
export function parseNetworkRules(raw: unknown): ParsedNetworkRules {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FirewallError(ERR_INVALID_CONFIG, 'network rules must be an object')
  }
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown !== undefined)
    throw new FirewallError(ERR_INVALID_CONFIG, `unknown network option ${JSON.stringify(unknown)}`)
  const bridge = validateBridgeName(obj.bridge)
  const id = validateNetworkId(obj.id)
  if (!Array.isArray(obj.subnets) || obj.subnets.length === 0) {
    throw new FirewallError(ERR_INVALID_CIDR, `network ${id} on bridge ${bridge}: subnets must be a non-empty array`)
  }
  const subnets: ParsedCIDR[] = []
  for (const text of obj.subnets) {
    const cidr = parseCIDR(text, `subnet of network ${id}`)
    if (subnets.some((s) => s.cidr === cidr.cidr)) continue
    const clash = subnets.find((s) => cidrOverlaps(s, cidr))
    if (clash) {
      throw new FirewallError(ERR_INVALID_CIDR, `network ${id}: subnets ${clash.cidr} and ${cidr.cidr} overlap`)
    }
    subnets.push(cidr)
  }
  const internal = flag(obj, 'internal', false, bridge)
  return {
    id,
    bridge,
    subnets,
    icc: flag(obj, 'icc', true, bridge),
    masquerade: !internal && flag(obj, 'masquerade', true, bridge),
    internal,
  }
}

/** The bridge of a network to delete (only the bridge identifies it). */
export function parseNetworkRef(raw: unknown): string {
  if (raw === null || typeof raw !== 'object') throw new FirewallError(ERR_INVALID_CONFIG, 'network must be an object')
  return validateBridgeName((raw as { bridge?: unknown }).bridge)
}
