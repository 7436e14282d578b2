import { type IPPrefix, tryParseAddress, tryParseCIDR } from '@cnm/ip'
import { invalidConfig } from './errors.js'
import { NameTable } from './name-table.js'
import { normalizeName } from './names.js'

/** What `createDnsServer` takes. */
export interface DnsServerOptions {
  /** Where it listens: the network's gateway addresses (one UDP socket and one TCP listener each). */
  readonly addresses: readonly string[]
  /** Port, UDP and TCP (default 53; `0` picks a free one, the same for every address). */
  readonly port?: number
  /** The names it answers (default: a new, empty table; the owner updates it). */
  readonly names?: NameTable
  /** The network's search domain: `web.<domain>` answers as `web`, and the zone is never forwarded. */
  readonly domain?: string
  /**
   * The network's subnets: reverse look-ups inside them are answered here (NXDOMAIN when unknown),
   * and only clients inside them (and not the server's own addresses) are answered at all, unless
   * `anyClient`. Other sources (spoofed, a host process, a routed outsider) are dropped and counted
   * in `stats().foreign`.
   */
  readonly subnets?: readonly string[]
  /** Answer every source, not only the subnets' (default false; tests on loopback). */
  readonly anyClient?: boolean
  /** The resolv.conf whose name servers get forwarded queries, followed when it changes (default `/etc/resolv.conf`). */
  readonly resolvConf?: string
  /** Fixed upstreams instead of a resolv.conf: `addr`, `addr:port`, `[v6]:port`. `[]`: none (SERVFAIL). */
  readonly upstreams?: readonly string[]
  /** Forward what is not the network's (default true); false: REFUSED (an internal network). */
  readonly forward?: boolean
  /** TTL of the answers from the table, in seconds (default 60). */
  readonly ttl?: number
  /** Time allowed to the upstreams before the client gets SERVFAIL (default 1500 ms; at most 10 s). */
  readonly forwardTimeoutMs?: number
  /** Forwarded queries in flight at most; beyond, SERVFAIL at once (default 1024). */
  readonly maxForwards?: number
  /** TCP connections at once at most; beyond, the longest idle one is closed for the new one (default 256). */
  readonly maxTcpConnections?: number
  /** TCP connections of one client address at once at most; beyond, its longest idle one is closed (default 16). */
  readonly maxTcpPerClient?: number
  /** A TCP connection with no complete message for this long is closed (default 10 s). */
  readonly tcpIdleMs?: number
  /** A TCP message must be complete this long after its first byte, or the connection is closed (default 3 s). */
  readonly tcpFrameMs?: number
}

/** The options, validated once. */
export interface ServerConfig {
  readonly addresses: readonly { readonly address: string; readonly family: 4 | 6 }[]
  readonly port: number
  readonly names: NameTable
  readonly domain: string | undefined
  readonly subnets: readonly IPPrefix[]
  readonly anyClient: boolean
  readonly resolvConf: string | undefined
  readonly upstreams: readonly string[] | undefined
  readonly forward: boolean
  readonly ttl: number
  readonly forwardTimeoutMs: number
  readonly maxForwards: number
  readonly maxTcpConnections: number
  readonly maxTcpPerClient: number
  readonly tcpIdleMs: number
  readonly tcpFrameMs: number
}

/** Subnets of one family at most (the native loop's client rules). */
const MAX_SUBNETS = 32

function intIn(value: unknown, fallback: number, min: number, max: number, what: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidConfig(`DNS server ${what} ${JSON.stringify(value)}: an integer from ${min} to ${max}`)
  }
  return value
}

/** Validates everything before any socket is opened; throws `ERR_INVALID_DNS_CONFIG`/`ERR_INVALID_DNS_NAME`. */
export function parseServerOptions(options: DnsServerOptions): ServerConfig {
  if (typeof options !== 'object' || options === null) throw invalidConfig('DNS server options must be an object')
  if (!Array.isArray(options.addresses) || options.addresses.length === 0) {
    throw invalidConfig('a DNS server needs at least one address to listen on (the network gateway)')
  }
  const addresses = options.addresses.map((text) => {
    const a = tryParseAddress(text)
    if (!a) throw invalidConfig(`DNS server address ${JSON.stringify(text)} is not an IP address`)
    return { address: a.text, family: a.family }
  })
  if (new Set(addresses.map((a) => a.address)).size !== addresses.length) {
    throw invalidConfig(`DNS server addresses ${addresses.map((a) => a.address).join(', ')}: one appears twice`)
  }
  const subnets = (options.subnets ?? []).map((text) => {
    const p = tryParseCIDR(text)
    if (!p) throw invalidConfig(`DNS server subnet ${JSON.stringify(text)} is not a CIDR`)
    return p
  })
  for (const family of [4, 6]) {
    if (subnets.filter((p) => p.family === family).length > MAX_SUBNETS) {
      throw invalidConfig(`DNS server subnets: more than ${MAX_SUBNETS} of IPv${family}`)
    }
  }
  if (options.anyClient !== undefined && typeof options.anyClient !== 'boolean') {
    throw invalidConfig('DNS server `anyClient` must be a boolean')
  }
  if (options.names !== undefined && !(options.names instanceof NameTable)) {
    throw invalidConfig('DNS server `names` must be a NameTable of this package')
  }
  if (options.upstreams !== undefined && !Array.isArray(options.upstreams)) {
    throw invalidConfig('DNS server `upstreams` must be an array of addresses')
  }
  return {
    addresses,
    port: intIn(options.port, 53, 0, 65535, 'port'),
    names: options.names ?? new NameTable(),
    domain: options.domain === undefined ? undefined : normalizeName(options.domain, 'domain'),
    subnets,
    anyClient: options.anyClient ?? false,
    resolvConf: options.resolvConf,
    upstreams: options.upstreams,
    forward: options.forward ?? true,
    ttl: intIn(options.ttl, 60, 0, 2_147_483_647, 'ttl'),
    forwardTimeoutMs: intIn(options.forwardTimeoutMs, 1500, 100, 10_000, 'forwardTimeoutMs'),
    maxForwards: intIn(options.maxForwards, 1024, 1, 65_536, 'maxForwards'),
    maxTcpConnections: intIn(options.maxTcpConnections, 256, 1, 65_536, 'maxTcpConnections'),
    maxTcpPerClient: intIn(options.maxTcpPerClient, 16, 1, 65_536, 'maxTcpPerClient'),
    tcpIdleMs: intIn(options.tcpIdleMs, 10_000, 100, 600_000, 'tcpIdleMs'),
    tcpFrameMs: intIn(options.tcpFrameMs, 3_000, 100, 60_000, 'tcpFrameMs'),
  }
}
