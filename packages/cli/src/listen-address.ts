import { tryParseAddress } from '@cnm/ip'
import { invalidArgument } from './errors.js'

/** A TCP address to listen on. */
export interface ListenAddress {
  host: string
  /** 0: any free port (reserved through the port allocator). */
  port: number
}

/** Parses `HOST:PORT` (`[IPv6]:PORT`); the host must be an IP address, the port 0–65535. */
export function parseListenAddress(text: string): ListenAddress {
  const m = text.match(/^\[([^\]]+)\]:(\d{1,5})$/u) ?? text.match(/^([^:[\]]+):(\d{1,5})$/u)
  const ip = tryParseAddress(m?.[1])
  const port = Number(m?.[2])
  if (!ip || !Number.isInteger(port) || port > 65535) {
    throw invalidArgument(`--listen ${JSON.stringify(text)} must be IP:PORT (such as 127.0.0.1:2375 or [::1]:2375)`)
  }
  return { host: ip.text, port }
}
