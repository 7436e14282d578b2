import {
  addressFromValue,
  containsAddress,
  type IPAddress,
  type IPFamily,
  type IPPrefix,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import { invalidArgument } from './errors.js'

/** What `cnm network create` (and `POST /v1/networks`) accept, before mapping. */
export interface NetworkFlags {
  /** Subnets, at most one per family (Docker's `--subnet`). */
  subnet?: string[]
  /** Gateways, at most one per family; each needs a subnet of its family. */
  gateway?: string[]
  /** The ranges addresses are handed out from, one per family (`fixedCIDR`, `ipRangeV6`). */
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

function byFamily<T extends { family: IPFamily }>(items: T[], what: string, texts: string[]): Map<IPFamily, T> {
  const out = new Map<IPFamily, T>()
  items.forEach((item, i) => {
    if (out.has(item.family)) throw invalidArgument(`only one IPv${item.family} ${what} is allowed (${texts[i]})`)
    out.set(item.family, item)
  })
  return out
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

/** The bridge's address options from `--subnet` and `--gateway` (Docker's meaning). */
function addressOptions(subnets: string[], gateways: string[], ipv6: boolean): Record<string, unknown> {
  const nets = byFamily(
    subnets.map((s) => cidrArg(s, '--subnet')),
    '--subnet',
    subnets,
  )
  const gws = byFamily(
    gateways.map((g): { family: IPFamily; ip: IPAddress; written: string } => {
      const ip = tryParseAddress(g)
      if (!ip) throw invalidArgument(`--gateway ${JSON.stringify(g)} is not an IP address`)
      return { family: ip.family, ip, written: g }
    }),
    '--gateway',
    gateways,
  )
  const out: Record<string, unknown> = {}
  for (const [family, gw] of gws) {
    if (!nets.has(family)) throw invalidArgument(`--gateway ${gw.written} needs an IPv${family} --subnet`)
  }
  for (const [family, net] of nets) {
    const text = `${net.address}/${net.prefixLength}`
    checkSubnet(net, text)
    const first = addressFromValue(family, net.networkValue + 1n)
    const gw = gws.get(family)?.ip ?? first
    if (!containsAddress(net, gw) || gw.value === net.networkValue || (family === 4 && gw.value === net.lastValue)) {
      throw invalidArgument(`--gateway ${gw.text} is not a host address of --subnet ${text}`)
    }
    if (family === 4) {
      out.addressIPv4 = `${gw.text}/${net.prefixLength}`
    } else {
      if (!ipv6) throw invalidArgument(`an IPv6 --subnet (${text}) needs --ipv6`)
      if (gw.value !== first.value) {
        throw invalidArgument(
          `--gateway ${gw.text}: the bridge's IPv6 gateway is always the subnet's first address, ${first.text}`,
        )
      }
      out.fixedCIDRv6 = text
    }
  }
  return out
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

/** Maps the flags to the bridge driver's network options; everything is checked here first. */
export function networkOptions(flags: NetworkFlags): Record<string, unknown> {
  const out: Record<string, unknown> = addressOptions(flags.subnet ?? [], flags.gateway ?? [], flags.ipv6 === true)
  const setBy = new Map<string, string>(Object.keys(out).map((k) => [k, '--subnet']))
  const set = (key: string, value: unknown, by: string): void => {
    const before = setBy.get(key)
    if (before) throw invalidArgument(`${by} sets ${key}, which ${before} already sets`)
    setBy.set(key, by)
    out[key] = value
  }
  for (const text of typeof flags.ipRange === 'string' ? [flags.ipRange] : (flags.ipRange ?? [])) {
    const r = cidrArg(text, '--ip-range')
    if (r.family === 6 && !flags.ipv6) throw invalidArgument(`an IPv6 --ip-range (${text}) needs --ipv6`)
    set(r.family === 4 ? 'fixedCIDR' : 'ipRangeV6', text, '--ip-range')
  }
  if (flags.ipv6) set('enableIPv6', true, '--ipv6')
  if (flags.ipv4 !== undefined && !parseBool(flags.ipv4, '--ipv4')) {
    if (!flags.ipv6) throw invalidArgument('--ipv4=false needs --ipv6: a network needs IPv4 or IPv6')
    if (out.addressIPv4 !== undefined) throw invalidArgument('an IPv4 --subnet with --ipv4=false')
    set('enableIPv4', false, '--ipv4')
  }
  if (flags.internal) set('internal', true, '--internal')
  if (flags.icc !== undefined) set('enableICC', parseBool(flags.icc, '--icc'), '--icc')
  if (flags.mtu !== undefined) set('mtu', parseInteger(flags.mtu, '--mtu', 68, 65535), '--mtu')
  if (flags.auxAddress?.length) set('auxAddresses', parseAuxAddressFlags(flags.auxAddress), '--aux-address')
  for (const text of flags.opt ?? []) {
    const [key, value] = parseOpt(text)
    set(key, value, `-o ${key}`)
  }
  for (const [key, value] of Object.entries(flags.options ?? {})) set(key, value, `option ${key}`)
  return out
}
