import { type IpamData as CnmIpamData, checkIpam, type NetworkIpam } from '@cnm/driverapi'
import { type IPPrefix, parseAddress, parseCIDR, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import { invalidRequest } from './errors.js'
import { defaultBridgeName, isIfacePrefix } from './names.js'

/** One address pool of a network as dockerd sends it (libnetwork's `IPAMData`). */
export interface IpamData {
  AddressSpace?: string
  Pool: string
  Gateway?: string
  AuxAddresses?: Record<string, string> | null
}

/** What `NetworkDriver.CreateNetwork` carries. */
export interface CreateNetworkRequest {
  NetworkID: string
  Options?: Record<string, unknown> | null
  IPv4Data?: IpamData[] | null
  IPv6Data?: IpamData[] | null
}

/** A Docker network's request, parsed: the bridge driver's options and what the plugin keeps itself. */
export interface DockerNetworkConfig {
  /** Options for cnm's bridge driver. */
  bridge: Record<string, unknown>
  /**
   * The network's subnets and gateways as values (every pool dockerd sends, several per family
   * with repeated `--subnet`); ranges and aux addresses stay on the IPAM side (the plugin's own).
   */
  ipam: NetworkIpam
  /** The default host address of published ports (`com.docker.network.bridge.host_binding_ipv4`). */
  hostBindingIPv4: string | undefined
  /** Auxiliary addresses (plain) by subnet: never handed to an endpoint. */
  aux: Record<string, string[]>
  /** The name containers give its interface (`com.docker.network.container_iface_prefix`): `<prefix>N`. */
  ifacePrefix: string | undefined
}

const GENERIC = 'com.docker.network.generic'
const BRIDGE = 'com.docker.network.bridge.'
/** Top-level options dockerd adds by itself; anything else there is refused. */
const TOP_LEVEL = new Set([GENERIC, 'com.docker.network.enable_ipv6', 'com.docker.network.internal'])

/** What Go's strconv.ParseBool (dockerd's, for these options) takes. */
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True'])
const FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False'])

function bool(nid: string, key: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v
  if (typeof v === 'string' && TRUE.has(v)) return true
  if (typeof v === 'string' && FALSE.has(v)) return false
  throw invalidRequest(`network ${nid}: option ${key}=${JSON.stringify(v)} must be true or false`)
}

/** The `-o` options (`com.docker.network.generic`), mapped onto the bridge's options. */
function generic(
  nid: string,
  raw: unknown,
  bridge: Record<string, unknown>,
): { hostBinding: string | undefined; ifacePrefix: string | undefined } {
  if (raw === undefined || raw === null) return { hostBinding: undefined, ifacePrefix: undefined }
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw invalidRequest(`network ${nid}: ${GENERIC} must be an object`)
  let hostBinding: string | undefined
  let ifacePrefix: string | undefined
  for (const [key, v] of Object.entries(raw as Record<string, unknown>)) {
    switch (key) {
      case `${BRIDGE}name`:
        if (typeof v !== 'string' || v === '') throw invalidRequest(`network ${nid}: ${key} must be a name`)
        bridge.bridgeName = v
        break
      case `${BRIDGE}enable_icc`:
        bridge.enableICC = bool(nid, key, v)
        break
      case `${BRIDGE}enable_ip_masquerade`:
        bridge.enableIPMasquerade = bool(nid, key, v)
        break
      case `${BRIDGE}host_binding_ipv4`: {
        const a = tryParseAddress(v)
        if (a?.family !== 4) throw invalidRequest(`network ${nid}: ${key}=${JSON.stringify(v)} is not an IPv4 address`)
        hostBinding = a.text
        bridge.hostBindingIPv4 = a.text // the bridge gives it to every binding without a host address
        break
      }
      case 'com.docker.network.driver.mtu': {
        const n = typeof v === 'number' ? v : /^\d{1,5}$/u.test(String(v)) ? Number(v) : Number.NaN
        if (!Number.isInteger(n)) throw invalidRequest(`network ${nid}: ${key}=${JSON.stringify(v)} is not an MTU`)
        bridge.mtu = n
        break
      }
      case 'com.docker.network.container_iface_prefix':
        if (!isIfacePrefix(v)) {
          throw invalidRequest(
            `network ${nid}: ${key}=${JSON.stringify(v)} is not an interface name prefix (a letter, then letters, digits, _ . -; at most 12)`,
          )
        }
        ifacePrefix = v
        break
      default:
        throw invalidRequest(`network ${nid}: option ${key} is not supported by cnm`)
    }
  }
  return { hostBinding, ifacePrefix }
}

function pool(nid: string, d: IpamData, family: 4 | 6): { subnet: IPPrefix; gateway: string | undefined } {
  const subnet = tryParseCIDR(d.Pool)
  if (subnet?.family !== family)
    throw invalidRequest(`network ${nid}: pool ${JSON.stringify(d.Pool)} is not an IPv${family} CIDR`)
  if (subnet.address !== subnet.network) throw invalidRequest(`network ${nid}: pool ${d.Pool} has host bits set`)
  let gateway: string | undefined
  if (d.Gateway !== undefined && d.Gateway !== '') {
    const g =
      tryParseCIDR(d.Gateway) ??
      (tryParseAddress(d.Gateway) ? parseCIDR(`${d.Gateway}/${subnet.prefixLength}`) : undefined)
    if (g?.family !== family || g.network !== subnet.network || g.prefixLength !== subnet.prefixLength) {
      throw invalidRequest(`network ${nid}: gateway ${JSON.stringify(d.Gateway)} is not an address of ${subnet.cidr}`)
    }
    gateway = g.address
  }
  return { subnet, gateway }
}

function auxOf(nid: string, d: IpamData, subnet: IPPrefix, gateway: string | undefined): string[] {
  const out: string[] = []
  for (const [name, v] of Object.entries(d.AuxAddresses ?? {})) {
    const a = tryParseCIDR(v)?.address ?? tryParseAddress(v)?.text
    if (a === undefined || parseCIDR(`${a}/${subnet.prefixLength}`).network !== subnet.network) {
      throw invalidRequest(`network ${nid}: auxiliary address ${name}=${JSON.stringify(v)} is not in ${subnet.cidr}`)
    }
    const text = parseAddress(a).text
    // Docker's IPAM refuses it too (`failed to allocate secondary ip address`): the gateway is taken.
    if (text === gateway) {
      throw invalidRequest(`network ${nid}: auxiliary address ${name}=${text} is the gateway of ${subnet.cidr}`)
    }
    out.push(text)
  }
  return out
}

/** One pool as the network's IPAM data: its subnet and gateway. */
function subnetOf(nid: string, d: IpamData, family: 4 | 6): CnmIpamData {
  const { subnet, gateway } = pool(nid, d, family)
  if (family === 4 && gateway === undefined) throw invalidRequest(`network ${nid}: pool ${subnet.cidr} has no gateway`)
  return {
    subnet: parseCIDR(subnet.cidr),
    ...(gateway === undefined ? {} : { gateway: parseAddress(gateway) }),
    auxAddresses: new Map(),
  }
}

/**
 * Parses a `CreateNetwork` request into the bridge driver's options and the network's subnets
 * (every IPv4 pool with its gateway, the IPv6 pools; several per family with repeated `--subnet`),
 * `-o` options, `--internal`, `--ipv6`, before anything changes; anything cnm cannot honour is
 * refused, naming the network and the option.
 */
export function parseCreateNetwork(req: CreateNetworkRequest): DockerNetworkConfig {
  const nid = req.NetworkID
  const options = req.Options ?? {}
  // Docker's bridge name (`br-` + the network id's start), which cnm creates itself.
  const bridge: Record<string, unknown> = { bridgeName: defaultBridgeName(nid), allowNonDefaultBridge: true }
  for (const key of Object.keys(options)) {
    if (!TOP_LEVEL.has(key)) throw invalidRequest(`network ${nid}: option ${key} is not supported by cnm`)
  }
  const { hostBinding: hostBindingIPv4, ifacePrefix } = generic(nid, options[GENERIC], bridge)
  const internal = options['com.docker.network.internal']
  if (internal !== undefined && bool(nid, 'com.docker.network.internal', internal)) bridge.internal = true
  const aux: Record<string, string[]> = {}
  const ipam = { v4: [] as CnmIpamData[], v6: [] as CnmIpamData[] }
  for (const [family, list] of [
    [4, req.IPv4Data ?? []],
    [6, req.IPv6Data ?? []],
  ] as const) {
    for (const d of list) {
      const data = subnetOf(nid, d, family)
      const a = auxOf(nid, d, data.subnet, data.gateway?.text)
      if (a.length > 0) aux[data.subnet.cidr] = a
      ;(family === 4 ? ipam.v4 : ipam.v6).push(data)
    }
  }
  const ipv6 = options['com.docker.network.enable_ipv6']
  if ((ipv6 !== undefined && bool(nid, 'com.docker.network.enable_ipv6', ipv6)) || ipam.v6.length > 0) {
    if (ipam.v6.length === 0) throw invalidRequest(`network ${nid}: IPv6 needs an IPv6 pool`)
    bridge.enableIPv6 = true
  }
  try {
    checkIpam(ipam) // two pools of one network overlapping
  } catch (err) {
    throw invalidRequest(`network ${nid}: ${(err as Error).message}`)
  }
  return { bridge, ipam, hostBindingIPv4, aux, ifacePrefix }
}
