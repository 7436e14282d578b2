import { formatAddress, type IPAddress, parseAddress, tryParseAddress } from '@cnm/ip'

const V4_SUFFIX = '.in-addr.arpa'
const V6_SUFFIX = '.ip6.arpa'

/** The PTR owner name of an address: `2.0.1.10.in-addr.arpa`, or 32 nibbles then `ip6.arpa`. */
export function reverseName(address: string | IPAddress): string {
  const a = typeof address === 'string' ? parseAddress(address) : address
  if (a.family === 4) return `${a.text.split('.').reverse().join('.')}${V4_SUFFIX}`
  const hex = a.value.toString(16).padStart(32, '0')
  return `${[...hex].reverse().join('.')}${V6_SUFFIX}`
}

/** Whether a (lower-case, dotless-ended) name is in one of the two reverse trees. */
export function isReverseName(name: string): boolean {
  return name.endsWith(V4_SUFFIX) || name.endsWith(V6_SUFFIX)
}

/**
 * The address a full reverse name stands for (`2.0.1.10.in-addr.arpa` → 10.1.0.2), or undefined
 * for a partial one (`1.10.in-addr.arpa`) or anything else. Takes the lower-case form.
 */
export function addressOfReverseName(name: string): IPAddress | undefined {
  if (name.endsWith(V4_SUFFIX)) {
    const labels = name.slice(0, -V4_SUFFIX.length).split('.')
    if (labels.length !== 4) return undefined
    return tryParseAddress(labels.reverse().join('.'))
  }
  if (name.endsWith(V6_SUFFIX)) {
    const labels = name.slice(0, -V6_SUFFIX.length).split('.')
    if (labels.length !== 32 || !labels.every((l) => /^[0-9a-f]$/u.test(l))) return undefined
    return tryParseAddress(formatAddress(6, BigInt(`0x${labels.reverse().join('')}`)))
  }
  return undefined
}
