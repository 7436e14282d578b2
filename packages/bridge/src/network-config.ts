import { InvalidConfigError, type IpamData, ipamFromOptions, LEGACY_IPAM_KEYS, type NetworkIpam } from '@cnm/driverapi'
import {
  addressFromValue,
  containsPrefix,
  type IPAddress,
  type IPPrefix,
  networksOverlap,
  parseCIDR,
  prefixOf,
  tryParseAddress,
} from '@cnm/ip'
import { isValidInterfaceName } from '@cnm/netlink'
import { ulaSubnetFor } from './address-election.js'
import type { AuxAddresses } from './aux-addresses.js'
import { fromDockerOptions } from './docker-options.js'

/**
 * A network's options, validated and parsed once (addresses and prefixes as `@cnm/ip` values): what
 * the setup steps read. Text exists only in the raw options (the store's JSON, the REST body).
 */
export interface NetworkConfig {
  /** The addresses as given (values): what the record keeps, as text, for a restore. */
  ipam: NetworkIpam
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
  /** The bridge's IPv6 address in `fixedCIDRv6` (Docker's IPv6 `--gateway`); default its first host. */
  gatewayV6: IPAddress | undefined
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
  /**
   * Docker's `--aux-address`: name → address, reserved, never handed out; those of the first subnet
   * of each family (a later subnet's are in its {@link MoreSubnet}).
   */
  auxAddresses: AuxAddresses
  /**
   * The second and later subnets of each family (Docker's repeated `--subnet`), IPv4 first, in the
   * order given: their gateways are on the bridge too, and endpoints get addresses from them when
   * the subnets before them are full (or an `--ip` lies in them).
   */
  moreSubnets: MoreSubnet[]
  /**
   * Docker's `com.docker.network.bridge.host_binding_ipv4`: the host address of a published port
   * whose binding names none (`-p 8080:80`). Undefined: `0.0.0.0` and `::` (Docker's default).
   */
  hostBindingIPv4: IPAddress | undefined
}

/** A network's second or later subnet of a family: always given (never elected), with its gateway. */
export interface MoreSubnet {
  subnet: IPPrefix
  /** The bridge's address in it: the gateway given, else the subnet's first host. */
  gateway: IPAddress
  /** Docker's `--ip-range` of this subnet. */
  ipRange: IPPrefix | undefined
  /** Its aux addresses. */
  auxAddresses: AuxAddresses
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

const KEYS = new Set([...Object.keys(BOOL_DEFAULTS), 'bridgeName', 'mtu', 'hostBindingIPv4'])

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
function checkUsable(prefix: IPPrefix): void {
  const clash = UNUSABLE.find((u) => networksOverlap(prefix, u.prefix))
  if (clash) {
    throw new InvalidConfigError(
      `subnet ${prefix.cidr} overlaps ${clash.prefix.cidr} (${clash.what}), which no network can use`,
    )
  }
}

/** Throws unless the subnet is one a network can use (no loopback, link-local, multicast…). */
function usable(d: IpamData | undefined): IpamData | undefined {
  if (d) checkUsable(d.subnet)
  return d
}

/** The first subnet of a family, checked (the one elected, adopted or restored subnets replace). */
function first(list: readonly IpamData[]): IpamData | undefined {
  return usable(list[0])
}

/**
 * The network's IPv6 subnet (`fixedCIDRv6`, else a ULA /64 derived from its id) and the bridge's
 * address in it: the gateway given (Docker's IPv6 `--gateway`), else the subnet's first host.
 */
export function ipv6Gateway(config: NetworkConfig, id: string): { subnet: IPPrefix; gateway: IPAddress } {
  const subnet = config.fixedCIDRv6 ?? parseCIDR(ulaSubnetFor(id))
  return { subnet, gateway: config.gatewayV6 ?? firstHost(subnet) }
}

/** The first host of a subnet (the default gateway). */
function firstHost(subnet: IPPrefix): IPAddress {
  return addressFromValue(subnet.family, subnet.networkValue + 1n)
}

/** The second and later subnets of both families, checked, IPv4 first. */
function moreSubnetsOf(ipam: NetworkIpam): MoreSubnet[] {
  return [...ipam.v4.slice(1), ...ipam.v6.slice(1)].map((d) => {
    usable(d)
    const gateway = d.gateway ?? firstHost(d.subnet)
    checkHostAddress(prefixOf(gateway, d.subnet.prefixLength))
    for (const [name, ip] of d.auxAddresses) {
      if (ip.value === gateway.value)
        throw new InvalidConfigError(`aux address ${name}=${ip.text} is the gateway of ${d.subnet.cidr}`)
    }
    return {
      subnet: d.subnet,
      gateway,
      ipRange: d.ipRange,
      auxAddresses: Object.fromEntries(d.auxAddresses),
    }
  })
}

/** An IPv4 gateway must be a host address of a /30 or larger network. */
function checkHostAddress(p: IPPrefix): void {
  if (p.family !== 4) return
  if (p.prefixLength > 30 || p.addressValue === p.networkValue || p.addressValue === p.lastValue) {
    throw new InvalidConfigError(
      `IPv4 gateway ${p.address}/${p.prefixLength} must be a host address in a /30 or larger network`,
    )
  }
}

/** The bridge's address: the gateway (default: the subnet's first host) with the subnet's length. */
function bridgeAddress(d: IpamData): IPPrefix {
  const gw = d.gateway ?? addressFromValue(d.subnet.family, d.subnet.networkValue + 1n)
  return prefixOf(gw, d.subnet.prefixLength)
}

/** The aux addresses of the first subnet of each family, by name. */
function auxOf(ipam: NetworkIpam): AuxAddresses {
  const out: Record<string, IPAddress> = {}
  for (const d of [ipam.v4[0], ipam.v6[0]]) for (const [name, ip] of d?.auxAddresses ?? []) out[name] = ip
  return out
}

/**
 * The network's addresses: given as values (`ipam`, from the controller), or — a direct caller's
 * old option keys (`addressIPv4`, `fixedCIDRv6`, …) — converted once by `@cnm/driverapi`.
 */
function splitIpam(
  obj: Record<string, unknown>,
  ipam: NetworkIpam | undefined,
): { obj: Record<string, unknown>; ipam: NetworkIpam } {
  if (ipam === undefined) {
    const split = ipamFromOptions(obj)
    return { obj: split.options, ipam: split.ipam }
  }
  const legacy = LEGACY_IPAM_KEYS.find((k) => obj[k] !== undefined)
  if (legacy)
    throw new InvalidConfigError(`option ${legacy}: the network's addresses are given as IPAM data, not options`)
  return { obj, ipam }
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
export function parseNetworkConfig(raw: unknown = {}, given?: NetworkIpam): NetworkConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidConfigError('network options must be an object')
  // Docker's keys (`com.docker.network.bridge.name`, …) become cnm's first.
  const { obj, ipam } = splitIpam(fromDockerOptions(raw as Record<string, unknown>), given)
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
  const v4 = first(ipam.v4)
  const v6 = first(ipam.v6)
  const config: NetworkConfig = {
    ipam,
    bridgeName: bridgeName as string | undefined,
    addressIPv4: v4 && bridgeAddress(v4),
    fixedCIDR: v4?.ipRange,
    fixedCIDRv6: v6?.subnet,
    gatewayV6: v6?.gateway,
    ipRangeV6: v6?.ipRange,
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
    auxAddresses: auxOf(ipam),
    moreSubnets: moreSubnetsOf(ipam),
    hostBindingIPv4: hostBinding(obj.hostBindingIPv4),
  }
  if (config.addressIPv4) checkHostAddress(config.addressIPv4)
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
  if (config.moreSubnets.some((m) => m.subnet.family === 6) && !config.enableIPv6) {
    throw new InvalidConfigError('an IPv6 subnet needs enableIPv6')
  }
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
