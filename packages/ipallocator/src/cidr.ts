import { formatAddress, type IPFamily, parseAddress, tryParseAddress } from './address.js'
import { InvalidCIDRError, IPOutOfRangeError } from './errors.js'

/** A CIDR, validated, with its canonical forms and numeric bounds. */
export interface ParsedCIDR {
  readonly family: IPFamily
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefixLength: number
  /** The address as written, canonical, host bits kept (`192.168.0.1` for `192.168.0.1/24`). */
  readonly address: string
  /** The network address (`192.168.0.0`). */
  readonly network: string
  /** The last address of the network: the broadcast address for IPv4 (`192.168.0.255`). */
  readonly last: string
  /** The canonical network in CIDR notation (`192.168.0.0/24`): the key pools are stored under. */
  readonly cidr: string
  readonly addressValue: bigint
  readonly networkValue: bigint
  readonly lastValue: bigint
  /** Number of addresses in the network (2^(bits − prefix)). */
  readonly size: bigint
}

/** An inclusive range of addresses. */
export interface AddressRange {
  readonly first: string
  readonly last: string
}

const PREFIX = /^(0|[1-9][0-9]{0,2})$/

function invalid(text: unknown): InvalidCIDRError {
  return new InvalidCIDRError(`invalid CIDR address: ${JSON.stringify(text)}`)
}

/**
 * Parses `address/prefix` (`192.168.0.1/24`, `2a00:1450::1/64`). Host bits are allowed and kept in
 * `address`; `network` and `cidr` are canonical. Throws `ERR_INVALID_CIDR`.
 */
export function parseCIDR(cidr: string): ParsedCIDR {
  if (typeof cidr !== 'string') throw invalid(cidr)
  const slash = cidr.indexOf('/')
  if (slash < 0) throw invalid(cidr)
  const parsed = tryParseAddress(cidr.slice(0, slash))
  const prefixText = cidr.slice(slash + 1)
  if (parsed === undefined || !PREFIX.test(prefixText)) throw invalid(cidr)
  const { family, value } = parsed
  const bits = family === 4 ? 32 : 128
  const prefixLength = Number(prefixText)
  if (prefixLength > bits) throw invalid(cidr)
  const size = 1n << BigInt(bits - prefixLength)
  const networkValue = value & ~(size - 1n)
  const lastValue = networkValue + size - 1n
  const network = formatAddress(family, networkValue)
  return {
    family,
    prefixLength,
    address: formatAddress(family, value),
    network,
    last: formatAddress(family, lastValue),
    cidr: `${network}/${prefixLength}`,
    addressValue: value,
    networkValue,
    lastValue,
    size,
  }
}

/** `'192.168.0.1/24'` → `'192.168.0.0/24'`; `'2A00:1450::1/64'` → `'2a00:1450::/64'`. */
export function canonicalCIDR(cidr: string): string {
  return parseCIDR(cidr).cidr
}

/** First (network) and last (broadcast) address of a CIDR, as libnetwork's `NetworkRange`. */
export function networkRange(cidr: string): AddressRange {
  const parsed = parseCIDR(cidr)
  return { first: parsed.network, last: parsed.last }
}

/**
 * The addresses a pool on this CIDR hands out, as numbers: network + 1 … last − 1, except that a
 * network with one or two addresses (IPv4 /31 and /32, IPv6 /127 and /128) uses all of them
 * (RFC 3021, RFC 6164).
 */
export function hostBounds(parsed: ParsedCIDR): { first: bigint; last: bigint } {
  if (parsed.size <= 2n) return { first: parsed.networkValue, last: parsed.lastValue }
  return { first: parsed.networkValue + 1n, last: parsed.lastValue - 1n }
}

/** The addresses a pool on this CIDR hands out (see the README for /31 and /32). */
export function hostRange(cidr: string): AddressRange {
  const parsed = parseCIDR(cidr)
  const { first, last } = hostBounds(parsed)
  return { first: formatAddress(parsed.family, first), last: formatAddress(parsed.family, last) }
}

/**
 * The n-th host address of a CIDR, counting from 1 within `hostRange` (`nthHost('172.17.0.0/16', 1)`
 * is the usual gateway `172.17.0.1`); negative n counts from the end (-1 is the last host).
 * Throws `ERR_IP_OUT_OF_RANGE` when the network has fewer hosts.
 */
export function nthHost(cidr: string, n: number | bigint): string {
  const parsed = parseCIDR(cidr)
  const { first, last } = hostBounds(parsed)
  const index = typeof n === 'bigint' ? n : Number.isInteger(n) ? BigInt(n) : 0n
  const value = index > 0n ? first + index - 1n : last + index + 1n
  if (index === 0n || value < first || value > last) {
    throw new IPOutOfRangeError(
      `host ${String(n)} is out of range for ${parsed.cidr}: hosts are 1…${last - first + 1n}`,
    )
  }
  return formatAddress(parsed.family, value)
}

/** Whether the address lies in the CIDR (any address of the network, same family). Throws for bad text. */
export function containsAddress(cidr: string, ip: string): boolean {
  const parsed = parseCIDR(cidr)
  const address = parseAddress(ip)
  return address.family === parsed.family && address.value >= parsed.networkValue && address.value <= parsed.lastValue
}
