import { containsAddress, formatAddress, type IPPrefix, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import type { ConntrackEntry } from './conntrack-codec.js'
import { IPPROTO } from './conntrack-codec.js'
import { NetlinkError } from './errors.js'
import { ERR_INVALID_ADDRESS } from './ip-codec.js'

/** A conntrack match that names nothing to select by, or a bad port, protocol or family. */
export const ERR_INVALID_CONNTRACK_MATCH = 'ERR_INVALID_CONNTRACK_MATCH'

/**
 * Which conntrack entries to select: every field given must hold (an entry matches a list of
 * matches when it matches any of them). At least one of `port`, `destination` or `address` is
 * required, so a match never selects the whole table.
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

function destinations(raw: string | readonly string[]): Destinations {
  const out: Destinations = { exact: new Set(), prefixes: [] }
  for (const d of typeof raw === 'string' ? [raw] : raw) {
    if (typeof d === 'string' && d.includes('/')) {
      const p = tryParseCIDR(d)
      if (!p)
        throw new NetlinkError(ERR_INVALID_ADDRESS, `conntrack match: destination ${JSON.stringify(d)} is not a prefix`)
      out.prefixes.push(p)
    } else {
      out.exact.add(canonical(d, 'destination').text)
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

/**
 * Checks a match and compiles it; bad input is refused (`ERR_INVALID_CONNTRACK_MATCH`,
 * `ERR_INVALID_ADDRESS`, kind `invalid`) before anything is asked of the kernel.
 */
export function compileMatch(m: ConntrackMatch): EntryPredicate {
  if (m === null || typeof m !== 'object') throw invalid(`conntrack match ${JSON.stringify(m)} is not an object`)
  if (m.port === undefined && m.destination === undefined && m.address === undefined) {
    throw invalid('conntrack match: give a port, a destination or an address (a match never selects every entry)')
  }
  if (m.family !== undefined && m.family !== 4 && m.family !== 6) {
    throw invalid(`conntrack match: family ${JSON.stringify(m.family)} must be 4 or 6`)
  }
  if (m.proto !== undefined && !['tcp', 'udp', 'sctp'].includes(m.proto)) {
    throw invalid(`conntrack match: protocol ${JSON.stringify(m.proto)} must be tcp, udp or sctp`)
  }
  if (m.endPort !== undefined && m.port === undefined) throw invalid('conntrack match: endPort without port')
  const port = m.port === undefined ? undefined : portOf(m.port, 'port')
  const endPort = m.endPort === undefined ? port : portOf(m.endPort, 'endPort')
  if (port !== undefined && endPort !== undefined && endPort < port) {
    throw invalid(`conntrack match: port range ${port}-${endPort} is reversed`)
  }
  const proto = m.proto === undefined ? undefined : IPPROTO[m.proto]
  const dst = m.destination === undefined ? undefined : destinations(m.destination)
  const address = m.address === undefined ? undefined : addressOf(m.address, m.except)
  if (address && m.family !== undefined && address.family !== m.family) {
    throw invalid(`conntrack match: address ${JSON.stringify(m.address)} is not IPv${m.family}`)
  }
  const family = m.family ?? address?.family
  return (e) => {
    if (family !== undefined && e.family !== family) return false
    const o = e.original
    if (proto !== undefined && o.proto !== proto) return false
    if (port !== undefined && (o.dstPort === undefined || o.dstPort < port || o.dstPort > (endPort ?? port))) {
      return false
    }
    if (dst && !inDestinations(dst, o.dst)) return false
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
