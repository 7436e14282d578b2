import { InvalidConfigError } from '@cnm/driverapi'
import { containsAddress, containsPrefix, formatAddress, type IPPrefix, parseAddress, parseCIDR } from '@cnm/ip'
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

const KEYS = new Set([
  'parent',
  'macvlan_mode',
  'addressIPv4',
  'fixedCIDR',
  'enableIPv6',
  'fixedCIDRv6',
  'gatewayIPv6',
  'internal',
  'mtu',
])

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

function cidr(obj: Record<string, unknown>, key: string, family: 4 | 6): IPPrefix | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  try {
    if (typeof v !== 'string' || !v.includes('/')) throw new Error('no prefix length')
    const p = parseCIDR(v)
    if (p.family !== family) throw new Error(`not IPv${family}`)
    return p
  } catch (cause) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv${family} CIDR`, { cause })
  }
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

/** Throws unless `inner` lies within `outer` (both parsed CIDRs). */
function checkInside(inner: IPPrefix, outer: IPPrefix, what: string): void {
  if (!containsPrefix(outer, inner)) {
    throw new InvalidConfigError(`${what} ${inner.cidr} is not within the subnet ${outer.cidr}`)
  }
}

function ipv4(obj: Record<string, unknown>): Pick<NetworkConfig, 'addressIPv4' | 'fixedCIDR'> {
  const gw = cidr(obj, 'addressIPv4', 4)
  const range = cidr(obj, 'fixedCIDR', 4)
  if (gw && (gw.prefixLength > 30 || gw.addressValue === gw.networkValue || gw.addressValue === gw.lastValue)) {
    throw new InvalidConfigError(
      `addressIPv4 ${obj.addressIPv4} must be the gateway's host address in a /30 or larger subnet (192.168.50.1/24)`,
    )
  }
  if (range && !gw) throw new InvalidConfigError('fixedCIDR needs addressIPv4 (the subnet it lies in)')
  if (range && gw) checkInside(range, gw, 'fixedCIDR')
  return {
    addressIPv4: gw ? `${gw.address}/${gw.prefixLength}` : undefined,
    fixedCIDR: range?.cidr,
  }
}

function ipv6(obj: Record<string, unknown>): Pick<NetworkConfig, 'enableIPv6' | 'fixedCIDRv6' | 'gatewayIPv6'> {
  const enableIPv6 = bool(obj, 'enableIPv6')
  const subnet = cidr(obj, 'fixedCIDRv6', 6)
  if (subnet && !enableIPv6) throw new InvalidConfigError('fixedCIDRv6 needs enableIPv6')
  if (enableIPv6 && !subnet) {
    throw new InvalidConfigError('enableIPv6 needs fixedCIDRv6: the LAN’s IPv6 subnet (2001:db8:1::/64)')
  }
  if (subnet && subnet.prefixLength > 126) throw new InvalidConfigError(`fixedCIDRv6 ${subnet.cidr} is too small`)
  let gatewayIPv6: string | undefined
  if (obj.gatewayIPv6 !== undefined) {
    if (!subnet) throw new InvalidConfigError('gatewayIPv6 needs enableIPv6 and fixedCIDRv6')
    let gw: ReturnType<typeof parseAddress>
    try {
      gw = parseAddress(String(obj.gatewayIPv6))
      if (typeof obj.gatewayIPv6 !== 'string' || gw.family !== 6) throw new Error('not IPv6')
    } catch (cause) {
      throw new InvalidConfigError(`gatewayIPv6 ${JSON.stringify(obj.gatewayIPv6)} is not an IPv6 address`, { cause })
    }
    if (!containsAddress(subnet, gw) || gw.value === subnet.networkValue) {
      throw new InvalidConfigError(`gatewayIPv6 ${obj.gatewayIPv6} is not a host address of ${subnet.cidr}`)
    }
    gatewayIPv6 = gw.text
  } else if (subnet) {
    gatewayIPv6 = formatAddress(6, subnet.networkValue + 1n)
  }
  return { enableIPv6, fixedCIDRv6: subnet?.cidr, gatewayIPv6 }
}

/** Parses `createNetwork` options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('macvlan network options must be an object')
  }
  const obj = raw as Record<string, unknown>
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown macvlan network option ${JSON.stringify(unknown)}`)
  const config: NetworkConfig = {
    parent: parseParent(obj.parent),
    mode: mode(obj.macvlan_mode),
    ...ipv4(obj),
    ...ipv6(obj),
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

/** The options a record keeps: the validated config, in the form {@link parseNetworkConfig} reads. */
export function configOptions(c: NetworkConfig): Record<string, unknown> {
  return {
    parent: c.parent.name,
    macvlan_mode: c.mode,
    ...(c.addressIPv4 ? { addressIPv4: c.addressIPv4 } : {}),
    ...(c.fixedCIDR ? { fixedCIDR: c.fixedCIDR } : {}),
    ...(c.enableIPv6 ? { enableIPv6: true, fixedCIDRv6: c.fixedCIDRv6, gatewayIPv6: c.gatewayIPv6 } : {}),
    ...(c.internal ? { internal: true } : {}),
    ...(c.mtu !== undefined ? { mtu: c.mtu } : {}),
  }
}
