import { containsAddress, type IPPrefix } from '@cnm/ip'
import type { NameTable } from './name-table.js'
import { questionKey } from './names.js'
import { addressOfReverseName, isReverseName } from './reverse.js'
import { type Answer, type Question, RCODE } from './wire.js'

/** What the network's own names say about a question; `undefined` from {@link answerLocally} means "forward it". */
export interface LocalAnswer {
  readonly rcode: number
  readonly answers: Answer[]
}

/**
 * What {@link answerLocally} answers from: one network's names, its search domain, its subnets (for
 * reverse lookups) and the TTL of every answer, in seconds (the server's `ttl` option, default 60).
 */
export interface LocalZone {
  readonly names: NameTable
  /** The network's search domain (`cnm.internal`), lower case without a trailing dot, if any. */
  readonly domain: string | undefined
  /** The network's subnets: reverse names of addresses in them are answered here, never forwarded. */
  readonly subnets: readonly IPPrefix[]
  readonly ttl: number
}

const NODATA: LocalAnswer = Object.freeze({ rcode: RCODE.NOERROR, answers: [] })
const NXDOMAIN: LocalAnswer = Object.freeze({ rcode: RCODE.NXDOMAIN, answers: [] })
const ADDRESS_TYPES = new Set(['A', 'AAAA', 'ANY'])

/**
 * Answers a question from the network's names (as `client`, the querying address, sees them:
 * see `DnsEntry.clients`), or returns undefined when it is not ours (then the server forwards
 * it). The rules, in order:
 *
 * 1. A reverse name (`*.in-addr.arpa`, `*.ip6.arpa`) of an address in the table: PTR answers each
 *    name holding that address (qualified with the domain when there is one); other types: no data.
 *    Of an address in the network's subnets but not in the table: NXDOMAIN. Anything else: forward.
 * 2. A name in the table (any case), as is or followed by `.<domain>`: A/AAAA/ANY answer its
 *    addresses, every other type is no data (NOERROR, empty).
 * 3. Not in the table, but `<domain>` or below it: NXDOMAIN (our zone: never forwarded).
 * 4. Not in the table, one label (`web`), asking A, AAAA or ANY: NXDOMAIN: a container's short
 *    name is never sent to the host's resolvers, and a name of another network is not found.
 * 5. Everything else: forward.
 */
export function answerLocally(zone: LocalZone, q: Question, client?: string): LocalAnswer | undefined {
  const qclass = q.class ?? 'IN'
  if (qclass !== 'IN' && qclass !== 'ANY') return undefined
  const key = questionKey(q.name)
  if (isReverseName(key)) return reverseAnswer(zone, q, key, client)
  let relative = key
  let inZone = false
  const { domain } = zone
  if (domain !== undefined) {
    if (key === domain) return NODATA
    if (key.endsWith(`.${domain}`)) {
      relative = key.slice(0, -domain.length - 1)
      inZone = true
    }
  }
  const hit = zone.names.lookup(relative, client)
  if (hit) {
    if (!ADDRESS_TYPES.has(q.type)) return NODATA
    const answers: Answer[] = []
    if (q.type !== 'AAAA') for (const data of hit.ipv4) answers.push({ type: 'A', name: q.name, ttl: zone.ttl, data })
    if (q.type !== 'A') for (const data of hit.ipv6) answers.push({ type: 'AAAA', name: q.name, ttl: zone.ttl, data })
    return { rcode: RCODE.NOERROR, answers }
  }
  if (inZone) return NXDOMAIN
  if (relative.length > 0 && !relative.includes('.') && ADDRESS_TYPES.has(q.type)) return NXDOMAIN
  return undefined
}

function reverseAnswer(zone: LocalZone, q: Question, key: string, client: string | undefined): LocalAnswer | undefined {
  const address = addressOfReverseName(key)
  if (!address) return undefined
  const names = zone.names.reverse(address, client)
  if (names.length > 0) {
    if (q.type !== 'PTR' && (q.type as string) !== 'ANY') return NODATA
    const qualify = (n: string): string => (zone.domain === undefined ? n : `${n}.${zone.domain}`)
    return {
      rcode: RCODE.NOERROR,
      answers: names.map((n) => ({ type: 'PTR', name: q.name, ttl: zone.ttl, data: qualify(n) })),
    }
  }
  if (zone.subnets.some((s) => s.family === address.family && containsAddress(s, address))) return NXDOMAIN
  return undefined
}
