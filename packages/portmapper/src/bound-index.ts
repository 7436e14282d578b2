import { tryParseAddress, unmapped } from '@cnm/ip'

/** A socket the kernel reports bound (what `@cnm/netlink`'s `boundPorts` gives). */
export interface BoundSocket {
  proto: 'tcp' | 'udp'
  family: 4 | 6
  ip: string
  port: number
  /** The socket's inode (`socket:[inode]` in its holder's `/proc/<pid>/fd`), when known. */
  inode?: number
  /** The uid that owns it, when known. */
  uid?: number
}

/**
 * The bound sockets of one read of the socket tables, by port: a publish asks about its few ports
 * with a map lookup each instead of filtering every bound socket of the machine (thousands while a
 * daemon holds its published ports) per port.
 */
export interface BoundIndex {
  /** The sockets bound on `port` (any address, either family). */
  on(port: number): readonly BoundSocket[]
}

const NONE: readonly BoundSocket[] = Object.freeze([])

/** No socket bound anywhere (a request for any free port, which the allocator checks itself). */
export const EMPTY_BOUND_INDEX: BoundIndex = { on: () => NONE }

/**
 * An IPv6 socket bound on an IPv4-mapped address (`::ffff:10.0.0.1`) holds that IPv4 address's
 * port as much as an IPv4 socket does: it is indexed as one.
 */
function asBound(b: BoundSocket): BoundSocket {
  if (b.family !== 6 || !b.ip.startsWith('::ffff:')) return b
  const a = tryParseAddress(b.ip)
  if (a === undefined) return b
  const u = unmapped(a)
  return u.family === 4 ? { ...b, family: 4, ip: u.text } : b
}

/**
 * Indexes `list` by port, once (IPv4-mapped sockets as IPv4 ones); `keep` (asked at each lookup)
 * leaves sockets out.
 */
export function indexBound(list: readonly BoundSocket[], keep?: (b: BoundSocket) => boolean): BoundIndex {
  const byPort = new Map<number, BoundSocket[]>()
  for (const raw of list) {
    const b = asBound(raw)
    const at = byPort.get(b.port)
    if (at) at.push(b)
    else byPort.set(b.port, [b])
  }
  return {
    on(port: number): readonly BoundSocket[] {
      const at = byPort.get(port)
      if (!at) return NONE
      return keep ? at.filter(keep) : at
    },
  }
}
