import { describe, InvalidAddressError } from './errors.js'
import { formatIPv4, tryIPv4ToNumber } from './ipv4.js'

/** Largest IPv6 address as a bigint (ffff:…:ffff). */
export const IPV6_MAX = (1n << 128n) - 1n

const groups = new Uint16Array(8)

/** The value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48
  if (c >= 97 && c <= 102) return c - 87
  if (c >= 65 && c <= 70) return c - 55
  return -1
}

/**
 * Reads the groups of IPv6 text into `groups` (RFC 4291 2.2: one to four hex digits a group, at
 * most one `::`, an optional dotted quad as the last 32 bits). Returns the number of groups
 * written before and after the `::` as `count`, and where the `::` was (`gap`, or -1), or
 * undefined when the text is not IPv6.
 */
function readGroups(text: string): { count: number; gap: number } | undefined {
  const n = text.length
  let count = 0
  let gap = -1
  let i = 0
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return undefined
    gap = 0
    i = 2
  }
  while (i < n) {
    if (count === 8) return undefined
    const start = i
    let value = 0
    for (let d = hexDigit(text.charCodeAt(i)); d >= 0 && i - start < 5; d = hexDigit(text.charCodeAt(++i))) {
      value = value * 16 + d
    }
    if (text.charCodeAt(i) === 46) {
      // a dotted quad: the last 32 bits, and the end of the text
      const v4 = count <= 6 ? tryIPv4ToNumber(text.slice(start)) : -1
      if (v4 < 0) return undefined
      groups[count++] = v4 >>> 16
      groups[count++] = v4 & 0xffff
      return { count, gap }
    }
    if (i === start || i - start > 4) return undefined
    groups[count++] = value
    if (i === n) break
    if (text.charCodeAt(i) !== 58 || ++i === n) return undefined
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined
      gap = count
      i++
    }
  }
  return { count, gap }
}

/**
 * IPv6 text as a 128-bit bigint, or -1n when the text is not IPv6 (RFC 4291: eight groups, one
 * `::`, an optional trailing dotted quad; upper or lower case). Zone indices (`fe80::1%eth0`) are
 * not addresses and are refused. For hot paths; otherwise use `parseAddress`.
 */
export function tryIPv6ToBigInt(text: string): bigint {
  if (text.length < 2 || text.length > 45) return -1n
  const read = readGroups(text)
  if (read === undefined) return -1n
  const { count, gap } = read
  if (gap < 0 ? count !== 8 : count > 7) return -1n
  if (gap >= 0) {
    const tail = count - gap
    groups.copyWithin(8 - tail, gap, count)
    groups.fill(0, gap, 8 - tail)
  }
  const w0 = ((groups[0] as number) * 0x10000 + (groups[1] as number)) as number
  const w1 = ((groups[2] as number) * 0x10000 + (groups[3] as number)) as number
  const w2 = ((groups[4] as number) * 0x10000 + (groups[5] as number)) as number
  const w3 = ((groups[6] as number) * 0x10000 + (groups[7] as number)) as number
  return (BigInt(w0) << 96n) | (BigInt(w1) << 64n) | (BigInt(w2) << 32n) | BigInt(w3)
}

const scratch = new DataView(new ArrayBuffer(16))

/** The eight 16-bit groups of a 128-bit value, into `groups`. */
function splitGroups(value: bigint): void {
  scratch.setBigUint64(0, value >> 64n)
  scratch.setBigUint64(8, BigInt.asUintN(64, value))
  for (let i = 0; i < 8; i++) groups[i] = scratch.getUint16(i * 2)
}

/**
 * RFC 5952 text of a 128-bit value (the caller has checked the range): lower case, no leading
 * zeros, the longest run of two or more zero groups (the first of equal runs) as `::`; an
 * IPv4-mapped address (`::ffff:0:0/96`) with its last 32 bits as a dotted quad (RFC 5952 §5).
 */
export function formatIPv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIPv4(Number(value & 0xffffffffn))}`
  splitGroups(value)
  let start = -1
  let length = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > length) [start, length] = [i, j - i]
    i = j
  }
  let text = ''
  for (let i = 0; i < 8; i++) {
    if (i === start) {
      text += '::'
      i += length - 1
    } else {
      if (i > 0 && i !== start + length) text += ':'
      text += (groups[i] as number).toString(16)
    }
  }
  return text
}

/** `'2a00:1450::1'` → `0x2a001450000000000000000000000001n`. Throws `ERR_INVALID_ADDRESS`. */
export function ipv6ToBigInt(text: string): bigint {
  const value = typeof text === 'string' ? tryIPv6ToBigInt(text) : -1n
  if (value < 0n) throw new InvalidAddressError(`invalid IPv6 address ${describe(text)}`)
  return value
}

/** `0x2a001450000000000000000000000001n` → `'2a00:1450::1'`. Throws unless 0 ≤ value ≤ 2¹²⁸−1. */
export function bigIntToIPv6(value: bigint): string {
  if (typeof value !== 'bigint' || value < 0n || value > IPV6_MAX) {
    throw new InvalidAddressError(`invalid IPv6 address value: ${describe(value)}`)
  }
  return formatIPv6(value)
}
