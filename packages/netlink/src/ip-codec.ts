import {
  ERR_INVALID_ADDRESS,
  formatAddress,
  type IPAddress,
  type IPFamily,
  type IPPrefix,
  tryParseAddress,
  tryParseCIDR,
} from '@cnm/ip'
import { NetlinkError } from './errors.js'

// Addresses are parsed and written by @cnm/ip; this module only packs their values into bytes.
export { ERR_INVALID_ADDRESS }
export const AF_INET = 2
export const AF_INET6 = 10

/** An address with its prefix length, parsed from `10.0.0.2/24` or `fd00::2/64`. */
export interface PrefixedAddress {
  family: typeof AF_INET | typeof AF_INET6
  /** The address as written, canonical (`@cnm/ip`'s text). */
  address: string
  bytes: Buffer
  prefixLength: number
}

function afOf(family: IPFamily): typeof AF_INET | typeof AF_INET6 {
  return family === 4 ? AF_INET : AF_INET6
}

/** An address value in network-order bytes (4 or 16). */
export function addressBytes(address: { readonly family: IPFamily; readonly value: bigint }): Buffer {
  if (address.family === 4) {
    const out = Buffer.alloc(4)
    out.writeUInt32BE(Number(address.value))
    return out
  }
  const out = Buffer.alloc(16)
  out.writeBigUInt64BE(address.value >> 64n, 0)
  out.writeBigUInt64BE(BigInt.asUintN(64, address.value), 8)
  return out
}

function parseIP(ip: string | IPAddress): IPAddress {
  const address = typeof ip === 'string' ? tryParseAddress(ip) : ip
  if (address === undefined) throw new NetlinkError(ERR_INVALID_ADDRESS, `invalid IP address ${JSON.stringify(ip)}`)
  return address
}

/** Address text (or an `@cnm/ip` address) → network-order bytes (4 or 16). Zone indices are refused. */
export function ipToBytes(ip: string | IPAddress): Buffer {
  return addressBytes(parseIP(ip))
}

/** Network-order bytes (4 or 16) → canonical address text (`@cnm/ip`'s). */
export function bytesToIp(b: Uint8Array): string {
  if (b.length !== 4 && b.length !== 16) throw new NetlinkError(ERR_INVALID_ADDRESS, `address of ${b.length} bytes`)
  const view = new DataView(b.buffer, b.byteOffset, b.length)
  if (b.length === 4) return formatAddress(4, BigInt(view.getUint32(0)))
  return formatAddress(6, (view.getBigUint64(0) << 64n) | view.getBigUint64(8))
}

/** Parses `addr/len` (the prefix length is required and must fit the family), or takes a parsed prefix. */
export function parsePrefixedAddress(cidr: string | IPPrefix): PrefixedAddress {
  const prefix = typeof cidr === 'string' ? tryParseCIDR(cidr) : cidr
  if (prefix === undefined) {
    throw new NetlinkError(ERR_INVALID_ADDRESS, `invalid address ${JSON.stringify(cidr)}: expected address/prefix`)
  }
  return {
    family: afOf(prefix.family),
    address: prefix.address,
    bytes: addressBytes({ family: prefix.family, value: prefix.addressValue }),
    prefixLength: prefix.prefixLength,
  }
}

/** Family of a plain address, or a typed error. */
export function ipFamily(ip: string | IPAddress): typeof AF_INET | typeof AF_INET6 {
  return afOf(parseIP(ip).family)
}

/** The IPv4 broadcast address of `bytes/prefix` (for prefixes shorter than /31). */
export function v4Broadcast(bytes: Buffer, prefixLength: number): Buffer {
  const n = bytes.readUInt32BE(0)
  const host = prefixLength === 0 ? 0xffffffff : (2 ** (32 - prefixLength) - 1) >>> 0
  const out = Buffer.alloc(4)
  out.writeUInt32BE((n | host) >>> 0)
  return out
}

/** Masks `bytes` down to its first `prefixLength` bits (the network address). */
export function networkBytes(bytes: Buffer, prefixLength: number): Buffer {
  const out = Buffer.from(bytes)
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefixLength - i * 8))
    out[i] = out[i]! & ((0xff << (8 - bits)) & 0xff)
  }
  return out
}
