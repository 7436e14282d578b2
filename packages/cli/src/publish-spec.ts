import type { PortBinding } from '@cnm/driverapi'
import { isIPv6, tryParseAddress } from '@cnm/ip'
import { CliError, ERR_INVALID_PUBLISH_SPEC } from './errors.js'

/** A port to publish: `@cnm/driverapi`'s one `PortBinding` (as the drivers take it). */
export type PortBindingSpec = PortBinding

interface PortRange {
  start: number
  end: number
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp'])

function fail(spec: string, why: string): CliError {
  return new CliError(ERR_INVALID_PUBLISH_SPEC, `invalid --publish ${JSON.stringify(spec)}: ${why}`)
}

function parseRange(spec: string, text: string, what: string): PortRange {
  const m = text.match(/^(\d{1,5})(?:-(\d{1,5}))?$/u)
  if (!m) throw fail(spec, `${what} ${JSON.stringify(text)} is not a port or a range of ports`)
  const start = Number(m[1])
  const end = m[2] === undefined ? start : Number(m[2])
  for (const p of [start, end]) {
    if (p < 1 || p > 65535) throw fail(spec, `${what} ${p} is out of range 1–65535`)
  }
  if (end < start) throw fail(spec, `${what} range ${start}-${end} is reversed`)
  return { start, end }
}

/** Splits `[ip:][hostPort:]containerPort` (IPv6 in brackets) into its three parts. */
function splitParts(spec: string, body: string): { ip?: string; host?: string; container: string } {
  if (body.startsWith('[')) {
    const close = body.indexOf(']')
    const rest = close < 0 ? [] : body.slice(close + 1).split(':')
    if (close < 0 || rest.length !== 3 || rest[0] !== '') {
      throw fail(spec, 'expected [IPv6]:hostPort:containerPort')
    }
    return { ip: body.slice(1, close), host: rest[1] ?? '', container: rest[2] ?? '' }
  }
  const parts = body.split(':')
  if (parts.length === 1) return { container: parts[0] ?? '' }
  if (parts.length === 2) return { host: parts[0] ?? '', container: parts[1] ?? '' }
  if (parts.length === 3) return { ip: parts[0] ?? '', host: parts[1] ?? '', container: parts[2] ?? '' }
  throw fail(spec, 'expected [hostIP:][hostPort:]containerPort[/proto] (an IPv6 host address goes in brackets)')
}

function parseHostIP(spec: string, text: string): string {
  const ip = tryParseAddress(text)
  if (!ip) throw fail(spec, `host address ${JSON.stringify(text)} is not an IP address`)
  return ip.text
}

/**
 * Parses one `--publish` value, Docker's `-p` syntax: `[hostIP:][hostPort:]containerPort[/proto]`.
 * Ports may be ranges (`8080-8081:80-81`, of equal size); an empty or missing host port means any
 * free one (`127.0.0.1::80`, `80`); an IPv6 host address goes in brackets (`[::1]:8080:80`); the
 * protocol is `tcp` (default), `udp` or `sctp`.
 */
export function parsePublishSpec(spec: string): PortBinding {
  if (typeof spec !== 'string' || spec.trim() === '') throw fail(String(spec), 'it is empty')
  const slash = spec.lastIndexOf('/')
  const body = slash < 0 ? spec : spec.slice(0, slash)
  const proto = slash < 0 ? 'tcp' : spec.slice(slash + 1)
  if (!PROTOCOLS.has(proto)) throw fail(spec, `protocol ${JSON.stringify(proto)} must be tcp, udp or sctp`)
  const parts = splitParts(spec, body)
  if (parts.container === '') throw fail(spec, 'the container port is missing')
  const container = parseRange(spec, parts.container, 'container port')
  const binding: PortBinding = { proto: proto as PortBinding['proto'], containerPort: container.start }
  if (container.end !== container.start) binding.containerPortEnd = container.end
  if (parts.ip !== undefined) {
    if (parts.ip === '') throw fail(spec, 'the host address is empty')
    binding.hostIP = parseHostIP(spec, parts.ip)
  }
  if (parts.host !== undefined && parts.host !== '') {
    const host = parseRange(spec, parts.host, 'host port')
    const [hostSize, containerSize] = [host.end - host.start, container.end - container.start]
    if (hostSize !== containerSize) {
      throw fail(
        spec,
        `host ports ${host.start}-${host.end} and container ports ${container.start}-${container.end} differ in size`,
      )
    }
    binding.hostPort = host.start
    if (host.end !== host.start) binding.hostPortEnd = host.end
  }
  return binding
}

/** `0.0.0.0:8080-8081->80-81/tcp`, as `docker ps` shows a published port. */
export function formatPortBinding(p: {
  proto: string
  hostIP: string
  hostPort: number
  hostPortEnd: number
  containerPort: number
  containerPortEnd: number
}): string {
  const range = (a: number, b: number): string => (a === b ? String(a) : `${a}-${b}`)
  const host = isIPv6(p.hostIP) ? `[${p.hostIP}]` : p.hostIP
  return `${host}:${range(p.hostPort, p.hostPortEnd)}->${range(p.containerPort, p.containerPortEnd)}/${p.proto}`
}
