import type { PortBinding } from '@cnm/driverapi'
import { ipv4ToNumber, numberToIPv4, tryParseAddress, tryParseCIDR, unmapped } from '@cnm/ip'
import { CNI_ERROR, CniError, ERR_CNI_CONFIG, ERR_CNI_DECODE, ERR_CNI_VERSION } from './errors.js'

/** The CNI versions this plugin speaks (the results of 0.3.x/0.4.0 carry each IP's `version`). */
export const SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const
/**
 * The newest CNI version this plugin speaks (`1.1.0`): what VERSION reports first and the
 * `cniVersion` of an error answered before the configuration's own version could be read.
 */
export const CURRENT_VERSION = '1.1.0'

/** One attachment a GC must keep (`cni.dev/valid-attachments`). */
export interface ValidAttachment {
  containerId: string
  ifname: string
}

/** A network configuration of `"type": "cnm"`, validated. */
export interface CnmNetConf {
  cniVersion: string
  /** The configuration's (list's) name. */
  name: string
  /** The cnm network the attachments go on (default: `name`). */
  network: string
  /** The driver that creates the network when it is missing (default `bridge`). */
  driver: string
  /** The driver's network options, used only to create a missing network. */
  options: Record<string, unknown>
  /** `runtimeConfig.portMappings`, as cnm port bindings. */
  portBindings: PortBinding[]
  /** `runtimeConfig.ips` (plain addresses, by family). */
  ipv4: string | undefined
  ipv6: string | undefined
  /** `runtimeConfig.mac`. */
  mac: string | undefined
  /** DNS settings given in the configuration: passed on in the result. */
  dns: Record<string, unknown> | undefined
  /** The previous plugin's result (chaining; the cached result on DEL and CHECK). */
  prevResult: Record<string, unknown> | undefined
  /** GC: the attachments to keep; undefined when the key is absent. */
  validAttachments: ValidAttachment[] | undefined
  /** The raw configuration (what a chained plugin would receive). */
  raw: Record<string, unknown>
}

const configError = (message: string, cniCode: number = CNI_ERROR.INVALID_NETWORK_CONFIG): CniError =>
  new CniError(ERR_CNI_CONFIG, 'invalid', cniCode, message)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u

/** Parses the configuration text a runtime gives on stdin. */
export function decodeNetConf(text: string): Record<string, unknown> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (cause) {
    throw new CniError(
      ERR_CNI_DECODE,
      'invalid',
      CNI_ERROR.DECODE_FAILURE,
      `the network configuration on stdin is not JSON: ${(cause as Error).message}`,
      { cause },
    )
  }
  if (!isObject(parsed))
    throw new CniError(
      ERR_CNI_DECODE,
      'invalid',
      CNI_ERROR.DECODE_FAILURE,
      'the network configuration must be a JSON object',
    )
  return parsed
}

/** The configuration's `cniVersion`, checked against {@link SUPPORTED_VERSIONS}. */
export function netConfVersion(raw: Record<string, unknown>): string {
  const v = raw.cniVersion
  if (typeof v !== 'string' || v === '') throw configError('cniVersion is missing')
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(
      ERR_CNI_VERSION,
      'unsupported',
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `cniVersion ${v} is not supported (supported: ${SUPPORTED_VERSIONS.join(', ')})`,
    )
  }
  return v
}

function portBinding(m: unknown, i: number): PortBinding {
  if (!isObject(m)) throw configError(`runtimeConfig.portMappings[${i}] must be an object`)
  const port = (v: unknown, what: string, min: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 65535) {
      throw configError(`runtimeConfig.portMappings[${i}].${what} ${JSON.stringify(v)} must be an integer ${min}–65535`)
    }
    return v
  }
  const proto = (m.protocol ?? 'tcp') as unknown
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') {
    throw configError(`runtimeConfig.portMappings[${i}].protocol ${JSON.stringify(proto)} must be tcp, udp or sctp`)
  }
  const out: PortBinding = {
    proto,
    containerPort: port(m.containerPort, 'containerPort', 1),
    hostPort: port(m.hostPort, 'hostPort', 1),
  }
  if (m.hostIP !== undefined && m.hostIP !== '') {
    const ip = typeof m.hostIP === 'string' ? tryParseAddress(m.hostIP) : undefined
    if (!ip)
      throw configError(`runtimeConfig.portMappings[${i}].hostIP ${JSON.stringify(m.hostIP)} is not an IP address`)
    out.hostIP = unmapped(ip).text
  }
  return out
}

function runtimeIps(v: unknown): { ipv4?: string; ipv6?: string } {
  if (v === undefined) return {}
  if (!Array.isArray(v)) throw configError('runtimeConfig.ips must be an array')
  const out: { ipv4?: string; ipv6?: string } = {}
  for (const item of v) {
    const text = typeof item === 'string' ? (item.split('/')[0] ?? '') : ''
    const ip = tryParseAddress(text)
    if (!ip) throw configError(`runtimeConfig.ips: ${JSON.stringify(item)} is not an IP address`)
    const key = ip.family === 4 ? 'ipv4' : 'ipv6'
    if (out[key]) throw configError(`runtimeConfig.ips: only one IPv${ip.family} address is supported`)
    out[key] = ip.text
  }
  return out
}

function validAttachments(raw: Record<string, unknown>): ValidAttachment[] | undefined {
  const rc = isObject(raw.runtimeConfig) ? raw.runtimeConfig : {}
  const v = raw['cni.dev/valid-attachments'] ?? rc['cni.dev/valid-attachments']
  if (v === undefined) return undefined
  if (!Array.isArray(v)) throw configError('cni.dev/valid-attachments must be an array')
  return v.map((a, i) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw configError(`cni.dev/valid-attachments[${i}] needs containerID and ifname`)
    }
    return { containerId: a.containerID, ifname: a.ifname }
  })
}

/** `subnet` (sugar): the bridge's gateway address, the subnet's first host, unless `options` names one. */
function subnetOptions(subnet: unknown, gateway: unknown): Record<string, unknown> {
  if (subnet === undefined) return {}
  const c = typeof subnet === 'string' ? tryParseCIDR(subnet) : undefined
  if (c?.family !== 4) throw configError(`subnet ${JSON.stringify(subnet)} is not an IPv4 CIDR`)
  let gw: string
  if (gateway !== undefined) {
    const g = typeof gateway === 'string' ? tryParseAddress(gateway) : undefined
    if (g?.family !== 4) throw configError(`gateway ${JSON.stringify(gateway)} is not an IPv4 address`)
    gw = g.text
  } else {
    gw = numberToIPv4(ipv4ToNumber(c.network) + 1)
  }
  return { addressIPv4: `${gw}/${c.prefixLength}` }
}

/** Validates a decoded configuration of `"type": "cnm"` (nothing is changed before this passes). */
export function parseNetConf(raw: Record<string, unknown>): CnmNetConf {
  const cniVersion = netConfVersion(raw)
  if (typeof raw.name !== 'string' || raw.name === '') throw configError('name is missing')
  const network = raw.network ?? raw.name
  if (typeof network !== 'string' || !NAME.test(network)) {
    throw configError(`network ${JSON.stringify(network)} must be letters, digits, "_", "." or "-"`)
  }
  const driver = raw.driver ?? 'bridge'
  if (typeof driver !== 'string' || !NAME.test(driver))
    throw configError(`driver ${JSON.stringify(driver)} is not a driver name`)
  if (raw.options !== undefined && !isObject(raw.options)) throw configError('options must be an object')
  const rc = raw.runtimeConfig ?? {}
  if (!isObject(rc)) throw configError('runtimeConfig must be an object')
  if (rc.portMappings !== undefined && !Array.isArray(rc.portMappings))
    throw configError('runtimeConfig.portMappings must be an array')
  let mac: string | undefined
  if (rc.mac !== undefined) {
    if (typeof rc.mac !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/iu.test(rc.mac)) {
      throw configError(`runtimeConfig.mac ${JSON.stringify(rc.mac)} is not a MAC address`)
    }
    mac = rc.mac.toLowerCase()
  }
  if (raw.prevResult !== undefined && !isObject(raw.prevResult)) throw configError('prevResult must be an object')
  if (raw.dns !== undefined && !isObject(raw.dns)) throw configError('dns must be an object')
  const ips = runtimeIps(rc.ips)
  return {
    cniVersion,
    name: raw.name,
    network,
    driver,
    options: { ...subnetOptions(raw.subnet, raw.gateway), ...((raw.options as Record<string, unknown>) ?? {}) },
    portBindings: ((rc.portMappings as unknown[] | undefined) ?? []).map(portBinding),
    ipv4: ips.ipv4,
    ipv6: ips.ipv6,
    mac,
    dns: raw.dns as Record<string, unknown> | undefined,
    prevResult: raw.prevResult as Record<string, unknown> | undefined,
    validAttachments: validAttachments(raw),
    raw,
  }
}
