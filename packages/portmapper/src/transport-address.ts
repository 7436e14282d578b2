import { isIP } from 'node:net'

export type TransportProtocol = 'tcp' | 'udp' | 'sctp'

/** A transport endpoint: protocol, address and port (`tcp/0.0.0.0:8080`). */
export interface TransportAddress {
  proto: TransportProtocol
  ip: string
  port: number
}

export const ERR_INVALID_TRANSPORT_ADDRESS = 'ERR_INVALID_TRANSPORT_ADDRESS'

/** Every error this package throws itself; check `code`. */
export class PortMapperError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PortMapperError'
    this.code = code
  }
}

/** `tcp/0.0.0.0:8080`, `udp/[::1]:53`. */
export function formatTransportAddress(a: TransportAddress): string {
  const host = isIP(a.ip) === 6 ? `[${a.ip}]` : a.ip
  return `${a.proto}/${host}:${a.port}`
}

/** The inverse of {@link formatTransportAddress}; anything else is `ERR_INVALID_TRANSPORT_ADDRESS`. */
export function parseTransportAddress(text: string): TransportAddress {
  const m = /^(tcp|udp|sctp)\/(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/u.exec(text)
  const ip = m?.[2] ?? m?.[3] ?? ''
  const port = Number(m?.[4])
  const family = isIP(ip)
  if (!m || family === 0 || (m[2] !== undefined && family !== 6) || port < 1 || port > 65535) {
    throw new PortMapperError(ERR_INVALID_TRANSPORT_ADDRESS, `invalid transport address ${JSON.stringify(text)}`)
  }
  return { proto: m[1] as TransportProtocol, ip, port }
}
