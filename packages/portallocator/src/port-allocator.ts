import { canonicalIP, IPV4_ANY } from './address.js'
import { AllPortsAllocatedError, InvalidPortError, PortAlreadyAllocatedError } from './errors.js'
import { OsPorts } from './os-ports.js'
import { isValidPort, parsePort, parsePortRange } from './port.js'
import { resolvePortRange } from './port-range.js'
import { type Protocol, parseProtocol } from './protocol.js'
import { ProtocolPorts } from './protocol-ports.js'

/** Options of {@link PortAllocator}. */
export interface PortAllocatorOptions {
  /** First port handed out as "any". Default: the kernel's ephemeral range, else 49153. */
  begin?: number
  /** Last port handed out as "any". Default: the kernel's ephemeral range, else 65535. */
  end?: number
  /**
   * Never hand out, and refuse, a port that a socket on the machine (this network namespace) has
   * bound: listening TCP and bound UDP, IPv4 and IPv6. Default true.
   */
  syncWithOS?: boolean
}

interface Tables {
  tcp: ProtocolPorts
  udp: ProtocolPorts
  sctp: ProtocolPorts
}

/**
 * Host transport ports per (IP, protocol). Synchronous. "Any" ports are handed out in order after
 * the last one handed out, wrapping from `end` to `begin` (the first is `begin`), in O(1) however
 * full the range is. A port held on `0.0.0.0` conflicts with that port on every IPv4 address and
 * the reverse; likewise `::` within IPv6.
 */
export class PortAllocator {
  // `declare` fields, not `#` fields: no class-field definitions are emitted, which keeps V8's
  // loads of them fast on the hot path (see bench/bench.mjs).
  declare readonly begin: number
  declare readonly end: number
  declare private readonly os: OsPorts | undefined
  declare private tables: Tables

  constructor(options: PortAllocatorOptions = {}) {
    const range = resolvePortRange(options)
    this.begin = range.begin
    this.end = range.end
    this.os = options.syncWithOS === false ? undefined : new OsPorts()
    this.tables = this.#newTables()
  }

  /** Whether this allocator keeps itself in sync with the ports the OS has bound. */
  get syncWithOS(): boolean {
    return this.os !== undefined
  }

  /**
   * Reserves `port` on `ip` (default `0.0.0.0`) for `proto` and returns it; with `port` 0 or
   * absent, reserves and returns the next free port of the range.
   * @throws `ERR_PORT_ALREADY_ALLOCATED`, `ERR_ALL_PORTS_ALLOCATED`, `ERR_UNKNOWN_PROTOCOL`,
   * `ERR_INVALID_PORT`, `ERR_INVALID_ADDRESS`
   */
  requestPort(ip: string | null | undefined, proto: Protocol, port?: number): number {
    const table = proto === 'tcp' ? this.tables.tcp : this.#table(proto)
    const addr = ip == null ? IPV4_ANY : canonicalIP(ip)
    if (port != null && port !== 0) return this.#requestGiven(table, addr, port)
    if (this.os?.stale) this.#sync()
    const found = table.any(addr)
    if (found < 0) throw new AllPortsAllocatedError()
    return found
  }

  /**
   * Reserves a contiguous block of ports and returns its first and last port: exactly
   * `start`–`end`, or with `start` = `end` = 0 the first free block of `count` ports (default 1)
   * after the last port handed out. All or nothing.
   * @throws as {@link requestPort}
   */
  requestPortRange(
    ip: string | null | undefined,
    proto: Protocol,
    start: number,
    end: number,
    count?: number,
  ): [number, number] {
    const table = this.#table(proto)
    const addr = canonicalIP(ip)
    if (start === 0 && end === 0) return this.#anyBlock(table, addr, count ?? 1)
    const [first, last] = parsePortRange(start, end)
    if (count !== undefined && count !== last - first + 1) {
      throw new InvalidPortError(count, `a block of ${first}-${last} has ${last - first + 1} ports`, `count ${count}`)
    }
    this.#ensureFree(table, addr, first, last)
    for (let port = first; port <= last; port++) table.take(addr, port)
    return [first, last]
  }

  /** Releases `port` on `ip` for `proto`. Releasing a port that is not held is a no-op. */
  releasePort(ip: string | null | undefined, proto: Protocol, port: number): void {
    const table = proto === 'tcp' ? this.tables.tcp : this.#table(proto)
    const addr = ip == null ? IPV4_ANY : canonicalIP(ip)
    table.release(addr, isValidPort(port) ? port : parsePort(port))
  }

  /** Releases every port of `start`–`end` on `ip` for `proto` (the inverse of {@link requestPortRange}). */
  releasePortRange(ip: string | null | undefined, proto: Protocol, start: number, end: number): void {
    const table = this.#table(proto)
    const addr = canonicalIP(ip)
    const [first, last] = parsePortRange(start, end)
    for (let port = first; port <= last; port++) table.release(addr, port)
  }

  /** Releases every port of every IP and protocol; the range stays. */
  releaseAll(): void {
    this.tables = this.#newTables()
  }

  #requestGiven(table: ProtocolPorts, addr: string, port: number): number {
    const wanted = parsePort(port)
    this.#ensureFree(table, addr, wanted, wanted)
    table.take(addr, wanted)
    return wanted
  }

  #anyBlock(table: ProtocolPorts, addr: string, count: number): [number, number] {
    const size = this.end - this.begin + 1
    if (!Number.isInteger(count) || count < 1 || count > size) {
      throw new InvalidPortError(
        count,
        `expected an integer from 1 to ${size}, the size of the range`,
        `count ${count}`,
      )
    }
    this.#syncIfStale()
    const first = count === 1 ? table.any(addr) : table.anyBlock(addr, count)
    if (first < 0) {
      if (count === 1) throw new AllPortsAllocatedError()
      const where = `${this.begin}-${this.end}`
      throw new AllPortsAllocatedError(`no ${count} contiguous free ${table.proto} ports on ${addr} in ${where}`)
    }
    return [first, first + count - 1]
  }

  /**
   * Throws unless every port of `first`–`last` can be given to `addr`. A port the cached OS
   * snapshot shows bound is re-checked against a fresh read before it is refused, so a socket
   * closed a moment ago does not block it.
   */
  #ensureFree(table: ProtocolPorts, addr: string, first: number, last: number): void {
    let fresh = this.#syncIfStale()
    for (let port = first; port <= last; port++) {
      let conflict = table.conflict(addr, port)
      if (conflict === 'os' && !fresh) {
        this.#sync()
        fresh = true
        conflict = table.conflict(addr, port)
      }
      if (conflict !== undefined) throw new PortAlreadyAllocatedError(addr, port, conflict === 'os')
    }
  }

  /** Re-reads the OS tables when the snapshot is stale; true when it did. */
  #syncIfStale(): boolean {
    if (this.os === undefined || !this.os.stale) return false
    this.#sync()
    return true
  }

  #sync(): void {
    if (this.os === undefined) return
    const changed = this.os.refresh()
    this.tables.tcp.osChanged(changed.tcp)
    this.tables.udp.osChanged(changed.udp)
  }

  #table(proto: Protocol): ProtocolPorts {
    return this.tables[parseProtocol(proto)]
  }

  #newTables(): Tables {
    return {
      tcp: new ProtocolPorts('tcp', this.begin, this.end, this.os),
      udp: new ProtocolPorts('udp', this.begin, this.end, this.os),
      sctp: new ProtocolPorts('sctp', this.begin, this.end, this.os),
    }
  }
}
