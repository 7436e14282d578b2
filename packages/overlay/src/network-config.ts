import { InvalidConfigError } from '@cnm/driverapi'
import { containsPrefix, type IPPrefix, parseCIDR } from '@cnm/ip'
import { VXLAN_VNI_MAX } from '@cnm/netlink'

/** The VNIs the driver hands out by itself (libnetwork's overlay starts at 4096 too). */
export const VNI_RANGE = { first: 4096, last: VXLAN_VNI_MAX } as const

/** A network's options, validated: what the driver acts on. */
export interface NetworkConfig {
  /**
   * The gateway with the subnet's prefix (`10.10.0.1/24`): held on every host's bridge. Undefined
   * on an IPv6-only network (`enableIPv4: false`).
   */
  addressIPv4: string | undefined
  /** The IPv4 range endpoints' addresses come from (within the subnet). */
  fixedCIDR: string | undefined
  /** A VNI asked for (1–16777215); default: the first free one from 4096, allocated in the cluster. */
  vni: number | undefined
  /** No route out: no gateway handed out, no NAT. */
  internal: boolean
  /** Default: the underlay's MTU less the VXLAN overhead (50 bytes on IPv4). */
  mtu: number | undefined
  /**
   * The IPv6 subnet of a dual-stack network (`fd00:10::/64`, a /80 or larger: an endpoint's IPv6
   * address is the prefix and its MAC, as Docker's); its first address is the gateway.
   */
  fixedCIDRv6: string | undefined
}

const KEYS = new Set(['addressIPv4', 'fixedCIDR', 'vni', 'internal', 'mtu', 'enableIPv4', 'enableIPv6', 'fixedCIDRv6'])

/** The largest IPv6 prefix length: the interface identifier holds a 48-bit MAC. */
export const IPV6_MAX_PREFIX = 80

/** Parses `enableIPv6` and `fixedCIDRv6` (both, or neither: the cluster does not pick IPv6 subnets). */
function ipv6Subnet(obj: Record<string, unknown>): string | undefined {
  if (obj.enableIPv6 !== undefined && typeof obj.enableIPv6 !== 'boolean') {
    throw new InvalidConfigError(`enableIPv6 must be a boolean, got ${JSON.stringify(obj.enableIPv6)}`)
  }
  const v = obj.fixedCIDRv6
  if (v === undefined) {
    if (obj.enableIPv6 === true) {
      throw new InvalidConfigError('an IPv6 overlay network needs its subnet: fixedCIDRv6 (fd00:10::/64)')
    }
    return undefined
  }
  if (obj.enableIPv6 === false) throw new InvalidConfigError('fixedCIDRv6 with enableIPv6 false')
  let p: IPPrefix
  try {
    if (typeof v !== 'string' || !v.includes('/')) throw new Error('no prefix length')
    p = parseCIDR(v)
    if (p.family !== 6) throw new Error('not IPv6')
  } catch (cause) {
    throw new InvalidConfigError(`fixedCIDRv6 ${JSON.stringify(v)} is not an IPv6 CIDR`, { cause })
  }
  if (p.prefixLength > IPV6_MAX_PREFIX) {
    throw new InvalidConfigError(`fixedCIDRv6 ${p.cidr} is too small: use a /${IPV6_MAX_PREFIX} or larger`)
  }
  return p.cidr
}

function cidr(obj: Record<string, unknown>, key: string): IPPrefix | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  try {
    if (typeof v !== 'string' || !v.includes('/')) throw new Error('no prefix length')
    const p = parseCIDR(v)
    if (p.family !== 4) throw new Error('not IPv4')
    return p
  } catch (cause) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv4 CIDR`, { cause })
  }
}

function integer(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} must be an integer ${min}–${max}`)
  }
  return v
}

/** The IPv4 subnet's options: the gateway with its prefix, and the range within. */
function ipv4Subnet(obj: Record<string, unknown>): { addressIPv4: string; fixedCIDR: string | undefined } {
  const gw = cidr(obj, 'addressIPv4')
  if (!gw) {
    throw new InvalidConfigError(
      'an overlay network needs addressIPv4: its gateway with the prefix (10.10.0.1/24), or enableIPv4 false and fixedCIDRv6',
    )
  }
  if (gw.prefixLength > 30 || gw.addressValue === gw.networkValue || gw.addressValue === gw.lastValue) {
    throw new InvalidConfigError(
      `addressIPv4 ${obj.addressIPv4} must be the gateway's host address in a /30 or larger subnet (10.10.0.1/24)`,
    )
  }
  const range = cidr(obj, 'fixedCIDR')
  if (range && !containsPrefix(gw, range)) {
    throw new InvalidConfigError(`fixedCIDR ${range.cidr} is not within the subnet ${gw.cidr}`)
  }
  return { addressIPv4: `${gw.address}/${gw.prefixLength}`, fixedCIDR: range?.cidr }
}

/** Parses `createNetwork` options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('overlay network options must be an object')
  }
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown overlay network option ${JSON.stringify(unknown)}`)
  if (obj.enableIPv4 !== undefined && typeof obj.enableIPv4 !== 'boolean') {
    throw new InvalidConfigError(`enableIPv4 must be a boolean, got ${JSON.stringify(obj.enableIPv4)}`)
  }
  const fixedCIDRv6 = ipv6Subnet(obj)
  const ipv4 = obj.enableIPv4 === false ? undefined : ipv4Subnet(obj)
  if (!ipv4) {
    if (obj.addressIPv4 !== undefined || obj.fixedCIDR !== undefined) {
      throw new InvalidConfigError('an IPv6-only overlay network (enableIPv4 false) takes no addressIPv4 or fixedCIDR')
    }
    if (!fixedCIDRv6) throw new InvalidConfigError('an IPv6-only overlay network (enableIPv4 false) needs fixedCIDRv6')
  }
  if (obj.internal !== undefined && typeof obj.internal !== 'boolean') {
    throw new InvalidConfigError(`internal must be a boolean, got ${JSON.stringify(obj.internal)}`)
  }
  return {
    addressIPv4: ipv4?.addressIPv4,
    fixedCIDR: ipv4?.fixedCIDR,
    vni: integer(obj.vni, 'vni', 1, VXLAN_VNI_MAX),
    internal: obj.internal === true,
    mtu: integer(obj.mtu, 'mtu', 576, 65535),
    fixedCIDRv6,
  }
}

/** The options a record keeps: the validated config, in the form {@link parseNetworkConfig} reads. */
export function configOptions(c: NetworkConfig): Record<string, unknown> {
  return {
    ...(c.addressIPv4 ? { addressIPv4: c.addressIPv4 } : { enableIPv4: false }),
    ...(c.fixedCIDR ? { fixedCIDR: c.fixedCIDR } : {}),
    ...(c.vni !== undefined ? { vni: c.vni } : {}),
    ...(c.internal ? { internal: true } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    ...(c.fixedCIDRv6 ? { enableIPv6: true, fixedCIDRv6: c.fixedCIDRv6 } : {}),
  }
}
