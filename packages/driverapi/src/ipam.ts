import {
  addressFromValue,
  containsAddress,
  containsPrefix,
  type IPAddress,
  type IPFamily,
  type IPPrefix,
  networksOverlap,
  prefixOf,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import { InvalidConfigError } from './errors.js'

/**
 * One subnet of a network and what goes with it (libnetwork's `IPAMData`), as parsed values: the
 * gateway (absent: the driver's choice, the subnet's first host), the range endpoints get addresses
 * from (Docker's `--ip-range`), and the addresses reserved for others (`--aux-address`).
 */
export interface IpamData {
  /** The subnet, its network address (`10.1.0.0/24`: no host bits). */
  readonly subnet: IPPrefix
  readonly gateway?: IPAddress
  readonly ipRange?: IPPrefix
  /** Name → address of the subnet, never handed out. */
  readonly auxAddresses: ReadonlyMap<string, IPAddress>
}

/**
 * A network's IPAM configuration, per family a list of subnets (the first with room serves an
 * endpoint). Parsed once at an edge (the CLI's flags, the REST body, the store's text) and handed
 * to a driver's `createNetwork` as values. An empty list: the driver picks (or has none).
 */
export interface NetworkIpam {
  readonly v4: readonly IpamData[]
  readonly v6: readonly IpamData[]
}

/** {@link IpamData} as text: what the REST body, the store and the records carry (JSON). */
export interface IpamDataText {
  subnet: string
  gateway?: string
  ipRange?: string
  auxAddresses?: Record<string, string>
}

/** {@link NetworkIpam} as text (JSON). */
export interface NetworkIpamText {
  v4?: IpamDataText[]
  v6?: IpamDataText[]
}

/** No subnet of either family: the driver decides. */
export const EMPTY_IPAM: NetworkIpam = Object.freeze({ v4: Object.freeze([]), v6: Object.freeze([]) })

/** The option keys older callers give a network's addresses in (converted by {@link ipamFromOptions}). */
export const LEGACY_IPAM_KEYS: readonly string[] = [
  'addressIPv4',
  'fixedCIDR',
  'fixedCIDRv6',
  'ipRangeV6',
  'gatewayIPv6',
  'auxAddresses',
]

/** The network of a prefix (`10.1.0.1/24` → `10.1.0.0/24`), as a value. */
function networkOf(p: IPPrefix): IPPrefix {
  return prefixOf(addressFromValue(p.family, p.networkValue), p.prefixLength)
}

const AUX_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/u

function prefixArg(v: unknown, what: string, family: IPFamily): IPPrefix {
  const p = tryParseCIDR(v)
  if (p?.family !== family) throw new InvalidConfigError(`${what} ${JSON.stringify(v)} is not an IPv${family} CIDR`)
  return p
}

function addressArg(v: unknown, what: string, family: IPFamily): IPAddress {
  const ip = tryParseAddress(v)
  if (ip?.family !== family) throw new InvalidConfigError(`${what} ${JSON.stringify(v)} is not an IPv${family} address`)
  return ip
}

/** A host address of `subnet` (not its network address; for IPv4 not its broadcast either). */
export function isHostOf(subnet: IPPrefix, ip: IPAddress): boolean {
  if (!containsAddress(subnet, ip) || ip.value === subnet.networkValue) return false
  return !(ip.family === 4 && subnet.prefixLength < 31 && ip.value === subnet.lastValue)
}

/**
 * Checks one subnet's data as values: the gateway a host address of the subnet, the range within
 * it, every aux address in it (named `[A-Za-z0-9_.-]`, not the gateway). Returns it unchanged.
 */
export function checkIpamData(d: IpamData): IpamData {
  const { subnet } = d
  if (subnet.addressValue !== subnet.networkValue) {
    throw new InvalidConfigError(`subnet ${subnet.address}/${subnet.prefixLength} has host bits set: ${subnet.cidr}`)
  }
  if (d.gateway && (d.gateway.family !== subnet.family || !isHostOf(subnet, d.gateway))) {
    throw new InvalidConfigError(`gateway ${d.gateway.text} is not a host address of subnet ${subnet.cidr}`)
  }
  if (d.ipRange && (d.ipRange.family !== subnet.family || !containsPrefix(subnet, d.ipRange))) {
    throw new InvalidConfigError(`ip range ${d.ipRange.cidr} is not within subnet ${subnet.cidr}`)
  }
  for (const [name, ip] of d.auxAddresses) {
    if (!AUX_NAME.test(name)) {
      throw new InvalidConfigError(`aux address name ${JSON.stringify(name)} must be 1-64 of A-Z a-z 0-9 _ . -`)
    }
    if (!containsAddress(subnet, ip)) {
      throw new InvalidConfigError(`aux address ${name}=${ip.text} is not within the subnet ${subnet.cidr}`)
    }
    if (d.gateway && ip.value === d.gateway.value) {
      throw new InvalidConfigError(`aux address ${name}=${ip.text} is the gateway of subnet ${subnet.cidr}`)
    }
  }
  return d
}

/**
 * Checks a whole configuration: each subnet's data, each in its family's list, and no two subnets
 * of the network overlapping (one address would belong to both). Returns it unchanged.
 */
export function checkIpam(ipam: NetworkIpam): NetworkIpam {
  const all: IpamData[] = []
  for (const family of [4, 6] as const) {
    for (const d of family === 4 ? ipam.v4 : ipam.v6) {
      if (d.subnet.family !== family) throw new InvalidConfigError(`subnet ${d.subnet.cidr} is not IPv${family}`)
      checkIpamData(d)
      const clash = all.find((o) => o.subnet.family === family && networksOverlap(o.subnet, d.subnet))
      if (clash) throw new InvalidConfigError(`subnets ${clash.subnet.cidr} and ${d.subnet.cidr} overlap`)
      all.push(d)
    }
  }
  const names = new Set<string>()
  const owners = new Map<string, string>()
  for (const d of all) {
    for (const [name, ip] of d.auxAddresses) {
      if (names.has(name)) throw new InvalidConfigError(`aux address ${name} is given twice`)
      const twice = owners.get(ip.text)
      if (twice !== undefined) throw new InvalidConfigError(`aux addresses ${twice} and ${name} are both ${ip.text}`)
      names.add(name)
      owners.set(ip.text, name)
    }
  }
  return ipam
}

function parseAux(raw: unknown, family: IPFamily): Map<string, IPAddress> {
  const out = new Map<string, IPAddress>()
  if (raw === undefined) return out
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('auxAddresses must be an object of name: IP address')
  }
  for (const [name, v] of Object.entries(raw)) out.set(name, addressArg(v, `aux address ${name}=`, family))
  return out
}

function parseData(raw: unknown, family: IPFamily): IpamData {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError(`an IPv${family} IPAM entry must be an object ({ subnet, gateway?, ipRange? })`)
  }
  const r = raw as Record<string, unknown>
  const unknown = Object.keys(r).find((k) => !['subnet', 'gateway', 'ipRange', 'auxAddresses'].includes(k))
  if (unknown) throw new InvalidConfigError(`unknown IPAM field ${JSON.stringify(unknown)}`)
  return {
    subnet: prefixArg(r.subnet, 'subnet', family),
    ...(r.gateway === undefined ? {} : { gateway: addressArg(r.gateway, 'gateway', family) }),
    ...(r.ipRange === undefined ? {} : { ipRange: prefixArg(r.ipRange, 'ip range', family) }),
    auxAddresses: parseAux(r.auxAddresses, family),
  }
}

function list(raw: unknown, family: IPFamily): IpamData[] {
  if (raw === undefined) return []
  if (!Array.isArray(raw)) throw new InvalidConfigError(`IPAM v${family} must be a list`)
  return raw.map((d) => parseData(d, family))
}

/** Parses the text form ({@link NetworkIpamText}: a REST body, the store) into checked values. */
export function parseIpam(text: unknown): NetworkIpam {
  if (text === undefined || text === null) return EMPTY_IPAM
  if (typeof text !== 'object' || Array.isArray(text)) {
    throw new InvalidConfigError('IPAM must be an object of { v4: [...], v6: [...] }')
  }
  const t = text as Record<string, unknown>
  const unknown = Object.keys(t).find((k) => k !== 'v4' && k !== 'v6')
  if (unknown) throw new InvalidConfigError(`unknown IPAM field ${JSON.stringify(unknown)}`)
  return checkIpam({ v4: list(t.v4, 4), v6: list(t.v6, 6) })
}

function dataText(d: IpamData): IpamDataText {
  return {
    subnet: d.subnet.cidr,
    ...(d.gateway ? { gateway: d.gateway.text } : {}),
    ...(d.ipRange ? { ipRange: d.ipRange.cidr } : {}),
    ...(d.auxAddresses.size > 0
      ? { auxAddresses: Object.fromEntries([...d.auxAddresses].map(([n, ip]) => [n, ip.text])) }
      : {}),
  }
}

/** The text form of a configuration (canonical: what `parseIpam` reads back to equal values). */
export function ipamToText(ipam: NetworkIpam): NetworkIpamText {
  return {
    ...(ipam.v4.length > 0 ? { v4: ipam.v4.map(dataText) } : {}),
    ...(ipam.v6.length > 0 ? { v6: ipam.v6.map(dataText) } : {}),
  }
}

/** Every subnet of a configuration, IPv4 first. */
export function ipamSubnets(ipam: NetworkIpam): IPPrefix[] {
  return [...ipam.v4, ...ipam.v6].map((d) => d.subnet)
}

/** Whether a configuration names no subnet. */
export function isEmptyIpam(ipam: NetworkIpam): boolean {
  return ipam.v4.length === 0 && ipam.v6.length === 0
}

/** The entry of `list` whose subnet holds `ip`, if any. */
export function ipamDataFor(list: readonly IpamData[], ip: IPAddress): IpamData | undefined {
  return list.find((d) => containsAddress(d.subnet, ip))
}

/**
 * Converts the option keys older callers give addresses in (`addressIPv4: '10.1.0.1/24'` — the
 * gateway with the subnet's length —, `fixedCIDR`, `fixedCIDRv6`, `ipRangeV6`, `gatewayIPv6`,
 * `auxAddresses`) into a configuration, once, at the edge that receives them; returns the other
 * options untouched. Options without those keys give {@link EMPTY_IPAM}.
 */
export function ipamFromOptions(options: unknown): { options: Record<string, unknown>; ipam: NetworkIpam } {
  if (options === undefined || options === null) return { options: {}, ipam: EMPTY_IPAM }
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidConfigError('network options must be an object')
  }
  const o = options as Record<string, unknown>
  if (!LEGACY_IPAM_KEYS.some((k) => o[k] !== undefined)) return { options: o, ipam: EMPTY_IPAM }
  const rest = Object.fromEntries(Object.entries(o).filter(([k]) => !LEGACY_IPAM_KEYS.includes(k)))
  const v4: IpamData[] = []
  const v6: IpamData[] = []
  if (o.addressIPv4 !== undefined) {
    const a = prefixArg(o.addressIPv4, 'addressIPv4', 4)
    const subnet = networkOf(a)
    const gateway = tryParseAddress(a.address) as IPAddress
    const ipRange = o.fixedCIDR === undefined ? undefined : prefixArg(o.fixedCIDR, 'fixedCIDR', 4)
    // addressIPv4 is the bridge's own address: the gateway, always (a network address is refused).
    v4.push({ subnet, gateway, ...(ipRange ? { ipRange } : {}), auxAddresses: new Map() })
  } else if (o.fixedCIDR !== undefined) {
    throw new InvalidConfigError('fixedCIDR needs addressIPv4 (the subnet it lies in)')
  }
  if (o.fixedCIDRv6 !== undefined) {
    const s = prefixArg(o.fixedCIDRv6, 'fixedCIDRv6', 6)
    const gateway = o.gatewayIPv6 === undefined ? undefined : addressArg(o.gatewayIPv6, 'gatewayIPv6', 6)
    const ipRange = o.ipRangeV6 === undefined ? undefined : prefixArg(o.ipRangeV6, 'ipRangeV6', 6)
    v6.push({
      subnet: networkOf(s),
      ...(gateway ? { gateway } : {}),
      ...(ipRange ? { ipRange } : {}),
      auxAddresses: new Map(),
    })
  } else if (o.ipRangeV6 !== undefined || o.gatewayIPv6 !== undefined) {
    throw new InvalidConfigError(`${o.ipRangeV6 === undefined ? 'gatewayIPv6' : 'ipRangeV6'} needs fixedCIDRv6`)
  }
  addLegacyAux(o.auxAddresses, v4, v6)
  return { options: rest, ipam: checkIpam({ v4, v6 }) }
}

/** `auxAddresses: { name: ip }` into the subnet of each address's family that holds it. */
function addLegacyAux(raw: unknown, v4: IpamData[], v6: IpamData[]): void {
  if (raw === undefined) return
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError('auxAddresses must be an object of name: IP address')
  }
  for (const [name, v] of Object.entries(raw)) {
    const ip = tryParseAddress(v)
    if (!ip) throw new InvalidConfigError(`aux address ${name}=${JSON.stringify(v)} is not an IP address`)
    const list = ip.family === 4 ? v4 : v6
    const d = ipamDataFor(list, ip)
    if (!d) {
      const only = list.length === 1 ? list[0]?.subnet.cidr : undefined
      throw new InvalidConfigError(
        `aux address ${name}=${ip.text}${only ? ` is not within the subnet ${only}` : `: no IPv${ip.family} subnet holds it`}`,
      )
    }
    ;(d.auxAddresses as Map<string, IPAddress>).set(name, ip)
  }
}
