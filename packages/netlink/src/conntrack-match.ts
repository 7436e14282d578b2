import { containsAddress, formatAddress, type IPPrefix, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import type { ConntrackEntry } from './conntrack-codec.js'
import { IPPROTO } from './conntrack-codec.js'
import { NetlinkError } from './errors.js'
import { ERR_INVALID_ADDRESS } from './ip-codec.js'

/** A conntrack match that names nothing to select by, or a bad port, protocol or family. */
export const ERR_INVALID_CONNTRACK_MATCH = 'ERR_INVALID_CONNTRACK_MATCH'

/**
 * Which conntrack entries to select: every field given must hold (an entry matches a list of
 * matches when it matches any of them). At least one of `port`, `destination`, `replyPort`,
 * `replyDestination` or `address` is required, so a match never selects the whole table.
 */
export interface ConntrackMatch {
  /** Only entries of this family. */
  family?: 4 | 6
  /** Only entries of this protocol. */
  proto?: 'tcp' | 'udp' | 'sctp'
  /** The original destination port (a host port: before DNAT), or the first of a range. */
  port?: number
  /** The last port of the range (default: `port`). */
  endPort?: number
  /**
   * The original destination (a host address: before DNAT), as addresses or prefixes
   * (`127.0.0.0/8`); any of them. An empty list matches nothing.
   */
  destination?: string | readonly string[]
  /**
   * The reply direction's destination port, or the first of a range: for a source-NATed flow
   * (masquerade), the port its source was translated to — the host port a peer's answers come to.
   */
  replyPort?: number
  /** The last port of the reply range (default: `replyPort`). */
  replyEndPort?: number
  /**
   * The reply direction's destination (for a source-NATed flow, the host address its source was
   * translated to), as addresses or prefixes; any of them. An empty list matches nothing.
   */
  replyDestination?: string | readonly string[]
  /**
   * `true`: only source-NATed entries (masquerade, SNAT: the reply goes to another address or port
   * than the original came from); `false`: only the others.
   */
  snat?: boolean
  /**
   * Flows to or from this address, before or after NAT: the original source or destination, or
   * the reply's source — where a DNAT-ed flow really goes (a container behind a published port).
   * A prefix (`10.1.0.0/24`) selects flows to or from any address in it but those of `except`.
   */
  address?: string
  /**
   * With a prefix `address`: addresses whose flows are not selected by being theirs (the ones still
   * in use). A flow is selected when one of its three addresses is in the prefix and not here.
   */
  except?: readonly string[]
}

/** A match, checked and compiled: a predicate on entries. */
export type EntryPredicate = (e: ConntrackEntry) => boolean

function invalid(message: string): NetlinkError {
  return new NetlinkError(ERR_INVALID_CONNTRACK_MATCH, message)
}

function portOf(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
    throw invalid(`conntrack match: ${what} ${JSON.stringify(v)} must be an integer 1–65535`)
  }
  return v
}

/** The canonical text of an address, refused (`ERR_INVALID_ADDRESS`) when it is not one. */
function canonical(text: unknown, what: string): { family: 4 | 6; text: string } {
  const a = tryParseAddress(text)
  if (!a)
    throw new NetlinkError(ERR_INVALID_ADDRESS, `conntrack match: ${what} ${JSON.stringify(text)} is not an IP address`)
  return { family: a.family, text: formatAddress(a.family, a.value) }
}

interface Destinations {
  exact: Set<string>
  prefixes: IPPrefix[]
}

function destinations(raw: string | readonly string[], what: string): Destinations {
  const out: Destinations = { exact: new Set(), prefixes: [] }
  if (typeof raw !== 'string' && !Array.isArray(raw))
    throw invalid(`conntrack match: ${what} ${JSON.stringify(raw)} must be an address or a list of them`)
  for (const d of typeof raw === 'string' ? [raw] : raw) {
    if (typeof d === 'string' && d.includes('/')) {
      const p = tryParseCIDR(d)
      if (!p)
        throw new NetlinkError(ERR_INVALID_ADDRESS, `conntrack match: ${what} ${JSON.stringify(d)} is not a prefix`)
      out.prefixes.push(p)
    } else {
      out.exact.add(canonical(d, what).text)
    }
  }
  return out
}

function inDestinations(d: Destinations, ip: string): boolean {
  if (d.exact.has(ip)) return true
  return d.prefixes.length > 0 && d.prefixes.some((p) => containsAddress(p, ip))
}

/** An `address` match compiled: its family, and whether an (canonical) address is one it selects. */
interface AddressMatch {
  family: 4 | 6
  has: (ip: string) => boolean
}

function addressOf(raw: unknown, except: unknown): AddressMatch {
  if (typeof raw === 'string' && raw.includes('/')) {
    const p = tryParseCIDR(raw)
    if (!p)
      throw new NetlinkError(ERR_INVALID_ADDRESS, `conntrack match: address ${JSON.stringify(raw)} is not a prefix`)
    // A match never selects every entry: a /0 would be all of a family's flows, the host's own too.
    if (p.prefixLength === 0) throw invalid(`conntrack match: address ${JSON.stringify(raw)} selects every address`)
    if (except !== undefined && !Array.isArray(except))
      throw invalid(`conntrack match: except ${JSON.stringify(except)} must be a list of addresses`)
    const kept = new Set((except ?? []).map((a: unknown) => canonical(a, 'except').text))
    return { family: p.family, has: (ip) => !kept.has(ip) && containsAddress(p, ip) }
  }
  if (except !== undefined) throw invalid('conntrack match: except goes with a prefix address')
  const a = canonical(raw, 'address')
  return { family: a.family, has: (ip) => ip === a.text }
}

/** A port range of a match, both ends included. */
interface PortRange {
  first: number
  last: number
}

/** A match's port range from its first and last port (named `names` in errors); undefined without a first. */
function rangeOf(first: unknown, last: unknown, names: [string, string]): PortRange | undefined {
  if (last !== undefined && first === undefined) throw invalid(`conntrack match: ${names[1]} without ${names[0]}`)
  if (first === undefined) return undefined
  const range = { first: portOf(first, names[0]), last: portOf(last ?? first, names[1]) }
  if (range.last < range.first) throw invalid(`conntrack match: port range ${range.first}-${range.last} is reversed`)
  return range
}

const inRange = (r: PortRange, port: number | undefined): boolean =>
  port !== undefined && port >= r.first && port <= r.last

/**
 * Whether an entry's source was translated (masquerade, SNAT): its reply goes to another address or
 * port than the original came from. What a match's `snat` tests, and the conntrack watch records.
 */
export const sourceNated = (e: ConntrackEntry): boolean =>
  e.reply.dst !== e.original.src || e.reply.dstPort !== e.original.srcPort

/**
 * Checks a match and compiles it; bad input is refused (`ERR_INVALID_CONNTRACK_MATCH`,
 * `ERR_INVALID_ADDRESS`, kind `invalid`) before anything is asked of the kernel.
 */
export function compileMatch(m: ConntrackMatch): EntryPredicate {
  if (m === null || typeof m !== 'object') throw invalid(`conntrack match ${JSON.stringify(m)} is not an object`)
  const selectors = [m.port, m.destination, m.replyPort, m.replyDestination, m.address]
  if (selectors.every((s) => s === undefined)) {
    throw invalid(
      'conntrack match: give a port, a destination, a reply port, a reply destination or an address (a match never selects every entry)',
    )
  }
  if (m.family !== undefined && m.family !== 4 && m.family !== 6) {
    throw invalid(`conntrack match: family ${JSON.stringify(m.family)} must be 4 or 6`)
  }
  if (m.proto !== undefined && !['tcp', 'udp', 'sctp'].includes(m.proto)) {
    throw invalid(`conntrack match: protocol ${JSON.stringify(m.proto)} must be tcp, udp or sctp`)
  }
  if (m.snat !== undefined && typeof m.snat !== 'boolean') {
    throw invalid(`conntrack match: snat ${JSON.stringify(m.snat)} must be true or false`)
  }
  const ports = rangeOf(m.port, m.endPort, ['port', 'endPort'])
  const replyPorts = rangeOf(m.replyPort, m.replyEndPort, ['replyPort', 'replyEndPort'])
  const proto = m.proto === undefined ? undefined : IPPROTO[m.proto]
  const dst = m.destination === undefined ? undefined : destinations(m.destination, 'destination')
  const replyDst = m.replyDestination === undefined ? undefined : destinations(m.replyDestination, 'replyDestination')
  const address = m.address === undefined ? undefined : addressOf(m.address, m.except)
  if (address && m.family !== undefined && address.family !== m.family) {
    throw invalid(`conntrack match: address ${JSON.stringify(m.address)} is not IPv${m.family}`)
  }
  const family = m.family ?? address?.family
  const snat = m.snat
  return (e) => {
    if (family !== undefined && e.family !== family) return false
    const o = e.original
    if (proto !== undefined && o.proto !== proto) return false
    if (ports && !inRange(ports, o.dstPort)) return false
    if (dst && !inDestinations(dst, o.dst)) return false
    if (replyPorts && !inRange(replyPorts, e.reply.dstPort)) return false
    if (replyDst && !inDestinations(replyDst, e.reply.dst)) return false
    if (snat !== undefined && sourceNated(e) !== snat) return false
    if (address && !address.has(o.src) && !address.has(o.dst) && !address.has(e.reply.src)) return false
    return true
  }
}

/** Compiles one match or a list of them: an entry is selected when any matches. */
export function compileMatches(matches: ConntrackMatch | readonly ConntrackMatch[]): EntryPredicate {
  const list = (Array.isArray(matches) ? matches : [matches]) as readonly ConntrackMatch[]
  const predicates = list.map(compileMatch)
  return (e) => predicates.some((p) => p(e))
}
