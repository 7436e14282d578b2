import {
  InvalidConfigError,
  type IpamData,
  ipamFromOptions,
  LEGACY_IPAM_KEYS,
  type NetworkIpam,
  NotSupportedError,
} from '@cnm/driverapi'
import { formatAddress, type IPPrefix } from '@cnm/ip'
import { isValidInterfaceName, type MacvlanMode, VLAN_ID_MAX, VLAN_ID_MIN } from '@cnm/netlink'

/** The macvlan modes a network may take (Docker's `macvlan_mode`). */
export const NETWORK_MODES: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru']

/** The parent interface, as `parent=` names it: a VLAN sub-interface when written `eth1.20`. */
export interface ParentSpec {
  /** The link the macvlan links hang off (`eth1.20`, `eth1`). */
  name: string
  /** For `eth1.20`: the VLAN's master (`eth1`) and id (20), used when the link must be created. */
  vlan: { master: string; id: number } | undefined
}

/** A network's options, validated: what the driver acts on. */
export interface NetworkConfig {
  parent: ParentSpec
  mode: MacvlanMode
  /** The IPv4 and IPv6 subnets as given (values): the pools, their gateways and aux addresses. */
  ipv4: IpamData | undefined
  ipv6: IpamData | undefined
  /** The LAN's IPv4 gateway with the subnet's prefix (`192.168.50.1/24`); cnm does not configure it. */
  addressIPv4: string | undefined
  /** The IPv4 range addresses are handed out from (within the subnet). */
  fixedCIDR: string | undefined
  enableIPv6: boolean
  /** The IPv6 subnet (canonical). */
  fixedCIDRv6: string | undefined
  /** The IPv6 gateway (default: the subnet's first address). */
  gatewayIPv6: string | undefined
  /** No default route is handed out. */
  internal: boolean
  mtu: number | undefined
}

const KEYS = new Set(['parent', 'macvlan_mode', 'enableIPv6', 'internal', 'mtu'])

/** Parses `parent=`: an existing interface to adopt, or `master.id` for a VLAN sub-interface. */
export function parseParent(v: unknown): ParentSpec {
  if (v === undefined || v === '') {
    throw new InvalidConfigError(
      'a macvlan network needs a parent interface (-o parent=eth1, or parent=eth1.20 for VLAN 20): ' +
        'this kernel has no dummy link type to stand in for one',
    )
  }
  if (typeof v !== 'string' || !isValidInterfaceName(v)) {
    throw new InvalidConfigError(`parent ${JSON.stringify(v)} is not a valid interface name (1–15 bytes, no "/")`)
  }
  if (v === 'lo') throw new InvalidConfigError('loopback (lo) is not a valid macvlan parent interface')
  const m = v.match(/^(.+)\.([0-9]+)$/u)
  if (!m?.[1] || !m[2]) return { name: v, vlan: undefined }
  const id = Number(m[2])
  if (!Number.isInteger(id) || id < VLAN_ID_MIN || id > VLAN_ID_MAX || m[2] !== String(id)) {
    throw new InvalidConfigError(`parent ${v}: VLAN id ${m[2]} must be an integer ${VLAN_ID_MIN}–${VLAN_ID_MAX}`)
  }
  if (m[1] === 'lo') throw new InvalidConfigError(`parent ${v}: loopback cannot carry VLANs`)
  return { name: v, vlan: { master: m[1], id } }
}

function mode(v: unknown): MacvlanMode {
  if (v === undefined) return 'bridge'
  if (typeof v !== 'string' || !(NETWORK_MODES as readonly string[]).includes(v)) {
    throw new InvalidConfigError(`macvlan_mode ${JSON.stringify(v)} must be one of ${NETWORK_MODES.join(', ')}`)
  }
  return v as MacvlanMode
}

function bool(obj: Record<string, unknown>, key: string): boolean {
  const v = obj[key]
  if (v === undefined) return false
  if (typeof v !== 'boolean') throw new InvalidConfigError(`${key} must be a boolean, got ${JSON.stringify(v)}`)
  return v
}

function mtu(v: unknown): number | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 68 || v > 65535) {
    throw new InvalidConfigError(`mtu ${JSON.stringify(v)} out of range 68–65535`)
  }
  return v
}

/** The one subnet of a family a macvlan network takes (several per family: not yet). */
function single(list: readonly IpamData[], family: 4 | 6): IpamData | undefined {
  if (list.length > 1) {
    throw new NotSupportedError(
      `a macvlan network takes one IPv${family} subnet (${list.map((d) => d.subnet.cidr).join(', ')} given)`,
    )
  }
  return list[0]
}

/** The first host of a subnet (the default gateway, as Docker's). */
function firstHost(subnet: IPPrefix): string {
  return formatAddress(subnet.family, subnet.networkValue + 1n)
}

function ipv4(d: IpamData | undefined): Pick<NetworkConfig, 'addressIPv4' | 'fixedCIDR'> {
  if (!d) return { addressIPv4: undefined, fixedCIDR: undefined }
  const len = d.subnet.prefixLength
  if (len > 30) throw new InvalidConfigError(`subnet ${d.subnet.cidr} is too small: use a /30 or larger`)
  return { addressIPv4: `${d.gateway?.text ?? firstHost(d.subnet)}/${len}`, fixedCIDR: d.ipRange?.cidr }
}

function ipv6(
  obj: Record<string, unknown>,
  d: IpamData | undefined,
): Pick<NetworkConfig, 'enableIPv6' | 'fixedCIDRv6' | 'gatewayIPv6'> {
  const enableIPv6 = bool(obj, 'enableIPv6')
  if (d && !enableIPv6) throw new InvalidConfigError(`an IPv6 subnet (${d.subnet.cidr}) needs enableIPv6`)
  if (enableIPv6 && !d) {
    throw new InvalidConfigError('enableIPv6 needs an IPv6 subnet: the LAN’s (2001:db8:1::/64)')
  }
  if (d && d.subnet.prefixLength > 126) throw new InvalidConfigError(`IPv6 subnet ${d.subnet.cidr} is too small`)
  if (d?.ipRange) throw new NotSupportedError(`an IPv6 ip range (${d.ipRange.cidr}) on a macvlan network`)
  return { enableIPv6, fixedCIDRv6: d?.subnet.cidr, gatewayIPv6: d && (d.gateway?.text ?? firstHost(d.subnet)) }
}

/** Parses `createNetwork` options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown, given?: NetworkIpam): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('macvlan network options must be an object')
  }
  // The addresses as values (from the controller); a direct caller's (or an older record's) old
  // option keys are converted once by `@cnm/driverapi`.
  const legacy = LEGACY_IPAM_KEYS.find((k) => (raw as Record<string, unknown>)[k] !== undefined)
  if (given && legacy) throw new InvalidConfigError(`option ${legacy}: the network's addresses are given as IPAM data`)
  const { options: obj, ipam } = given ? { options: raw as Record<string, unknown>, ipam: given } : ipamFromOptions(raw)
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown macvlan network option ${JSON.stringify(unknown)}`)
  const config: NetworkConfig = {
    parent: parseParent(obj.parent),
    mode: mode(obj.macvlan_mode),
    ipv4: single(ipam.v4, 4),
    ipv6: single(ipam.v6, 6),
    ...ipv4(single(ipam.v4, 4)),
    ...ipv6(obj, single(ipam.v6, 6)),
    internal: bool(obj, 'internal'),
    mtu: mtu(obj.mtu),
  }
  if (!config.addressIPv4 && !config.fixedCIDRv6) {
    throw new InvalidConfigError(
      'a macvlan network needs a subnet: addressIPv4 (the LAN’s gateway with its prefix, 192.168.50.1/24; ' +
        '--subnet/--gateway), or enableIPv6 with fixedCIDRv6',
    )
  }
  return config
}

/**
 * The options a record keeps (its addresses go beside them, as `ipamToText` of {@link configIpam}):
 * the validated config, in the form {@link parseNetworkConfig} reads.
 */
export function configOptions(c: NetworkConfig): Record<string, unknown> {
  return {
    parent: c.parent.name,
    macvlan_mode: c.mode,
    ...(c.enableIPv6 ? { enableIPv6: true } : {}),
    ...(c.internal ? { internal: true } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
  }
}

/** The addresses a record keeps, as values (a default gateway is the subnet's first host again). */
export function configIpam(c: NetworkConfig): NetworkIpam {
  return { v4: c.ipv4 ? [c.ipv4] : [], v6: c.ipv6 ? [c.ipv6] : [] }
}
