import { InvalidConfigError } from '@cnm/driverapi'
import { containsPrefix, type IPPrefix, parseCIDR } from '@cnm/ip'
import { VXLAN_VNI_MAX } from '@cnm/netlink'

/** The VNIs the driver hands out by itself (libnetwork's overlay starts at 4096 too). */
export const VNI_RANGE = { first: 4096, last: VXLAN_VNI_MAX } as const

/** A network's options, validated: what the driver acts on. */
export interface NetworkConfig {
  /** The gateway with the subnet's prefix (`10.10.0.1/24`): held on every host's bridge. */
  addressIPv4: string
  /** The IPv4 range endpoints' addresses come from (within the subnet). */
  fixedCIDR: string | undefined
  /** A VNI asked for (1–16777215); default: the first free one from 4096, allocated in the cluster. */
  vni: number | undefined
  /** No route out: no gateway handed out, no NAT. */
  internal: boolean
  /** Default: the underlay's MTU less the VXLAN overhead (50 bytes on IPv4). */
  mtu: number | undefined
}

const KEYS = new Set(['addressIPv4', 'fixedCIDR', 'vni', 'internal', 'mtu'])

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

/** Parses `createNetwork` options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('overlay network options must be an object')
  }
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown overlay network option ${JSON.stringify(unknown)}`)
  const gw = cidr(obj, 'addressIPv4')
  if (!gw) {
    throw new InvalidConfigError('an overlay network needs addressIPv4: its gateway with the prefix (10.10.0.1/24)')
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
  if (obj.internal !== undefined && typeof obj.internal !== 'boolean') {
    throw new InvalidConfigError(`internal must be a boolean, got ${JSON.stringify(obj.internal)}`)
  }
  return {
    addressIPv4: `${gw.address}/${gw.prefixLength}`,
    fixedCIDR: range?.cidr,
    vni: integer(obj.vni, 'vni', 1, VXLAN_VNI_MAX),
    internal: obj.internal === true,
    mtu: integer(obj.mtu, 'mtu', 576, 65535),
  }
}

/** The options a record keeps: the validated config, in the form {@link parseNetworkConfig} reads. */
export function configOptions(c: NetworkConfig): Record<string, unknown> {
  return {
    addressIPv4: c.addressIPv4,
    ...(c.fixedCIDR ? { fixedCIDR: c.fixedCIDR } : {}),
    ...(c.vni !== undefined ? { vni: c.vni } : {}),
    ...(c.internal ? { internal: true } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
  }
}
