import {
  InvalidConfigError,
  type IpamData,
  ipamFromOptions,
  LEGACY_IPAM_KEYS,
  type NetworkIpam,
  NotSupportedError,
} from '@cnm/driverapi'
import { addressFromValue, type IPAddress, type IPPrefix } from '@cnm/ip'
import { VXLAN_VNI_MAX } from '@cnm/netlink'

/** The VNIs the driver hands out by itself (libnetwork's overlay starts at 4096 too). */
export const VNI_RANGE = { first: 4096, last: VXLAN_VNI_MAX } as const

/** A subnet an overlay network holds, as values: the subnet and its gateway (on every host's bridge). */
export interface OverlaySubnet {
  readonly subnet: IPPrefix
  readonly gateway: IPAddress
}

/** A network's options, validated: what the driver acts on. Addresses are values, parsed once. */
export interface NetworkConfig {
  /**
   * The IPv4 subnet and its gateway (default: the first host; `10.10.0.0/24` and `10.10.0.1`).
   * Undefined on an IPv6-only network (`enableIPv4: false`).
   */
  ipv4: OverlaySubnet | undefined
  /** The IPv4 range endpoints' addresses come from (within the subnet). */
  ipRange: IPPrefix | undefined
  /** A VNI asked for (1–16777215); default: the first free one from 4096, allocated in the cluster. */
  vni: number | undefined
  /** No route out: no gateway handed out, no NAT. */
  internal: boolean
  /** Default: the underlay's MTU less the VXLAN overhead (50 bytes on IPv4). */
  mtu: number | undefined
  /**
   * The IPv6 subnet of a dual-stack network (`fd00:10::/64`, a /80 or larger: an endpoint's IPv6
   * address is the prefix and its MAC, as Docker's) and its gateway, the subnet's first address.
   */
  ipv6: OverlaySubnet | undefined
}

const KEYS = new Set(['vni', 'internal', 'mtu', 'enableIPv4', 'enableIPv6'])

/** The largest IPv6 prefix length: the interface identifier holds a 48-bit MAC. */
export const IPV6_MAX_PREFIX = 80

/** The one subnet of a family an overlay network takes; no aux addresses (nothing reserves them yet). */
function single(list: readonly IpamData[], family: 4 | 6): IpamData | undefined {
  if (list.length > 1) {
    throw new NotSupportedError(
      `an overlay network takes one IPv${family} subnet (${list.map((d) => d.subnet.cidr).join(', ')} given)`,
    )
  }
  const d = list[0]
  if (d && d.auxAddresses.size > 0) throw new NotSupportedError('aux addresses on an overlay network')
  return d
}

/** `enableIPv6` and the IPv6 subnet (both, or neither: the cluster does not pick IPv6 subnets). */
function ipv6Subnet(obj: Record<string, unknown>, d: IpamData | undefined): OverlaySubnet | undefined {
  if (obj.enableIPv6 !== undefined && typeof obj.enableIPv6 !== 'boolean') {
    throw new InvalidConfigError(`enableIPv6 must be a boolean, got ${JSON.stringify(obj.enableIPv6)}`)
  }
  if (!d) {
    if (obj.enableIPv6 === true) {
      throw new InvalidConfigError('an IPv6 overlay network needs its IPv6 subnet (fd00:10::/64)')
    }
    return undefined
  }
  if (obj.enableIPv6 === false) throw new InvalidConfigError(`IPv6 subnet ${d.subnet.cidr} with enableIPv6 false`)
  const p = d.subnet
  if (p.prefixLength > IPV6_MAX_PREFIX) {
    throw new InvalidConfigError(`IPv6 subnet ${p.cidr} is too small: use a /${IPV6_MAX_PREFIX} or larger`)
  }
  if (d.ipRange) throw new NotSupportedError(`an IPv6 ip range (${d.ipRange.cidr}) on an overlay network`)
  if (d.gateway && d.gateway.value !== p.networkValue + 1n) {
    throw new InvalidConfigError(`IPv6 gateway ${d.gateway.text}: an overlay's is the subnet's first address`)
  }
  return { subnet: p, gateway: addressFromValue(6, p.networkValue + 1n) }
}

function integer(v: unknown, key: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} must be an integer ${min}–${max}`)
  }
  return v
}

/** The IPv4 subnet's options: the gateway (default: the first host) with its prefix, and the range within. */
function ipv4Subnet(d: IpamData | undefined): { ipv4: OverlaySubnet; ipRange: IPPrefix | undefined } {
  if (!d) {
    throw new InvalidConfigError(
      'an overlay network needs an IPv4 subnet (10.10.0.0/24, its gateway the first host), or enableIPv4 false and an IPv6 subnet',
    )
  }
  if (d.subnet.prefixLength > 30) {
    throw new InvalidConfigError(`subnet ${d.subnet.cidr} is too small: use a /30 or larger (10.10.0.0/24)`)
  }
  const gateway = d.gateway ?? addressFromValue(4, d.subnet.networkValue + 1n)
  return { ipv4: { subnet: d.subnet, gateway }, ipRange: d.ipRange }
}

/** Parses `createNetwork` options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown, given?: NetworkIpam): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('overlay network options must be an object')
  }
  // The addresses as values (from the controller); a direct caller's (or a record's) old option
  // keys are converted once by `@cnm/driverapi`.
  const legacy = LEGACY_IPAM_KEYS.find((k) => (raw as Record<string, unknown>)[k] !== undefined)
  if (given && legacy) throw new InvalidConfigError(`option ${legacy}: the network's addresses are given as IPAM data`)
  const { options: obj, ipam } = given ? { options: raw as Record<string, unknown>, ipam: given } : ipamFromOptions(raw)
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown overlay network option ${JSON.stringify(unknown)}`)
  if (obj.enableIPv4 !== undefined && typeof obj.enableIPv4 !== 'boolean') {
    throw new InvalidConfigError(`enableIPv4 must be a boolean, got ${JSON.stringify(obj.enableIPv4)}`)
  }
  const ipv6 = ipv6Subnet(obj, single(ipam.v6, 6))
  const v4 = single(ipam.v4, 4)
  const ipv4 = obj.enableIPv4 === false ? undefined : ipv4Subnet(v4)
  if (!ipv4) {
    if (v4) throw new InvalidConfigError('an IPv6-only overlay network (enableIPv4 false) takes no IPv4 subnet')
    if (!ipv6) {
      throw new InvalidConfigError('an IPv6-only overlay network (enableIPv4 false) needs an IPv6 subnet')
    }
  }
  if (obj.internal !== undefined && typeof obj.internal !== 'boolean') {
    throw new InvalidConfigError(`internal must be a boolean, got ${JSON.stringify(obj.internal)}`)
  }
  return {
    ipv4: ipv4?.ipv4,
    ipRange: ipv4?.ipRange,
    vni: integer(obj.vni, 'vni', 1, VXLAN_VNI_MAX),
    internal: obj.internal === true,
    mtu: integer(obj.mtu, 'mtu', 576, 65535),
    ipv6,
  }
}

/**
 * The options a record keeps: the validated config as text, in the form {@link parseNetworkConfig}
 * reads (the etcd record's keys are unchanged, so hosts on older versions still read it).
 */
export function configOptions(c: NetworkConfig): Record<string, unknown> {
  return {
    ...(c.ipv4 ? { addressIPv4: `${c.ipv4.gateway.text}/${c.ipv4.subnet.prefixLength}` } : { enableIPv4: false }),
    ...(c.ipRange ? { fixedCIDR: c.ipRange.cidr } : {}),
    ...(c.vni !== undefined ? { vni: c.vni } : {}),
    ...(c.internal ? { internal: true } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
    ...(c.ipv6 ? { enableIPv6: true, fixedCIDRv6: c.ipv6.subnet.cidr } : {}),
  }
}
