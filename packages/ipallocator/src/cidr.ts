import { formatAddress, hostBounds, type IPPrefix, parseCIDR } from '@cnm/ip'
import { IPOutOfRangeError } from './errors.js'

// Prefixes are @cnm/ip's values: this module keeps the names this package has always exported.
export { canonicalCIDR, containsAddress, hostBounds, parseCIDR } from '@cnm/ip'

/** A CIDR, validated, with its canonical forms and numeric bounds (`@cnm/ip`'s `IPPrefix`). */
export type ParsedCIDR = IPPrefix

/** An inclusive range of addresses. */
export interface AddressRange {
  readonly first: string
  readonly last: string
}

/** First (network) and last (broadcast) address of a CIDR, as libnetwork's `NetworkRange`. */
export function networkRange(cidr: string): AddressRange {
  const parsed = parseCIDR(cidr)
  return { first: parsed.network, last: parsed.last }
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
 * Takes the CIDR as text or as `@cnm/ip`'s parsed prefix. Throws `ERR_IP_OUT_OF_RANGE` when the
 * network has fewer hosts.
 */
export function nthHost(cidr: string | IPPrefix, n: number | bigint): string {
  const parsed = typeof cidr === 'string' ? parseCIDR(cidr) : cidr
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
