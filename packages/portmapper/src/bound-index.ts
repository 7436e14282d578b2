/** A socket the kernel reports bound (what `@cnm/netlink`'s `boundPorts` gives). */
export interface BoundSocket {
  proto: 'tcp' | 'udp'
  family: 4 | 6
  ip: string
  port: number
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

/** Indexes `list` by port, once; `keep` (asked at each lookup) leaves sockets out. */
export function indexBound(list: readonly BoundSocket[], keep?: (b: BoundSocket) => boolean): BoundIndex {
  const byPort = new Map<number, BoundSocket[]>()
  for (const b of list) {
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
