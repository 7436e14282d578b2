import { addressBits, type IPFamily, type IPPrefix, tryParseAddress } from '@cnm/ip'

/**
 * Who a network's DNS server answers: a source inside one of the network's subnets that is not one
 * of the server's own addresses (a host process querying a gateway address has that address as its
 * source). Everything else (a spoofed source, a local user on the host, a machine routing the
 * container subnets through the host) is dropped before anything is answered or forwarded, so the
 * server neither reflects answers nor serves as an open resolver. With no subnets (or `anyClient`),
 * any source.
 */
export interface ClientFilter {
  /** Whether a query from `address` (as a socket reports it) may be answered. */
  allows(address: string | undefined): boolean
  /** The rules for the native loop of one family: records of [1 allow | 0 deny, bits, address]. */
  rules(family: IPFamily): Buffer
}

function valueBytes(value: bigint, family: IPFamily): Buffer {
  const hex = value.toString(16).padStart(family === 4 ? 8 : 32, '0')
  return Buffer.from(hex, 'hex')
}

/** The filter of a server with these subnets and listen addresses (both already validated). */
export function makeClientFilter(
  subnets: readonly IPPrefix[],
  own: readonly { readonly address: string; readonly family: IPFamily }[],
  anyClient: boolean,
): ClientFilter {
  const active = !anyClient && subnets.length > 0
  const allow = active ? subnets : []
  const deny = active ? own.map((o) => tryParseAddress(o.address)).filter((a) => a !== undefined) : []
  const denied = new Set(deny.map((a) => a.text))
  return {
    allows(address) {
      if (allow.length === 0) return !(address !== undefined && denied.has(address))
      const a = tryParseAddress(address)
      if (!a || denied.has(a.text)) return false
      return allow.some((p) => p.family === a.family && a.value >= p.networkValue && a.value <= p.lastValue)
    },
    rules(family) {
      const records: Buffer[] = []
      for (const p of allow) {
        if (p.family === family)
          records.push(Buffer.concat([Buffer.from([1, p.prefixLength]), valueBytes(p.networkValue, family)]))
      }
      for (const a of deny) {
        if (a.family === family)
          records.push(Buffer.concat([Buffer.from([0, addressBits(family)]), valueBytes(a.value, family)]))
      }
      // Subnets, none of this family: nobody (a deny of the whole family, /0).
      if (allow.length > 0 && !allow.some((p) => p.family === family)) {
        records.push(Buffer.concat([Buffer.from([0, 0]), valueBytes(0n, family)]))
      }
      return Buffer.concat(records)
    },
  }
}
