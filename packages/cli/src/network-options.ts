import {
  CnmError,
  checkIpam,
  type IpamData,
  ipamFromOptions,
  isEmptyIpam,
  isHostOf,
  type NetworkIpam,
} from '@cnm/driverapi'
import { type IPAddress, type IPPrefix, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import { invalidArgument } from './errors.js'

/** What `cnm network create` (and `POST /v1/networks`) accept, before mapping. */
export interface NetworkFlags {
  /** Subnets, several per family (Docker's `--subnet`). */
  subnet?: string[]
  /** Gateways: each pairs with the subnet that holds it (at most one per subnet). */
  gateway?: string[]
  /** The ranges addresses are handed out from: each pairs with the subnet that holds it. */
  ipRange?: string | string[]
  ipv6?: boolean
  /** `--ipv4=false`: an IPv6-only network (needs --ipv6). */
  ipv4?: boolean | string
  internal?: boolean
  /** Inter-container communication (`--icc=false` turns it off). */
  icc?: boolean | string
  mtu?: number | string
  /** Docker's `--aux-address name=ip` (repeatable): reserved in the subnet, never handed out. */
  auxAddress?: string[]
  /** Any other bridge network option, `key=value` (values `true`/`false` and numbers are typed). */
  opt?: string[]
  /** Bridge network options given already typed (the REST API's `options`). */
  options?: Record<string, unknown>
}

/** Parses `true`/`false` (what `--icc=false` gives). */
export function parseBool(text: boolean | string, what: string): boolean {
  if (typeof text === 'boolean') return text
  if (text === 'true') return true
  if (text === 'false') return false
  throw invalidArgument(`${what} ${JSON.stringify(text)} must be true or false`)
}

/** Parses an integer in `[min, max]`. */
export function parseInteger(text: number | string, what: string, min: number, max: number): number {
  const n = typeof text === 'number' ? text : /^-?\d+$/u.test(text) ? Number(text) : Number.NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalidArgument(`${what} ${JSON.stringify(text)} must be an integer from ${min} to ${max}`)
  }
  return n
}

function cidrArg(text: string, what: string): IPPrefix {
  const c = tryParseCIDR(text)
  if (!c) throw invalidArgument(`${what} ${JSON.stringify(text)} is not a CIDR (such as 172.20.0.0/16)`)
  return c
}

function checkSubnet(s: IPPrefix, text: string): void {
  if (s.addressValue !== s.networkValue) {
    throw invalidArgument(`invalid --subnet ${text}: it should be ${s.cidr} (host bits are set)`)
  }
  if (s.family === 4 && s.prefixLength > 30) throw invalidArgument(`--subnet ${text} is too small: use a /30 or larger`)
  if (s.family === 6 && s.prefixLength > 126) {
    throw invalidArgument(`--subnet ${text} is too small: use a /126 or larger`)
  }
}

/** A subnet with what pairs with it, while the flags are read. */
interface SubnetEntry {
  subnet: IPPrefix
  text: string
  gateway?: IPAddress
  ipRange?: IPPrefix
  aux: Map<string, IPAddress>
}

/**
 * `--subnet`, `--gateway`, `--ip-range` and `--aux-address` as IPAM data (Docker's pairing: each
 * gateway, range and aux address goes with the subnet that holds it, at most one gateway and one
 * range per subnet). Parsed here once: the values go to the controller and the driver as they are.
 */
function ipamOf(flags: NetworkFlags): NetworkIpam {
  const entries: SubnetEntry[] = (flags.subnet ?? []).map((text) => {
    const subnet = cidrArg(text, '--subnet')
    checkSubnet(subnet, text)
    if (subnet.family === 6 && !flags.ipv6) throw invalidArgument(`an IPv6 --subnet (${text}) needs --ipv6`)
    return { subnet, text, aux: new Map() }
  })
  for (const g of flags.gateway ?? []) {
    const ip = tryParseAddress(g)
    if (!ip) throw invalidArgument(`--gateway ${JSON.stringify(g)} is not an IP address`)
    if (!entries.some((e) => e.subnet.family === ip.family)) {
      throw invalidArgument(`--gateway ${g} needs an IPv${ip.family} --subnet`)
    }
    const e = entries.find((x) => x.subnet.family === ip.family && isHostOf(x.subnet, ip))
    if (!e)
      throw invalidArgument(`--gateway ${ip.text} is not a host address of any --subnet (${subnetsText(entries)})`)
    if (e.gateway)
      throw invalidArgument(`--gateway ${e.gateway.text} and ${ip.text}: one gateway per subnet (${e.text})`)
    e.gateway = ip
  }
  for (const text of typeof flags.ipRange === 'string' ? [flags.ipRange] : (flags.ipRange ?? [])) {
    const r = cidrArg(text, '--ip-range')
    if (r.family === 6 && !flags.ipv6) throw invalidArgument(`an IPv6 --ip-range (${text}) needs --ipv6`)
    const e = entries.find(
      (x) =>
        x.subnet.family === r.family && x.subnet.networkValue <= r.networkValue && r.lastValue <= x.subnet.lastValue,
    )
    if (!e)
      throw invalidArgument(
        `--ip-range ${text}: no matching --subnet holds it (${subnetsText(entries) || 'none given'})`,
      )
    if (e.ipRange) throw invalidArgument(`--ip-range ${e.ipRange.cidr} and ${r.cidr}: one range per subnet (${e.text})`)
    e.ipRange = r
  }
  for (const [name, text] of Object.entries(parseAuxAddressFlags(flags.auxAddress ?? []))) {
    const ip = tryParseAddress(text) as IPAddress
    const e = entries.find(
      (x) => x.subnet.family === ip.family && x.subnet.networkValue <= ip.value && ip.value <= x.subnet.lastValue,
    )
    if (!e)
      throw invalidArgument(
        `--aux-address ${name}=${ip.text}: no matching --subnet holds it (${subnetsText(entries) || 'none given'})`,
      )
    e.aux.set(name, ip)
  }
  const data = (e: SubnetEntry): IpamData => ({
    subnet: e.subnet,
    ...(e.gateway ? { gateway: e.gateway } : {}),
    ...(e.ipRange ? { ipRange: e.ipRange } : {}),
    auxAddresses: e.aux,
  })
  try {
    return checkIpam({
      v4: entries.filter((e) => e.subnet.family === 4).map(data),
      v6: entries.filter((e) => e.subnet.family === 6).map(data),
    })
  } catch (err) {
    // The same check the driver contract makes (overlapping subnets, an aux address on a gateway), as a flag error.
    throw err instanceof CnmError ? invalidArgument(err.message.replace(/^subnets /u, '--subnet ')) : err
  }
}

function subnetsText(entries: readonly SubnetEntry[]): string {
  return entries.map((e) => e.text).join(', ')
}

/**
 * `key=value` with `true`, `false` and numbers typed; Docker's dotted keys
 * (`com.docker.network.bridge.name=mybr1`) keep their value as text, as dockerd passes it (the
 * bridge driver maps and converts them).
 */
export function parseOpt(text: string): [string, unknown] {
  const eq = text.indexOf('=')
  if (eq < 0) throw invalidArgument(`-o ${JSON.stringify(text)} must be key=value`)
  const key = text.slice(0, eq)
  const raw = text.slice(eq + 1)
  if (!/^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*$/u.test(key)) {
    throw invalidArgument(
      `-o ${JSON.stringify(text)}: option name ${JSON.stringify(key)} must be letters, digits and _ (dot-separated, as com.docker.network.bridge.name)`,
    )
  }
  if (key.includes('.')) return [key, raw]
  const value = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/u.test(raw) ? Number(raw) : raw
  return [key, value]
}

/** `--aux-address name=ip` flags as the bridge's `auxAddresses` (each name once, each an IP address). */
export function parseAuxAddressFlags(texts: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const text of texts) {
    const eq = text.indexOf('=')
    const name = text.slice(0, eq)
    const ip = tryParseAddress(text.slice(eq + 1))
    if (eq < 1 || !ip) throw invalidArgument(`--aux-address ${JSON.stringify(text)} must be name=IP (router=10.1.0.2)`)
    if (Object.hasOwn(out, name)) throw invalidArgument(`--aux-address ${name} is given twice`)
    out[name] = ip.text
  }
  return out
}

/** What `network create` hands the controller: the driver's options and the IPAM data, as values. */
export interface NetworkSpec {
  options: Record<string, unknown>
  ipam: NetworkIpam
}

/**
 * Maps the flags (or the REST body) to the driver's options and the network's IPAM data; everything
 * is checked here first. The old option keys (`-o addressIPv4=…`, `fixedCIDRv6`, …) are still taken
 * and converted here, once, into IPAM data (not beside `--subnet`).
 */
export function networkSpec(flags: NetworkFlags): NetworkSpec {
  const fromFlags = ipamOf(flags)
  const out: Record<string, unknown> = {}
  const setBy = new Map<string, string>()
  const set = (key: string, value: unknown, by: string): void => {
    const before = setBy.get(key)
    if (before) throw invalidArgument(`${by} sets ${key}, which ${before} already sets`)
    setBy.set(key, by)
    out[key] = value
  }
  if (flags.ipv6) set('enableIPv6', true, '--ipv6')
  if (flags.ipv4 !== undefined && !parseBool(flags.ipv4, '--ipv4')) {
    if (!flags.ipv6) throw invalidArgument('--ipv4=false needs --ipv6: a network needs IPv4 or IPv6')
    if (fromFlags.v4.length > 0) throw invalidArgument('an IPv4 --subnet with --ipv4=false')
    set('enableIPv4', false, '--ipv4')
  }
  if (flags.internal) set('internal', true, '--internal')
  if (flags.icc !== undefined) set('enableICC', parseBool(flags.icc, '--icc'), '--icc')
  if (flags.mtu !== undefined) set('mtu', parseInteger(flags.mtu, '--mtu', 68, 65535), '--mtu')
  for (const text of flags.opt ?? []) {
    const [key, value] = parseOpt(text)
    set(key, value, `-o ${key}`)
  }
  for (const [key, value] of Object.entries(flags.options ?? {})) set(key, value, `option ${key}`)
  let legacy: NetworkSpec
  try {
    legacy = ipamFromOptions(out)
  } catch (err) {
    throw err instanceof CnmError ? invalidArgument(err.message) : err
  }
  if (isEmptyIpam(legacy.ipam)) return { options: out, ipam: fromFlags }
  if (!isEmptyIpam(fromFlags)) {
    const key = Object.keys(out).find((k) => !(k in legacy.options)) ?? 'addressIPv4'
    throw invalidArgument(`${setBy.get(key) ?? key} sets the subnet, which --subnet already sets`)
  }
  if (legacy.options.enableIPv4 === false && legacy.ipam.v4.length > 0) {
    throw invalidArgument('an IPv4 subnet with --ipv4=false')
  }
  return legacy
}
