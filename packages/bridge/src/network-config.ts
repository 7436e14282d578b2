import { InvalidConfigError } from '@cnm/driverapi'
import {
  containsPrefix,
  type IPAddress,
  type IPFamily,
  type IPPrefix,
  networksOverlap,
  parseCIDR,
  prefixOf,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import { isValidInterfaceName } from '@cnm/netlink'
import { type AuxAddresses, parseAuxAddresses } from './aux-addresses.js'
import { fromDockerOptions } from './docker-options.js'

/**
 * A network's options, validated and parsed once (addresses and prefixes as `@cnm/ip` values): what
 * the setup steps read. Text exists only in the raw options (the store's JSON, the REST body).
 */
export interface NetworkConfig {
  /** Explicit bridge name (else `br-<id prefix>`). */
  bridgeName: string | undefined
  /** The bridge's address with its prefix (`172.18.0.1/16`); elected when undefined. */
  addressIPv4: IPPrefix | undefined
  /** Docker's IPv4 `--ip-range`: endpoints get IPv4 addresses from this part of the subnet only. */
  fixedCIDR: IPPrefix | undefined
  /** False: an IPv6-only network (Docker's `--ipv4=false`; needs `enableIPv6`). */
  enableIPv4: boolean
  enableIPv6: boolean
  fixedCIDRv6: IPPrefix | undefined
  /** Docker's `--ip-range` for IPv6: endpoints get IPv6 addresses from this part of the subnet only. */
  ipRangeV6: IPPrefix | undefined
  enableIPTables: boolean
  enableIPMasquerade: boolean
  enableICC: boolean
  enableIPForwarding: boolean
  allowNonDefaultBridge: boolean
  mtu: number | undefined
  internal: boolean
  /**
   * Hold each published host port with a bound socket (default). `false` when the runtime reserves
   * the ports itself (Podman's `enable_port_reservation`): a port in use is still refused.
   */
  holdPorts: boolean
  /** Docker's `--aux-address`: name → address of the subnet, reserved, never handed out. */
  auxAddresses: AuxAddresses
  /**
   * Docker's `com.docker.network.bridge.host_binding_ipv4`: the host address of a published port
   * whose binding names none (`-p 8080:80`). Undefined: `0.0.0.0` and `::` (Docker's default).
   */
  hostBindingIPv4: IPAddress | undefined
}

const BOOL_DEFAULTS = {
  enableIPv4: true,
  enableIPv6: false,
  enableIPTables: true,
  enableIPMasquerade: true,
  enableICC: true,
  enableIPForwarding: true,
  allowNonDefaultBridge: false,
  internal: false,
  holdPorts: true,
} as const

const KEYS = new Set([
  ...Object.keys(BOOL_DEFAULTS),
  'bridgeName',
  'addressIPv4',
  'fixedCIDR',
  'fixedCIDRv6',
  'ipRangeV6',
  'mtu',
  'auxAddresses',
  'hostBindingIPv4',
])

/**
 * Address ranges a network's subnet may not touch: a bridge there cannot work (containers cannot
 * be routed to or from it, or the kernel refuses the address).
 */
const UNUSABLE: readonly { prefix: IPPrefix; what: string }[] = (
  [
    ['0.0.0.0/8', '"this network"'],
    ['127.0.0.0/8', 'loopback'],
    ['169.254.0.0/16', 'link-local'],
    ['224.0.0.0/4', 'multicast'],
    ['240.0.0.0/4', 'reserved and broadcast'],
    ['::/128', 'the unspecified address'],
    ['::1/128', 'loopback'],
    ['fe80::/10', 'link-local'],
    ['ff00::/8', 'multicast'],
  ] as const
).map(([cidr, what]) => ({ prefix: parseCIDR(cidr), what }))

/** Throws unless the subnet of `prefix` is one a network can use. */
function checkUsable(key: string, written: unknown, prefix: IPPrefix): void {
  const clash = UNUSABLE.find((u) => networksOverlap(prefix, u.prefix))
  if (clash) {
    throw new InvalidConfigError(
      `${key} ${String(written)}: subnet ${prefix.cidr} overlaps ${clash.prefix.cidr} (${clash.what}), which no network can use`,
    )
  }
}

/** The one place a network's CIDR option is parsed (`@cnm/ip`), checked for its family and usability. */
function cidr(obj: Record<string, unknown>, key: string, family: IPFamily): IPPrefix | undefined {
  const v = obj[key]
  if (v === undefined) return undefined
  const prefix = tryParseCIDR(v)
  if (prefix?.family !== family) {
    throw new InvalidConfigError(`${key} ${JSON.stringify(v)} is not an IPv${family} CIDR`)
  }
  checkUsable(key, v, prefix)
  return prefix
}

/** `hostBindingIPv4`: any IP address (Docker also takes an IPv6 one there since 28.0). */
function hostBinding(v: unknown): IPAddress | undefined {
  if (v === undefined) return undefined
  const ip = tryParseAddress(v)
  if (!ip) throw new InvalidConfigError(`hostBindingIPv4 ${JSON.stringify(v)} is not an IP address`)
  return ip
}

function bool(obj: Record<string, unknown>, key: keyof typeof BOOL_DEFAULTS): boolean {
  const v = obj[key]
  if (v === undefined) return BOOL_DEFAULTS[key]
  if (typeof v !== 'boolean') throw new InvalidConfigError(`${key} must be a boolean, got ${JSON.stringify(v)}`)
  return v
}

/** Parses per-network options; everything is checked before anything changes. */
export function parseNetworkConfig(raw: unknown = {}): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidConfigError('network options must be an object')
  // Docker's keys (`com.docker.network.bridge.name`, …) become cnm's first.
  const obj = fromDockerOptions(raw as Record<string, unknown>)
  const unknown = Object.keys(obj).find((k) => !KEYS.has(k))
  if (unknown) throw new InvalidConfigError(`unknown bridge network option ${JSON.stringify(unknown)}`)
  const bridgeName = obj.bridgeName
  if (bridgeName !== undefined && !isValidInterfaceName(bridgeName)) {
    throw new InvalidConfigError(
      `bridgeName ${JSON.stringify(bridgeName)} is not a valid interface name (1–15 bytes, no "/" or spaces)`,
    )
  }
  const mtu = obj.mtu
  if (mtu !== undefined && (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 68 || mtu > 65535)) {
    throw new InvalidConfigError(`mtu ${JSON.stringify(mtu)} out of range 68–65535`)
  }
  const config: NetworkConfig = {
    bridgeName: bridgeName as string | undefined,
    addressIPv4: cidr(obj, 'addressIPv4', 4),
    fixedCIDR: cidr(obj, 'fixedCIDR', 4),
    fixedCIDRv6: cidr(obj, 'fixedCIDRv6', 6),
    ipRangeV6: cidr(obj, 'ipRangeV6', 6),
    mtu: mtu as number | undefined,
    enableIPv4: bool(obj, 'enableIPv4'),
    enableIPv6: bool(obj, 'enableIPv6'),
    enableIPTables: bool(obj, 'enableIPTables'),
    enableIPMasquerade: bool(obj, 'enableIPMasquerade'),
    enableICC: bool(obj, 'enableICC'),
    enableIPForwarding: bool(obj, 'enableIPForwarding'),
    allowNonDefaultBridge: bool(obj, 'allowNonDefaultBridge'),
    internal: bool(obj, 'internal'),
    holdPorts: bool(obj, 'holdPorts'),
    auxAddresses: parseAuxAddresses(obj.auxAddresses),
    hostBindingIPv4: hostBinding(obj.hostBindingIPv4),
  }
  const p = config.addressIPv4
  if (p && (p.prefixLength > 30 || p.addressValue === p.networkValue || p.addressValue === p.lastValue)) {
    throw new InvalidConfigError(
      `addressIPv4 ${p.address}/${p.prefixLength} must be a host address in a /30 or larger network`,
    )
  }
  if (config.fixedCIDR && config.addressIPv4) checkInside(config.fixedCIDR, config.addressIPv4, 'fixedCIDR')
  if (config.fixedCIDRv6 && !config.enableIPv6) throw new InvalidConfigError('fixedCIDRv6 needs enableIPv6')
  if (!config.enableIPv4) {
    if (!config.enableIPv6)
      throw new InvalidConfigError('enableIPv4 false needs enableIPv6: a network needs IPv4 or IPv6')
    const v4 = ['addressIPv4', 'fixedCIDR'].find((k) => config[k as 'addressIPv4' | 'fixedCIDR'] !== undefined)
    if (v4) throw new InvalidConfigError(`${v4} is an IPv4 option, and enableIPv4 is false`)
  }
  if (config.ipRangeV6 && !config.enableIPv6) throw new InvalidConfigError('ipRangeV6 needs enableIPv6')
  if (config.ipRangeV6 && config.fixedCIDRv6) checkInside(config.ipRangeV6, config.fixedCIDRv6, 'ipRangeV6')
  checkAuxAddresses(config)
  return config
}

/** Aux addresses in a subnet that is known already (given), and IPv6 ones only with IPv6. */
function checkAuxAddresses(config: NetworkConfig): void {
  for (const [name, ip] of Object.entries(config.auxAddresses)) {
    if (ip.family === 6 && !config.enableIPv6) {
      throw new InvalidConfigError(`aux address ${name}=${ip.text} needs enableIPv6`)
    }
    const subnet = ip.family === 6 ? config.fixedCIDRv6 : config.addressIPv4
    if (subnet && !containsPrefix(subnet, prefixOf(ip, ip.family === 6 ? 128 : 32))) {
      throw new InvalidConfigError(`aux address ${name}=${ip.text} is not within the subnet ${subnet.cidr}`)
    }
  }
}

/** Throws unless `inner` lies within the network of `outer`. */
export function checkInside(inner: IPPrefix, outer: IPPrefix, what: string): void {
  if (!containsPrefix(outer, inner)) {
    throw new InvalidConfigError(
      `${what} ${inner.address}/${inner.prefixLength} is not within the bridge subnet ${outer.cidr}`,
    )
  }
}
