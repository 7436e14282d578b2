import { ERR_INVALID_MAC, NetlinkError } from './errors.js'

/** `02:42:ac:11:00:02` → 6 bytes; a typed error otherwise. */
export function parseMac(mac: string): Buffer {
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/u.test(mac)) {
    throw new NetlinkError(ERR_INVALID_MAC, `invalid MAC address ${JSON.stringify(mac)}`)
  }
  const b = Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16)))
  if ((b[0]! & 1) === 1) throw new NetlinkError(ERR_INVALID_MAC, `MAC address ${mac} is multicast`)
  return b
}

/** 6 bytes → `02:42:ac:11:00:02`. */
export function formatMac(b: Uint8Array | undefined): string | undefined {
  if (!b || b.length === 0) return undefined
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':')
}
