import { addressBits, formatAddress, type IPAddress, type IPFamily, parseAddress, tryParseAddress } from './address.js'
import { describe, InvalidCIDRError } from './errors.js'

/**
 * A prefix (CIDR), parsed: the address as written (host bits kept) and the network it names, as
 * canonical text and as values.
 */
export interface IPPrefix {
  readonly family: IPFamily
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefixLength: number
  /** The address as written, canonical, host bits kept (`192.168.0.1` for `192.168.0.1/24`). */
  readonly address: string
  /** The network address, host bits cleared (`192.168.0.0`). */
  readonly network: string
  /** The last address of the network: the broadcast address for IPv4 (`192.168.0.255`). */
  readonly last: string
  /** The canonical network in CIDR notation (`192.168.0.0/24`). */
  readonly cidr: string
  readonly addressValue: bigint
  readonly networkValue: bigint
  readonly lastValue: bigint
  /** Number of addresses in the network: 2^(bits − prefixLength). */
  readonly size: bigint
}

/** Reads a prefix length: decimal, no sign, no leading zero; -1 when it is not one. */
function prefixLengthOf(text: string, from: number): number {
  const digits = text.length - from
  if (digits < 1 || digits > 3) return -1
  let value = 0
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 48 || c > 57 || (i > from && value === 0)) return -1
    value = value * 10 + (c - 48)
  }
  return value
}

/**
 * The prefix of an address and a prefix length (`prefixOf(parseAddress('10.1.2.3'), 8)` is
 * `10.1.2.3/8`, network `10.0.0.0/8`), or undefined when the length does not fit the family.
 */
function tryPrefixOf(address: IPAddress, prefixLength: number): IPPrefix | undefined {
  const bits = addressBits(address.family)
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > bits) return undefined
  const size = 1n << BigInt(bits - prefixLength)
  const networkValue = address.value & ~(size - 1n)
  const lastValue = networkValue + size - 1n
  const network = networkValue === address.value ? address.text : formatAddress(address.family, networkValue)
  return {
    family: address.family,
    prefixLength,
    address: address.text,
    network,
    last: lastValue === address.value ? address.text : formatAddress(address.family, lastValue),
    cidr: `${network}/${prefixLength}`,
    addressValue: address.value,
    networkValue,
    lastValue,
    size,
  }
}

/**
 * Parses `address/prefixLength` (`192.168.0.1/24`, `2a00:1450::1/64`; the address as
 * {@link tryParseAddress} reads it), or returns undefined. Host bits are allowed and kept in
 * `address`; `network` and `cidr` are canonical.
 */
export function tryParseCIDR(text: unknown): IPPrefix | undefined {
  if (typeof text !== 'string') return undefined
  const slash = text.indexOf('/')
  if (slash < 0) return undefined
  const address = tryParseAddress(text.slice(0, slash))
  const prefixLength = prefixLengthOf(text, slash + 1)
  return address === undefined || prefixLength < 0 ? undefined : tryPrefixOf(address, prefixLength)
}

/** As {@link tryParseCIDR}, but throws `ERR_INVALID_CIDR` naming the text. */
export function parseCIDR(text: string): IPPrefix {
  const prefix = tryParseCIDR(text)
  if (prefix === undefined) throw new InvalidCIDRError(`invalid CIDR ${describe(text)}: expected address/prefix length`)
  return prefix
}

/**
 * The prefix of an address and a length (`prefixOf(parseAddress('10.1.2.3'), 8).cidr` is
 * `10.0.0.0/8`). Throws `ERR_INVALID_CIDR` when the length does not fit the family.
 */
export function prefixOf(address: IPAddress, prefixLength: number): IPPrefix {
  const prefix = tryPrefixOf(address, prefixLength)
  if (prefix === undefined) {
    throw new InvalidCIDRError(
      `invalid CIDR ${describe(`${address.text}/${String(prefixLength)}`)}: prefix length out of range`,
    )
  }
  return prefix
}

/** `'192.168.0.1/24'` → `'192.168.0.0/24'`; `'2A00:1450::1/64'` → `'2a00:1450::/64'`. Throws `ERR_INVALID_CIDR`. */
export function canonicalCIDR(text: string): string {
  return parseCIDR(text).cidr
}

function asPrefix(value: IPPrefix | string): IPPrefix {
  return typeof value === 'string' ? parseCIDR(value) : value
}

function asAddress(value: IPAddress | string): IPAddress {
  return typeof value === 'string' ? parseAddress(value) : value
}

/**
 * Whether the address lies in the prefix's network (same family). Text is parsed first (throws
 * `ERR_INVALID_CIDR`, `ERR_INVALID_ADDRESS`).
 */
export function containsAddress(prefix: IPPrefix | string, address: IPAddress | string): boolean {
  const p = asPrefix(prefix)
  const a = asAddress(address)
  return a.family === p.family && a.value >= p.networkValue && a.value <= p.lastValue
}

/** Whether every address of `inner`'s network lies in `outer`'s (same family). Text is parsed first. */
export function containsPrefix(outer: IPPrefix | string, inner: IPPrefix | string): boolean {
  const o = asPrefix(outer)
  const i = asPrefix(inner)
  return o.family === i.family && i.networkValue >= o.networkValue && i.lastValue <= o.lastValue
}

/**
 * Whether two networks share an address (`172.16.0.1/24` and `172.16.0.128/25` do). Networks of
 * different families never do. Text is parsed first (throws `ERR_INVALID_CIDR`).
 */
export function networksOverlap(a: IPPrefix | string, b: IPPrefix | string): boolean {
  const x = asPrefix(a)
  const y = asPrefix(b)
  return x.family === y.family && x.networkValue <= y.lastValue && y.networkValue <= x.lastValue
}

/**
 * The host addresses of a network, as values: network + 1 … last − 1, except that a network of one
 * or two addresses (IPv4 /31 and /32, IPv6 /127 and /128) has all of them as hosts (RFC 3021,
 * RFC 6164). For IPv6 this keeps libnetwork's rule: the last address is not handed out either.
 */
export function hostBounds(prefix: IPPrefix): { first: bigint; last: bigint } {
  if (prefix.size <= 2n) return { first: prefix.networkValue, last: prefix.lastValue }
  return { first: prefix.networkValue + 1n, last: prefix.lastValue - 1n }
}
