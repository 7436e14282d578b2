import { InvalidAddressError } from './errors.js'
import { formatIPv4, parseIPv4 } from './ipv4.js'

/** Largest IPv6 address as a bigint (ffff:…:ffff). */
export const IPV6_MAX = (1n << 128n) - 1n

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/

/** Parses `a:b:…` pieces into 4-digit hex groups; the last piece may be a dotted quad. */
function hexGroups(text: string, allowDottedQuad: boolean): string[] | undefined {
  if (text === '') return []
  const pieces = text.split(':')
  const groups: string[] = []
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] as string
    if (HEX_GROUP.test(piece)) {
      groups.push(piece.padStart(4, '0'))
    } else if (allowDottedQuad && i === pieces.length - 1 && piece.includes('.')) {
      const v4 = parseIPv4(piece)
      if (v4 < 0) return undefined
      const hex = v4.toString(16).padStart(8, '0')
      groups.push(hex.slice(0, 4), hex.slice(4))
    } else {
      return undefined
    }
  }
  return groups
}

/**
 * Parses IPv6 text (RFC 4291: eight groups, one `::`, an optional trailing dotted quad) to a
 * 128-bit bigint, or returns -1n. Zone indices (`fe80::1%eth0`) are not addresses and are refused.
 */
export function parseIPv6(text: string): bigint {
  if (text.length < 2 || text.length > 45) return -1n
  const halves = text.split('::')
  if (halves.length > 2) return -1n
  const head = hexGroups(halves[0] as string, halves.length === 1)
  const tail = halves.length === 2 ? hexGroups(halves[1] as string, true) : []
  if (head === undefined || tail === undefined) return -1n
  const count = head.length + tail.length
  if (halves.length === 1 ? count !== 8 : count > 7) return -1n
  const zeros = '0000'.repeat(8 - count)
  return BigInt(`0x${head.join('')}${zeros}${tail.join('')}`)
}

const scratch = new DataView(new ArrayBuffer(16))

/** The eight 16-bit groups of a 128-bit value. */
function groupsOf(value: bigint): number[] {
  scratch.setBigUint64(0, value >> 64n)
  scratch.setBigUint64(8, BigInt.asUintN(64, value))
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(scratch.getUint16(i))
  return groups
}

/** Start and length of the longest run of two or more zero groups (the first of equal runs). */
function longestZeroRun(groups: number[]): [number, number] {
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i]
    i = j
  }
  return [bestStart, bestLength]
}

/**
 * Formats a 128-bit value in RFC 5952 canonical text: lower case, no leading zeros, the longest
 * run of zero groups as `::`; IPv4-mapped addresses as `::ffff:a.b.c.d`. The caller guarantees
 * the range.
 */
export function formatIPv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIPv4(Number(value & 0xffffffffn))}`
  const groups = groupsOf(value)
  const [start, length] = longestZeroRun(groups)
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
  const value = parseIPv6(text)
  if (value < 0n) throw new InvalidAddressError(`invalid IPv6 address: ${JSON.stringify(text)}`)
  return value
}

/** `0x2a001450000000000000000000000001n` → `'2a00:1450::1'`. Throws unless 0 ≤ value < 2¹²⁸. */
export function bigIntToIPv6(value: bigint): string {
  if (value < 0n || value > IPV6_MAX) throw new InvalidAddressError(`invalid IPv6 address value: ${value}`)
  return formatIPv6(value)
}
