import { canonicalIP } from './address.js'
import { AllPortsAllocatedError, InvalidPortError, PortAlreadyAllocatedError } from './errors.js'
import { OsPorts } from './os-ports.js'
import type { Pool } from './pool.js'
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

/** Options of one request for ports given by number. */
export interface PortRequestOptions {
  /**
   * The caller has just checked the sockets the OS has bound on these ports itself, and binds them
   * next (the kernel's own check): the allocator neither re-reads its snapshot of the socket tables
   * (a read that walks the kernel's socket hashes: milliseconds on a busy machine) nor refuses a
   * port for a socket that snapshot shows. Its own reservations still conflict. Default false.
   */
  osChecked?: boolean
}

interface Tables {
  tcp: ProtocolPorts
  udp: ProtocolPorts
  sctp: ProtocolPorts
}

/**
 * Host transport ports per (IP, protocol). Synchronous. "Any" ports are handed out in order after
 * the last one handed out, wrapping from `end` to `begin` (the first is `begin`), in O(1)
 * amortised however full the range is. A port held on `0.0.0.0` conflicts with that port on every
 * IPv4 address and the reverse; likewise `::` within IPv6.
 */
export class PortAllocator {
  // `declare` fields, not `#` fields: no class-field definitions are emitted, which keeps V8's
  // loads of them fast on the hot path (see bench/bench.mjs). Likewise TypeScript-private methods,
  // not `#` ones: their calls are smaller bytecode, and V8 inlines by bytecode size. The hot path
  // (requestPort and releasePort for the same IP and protocol as the call before) is kept small
  // enough that V8 inlines it whole into a caller's loop.
  declare readonly begin: number
  declare readonly end: number
  declare private readonly os: OsPorts | undefined
  declare private tables: Tables
  // The pool of the last (ip, proto) as the caller spelled them: consecutive calls for the same
  // address and protocol (the usual case) skip validation, canonicalisation and the look-ups.
  // It starts as (null, 'tcp'): the 0.0.0.0/tcp pool is made with the allocator.
  declare private lastIp: string | null | undefined
  declare private lastProto: string
  declare private lastTable: ProtocolPorts
  declare private lastPool: Pool

  constructor(options: PortAllocatorOptions = {}) {
    const range = resolvePortRange(options)
    this.begin = range.begin
    this.end = range.end
    this.os = options.syncWithOS === false ? undefined : new OsPorts()
    this.tables = this.newTables()
    this.lastTable = this.tables.tcp
    this.lastPool = this.pool(null, 'tcp')
  }

  /** Whether this allocator keeps itself in sync with the ports the OS has bound. */
  get syncWithOS(): boolean {
    return this.os !== undefined
  }

  /**
   * Reserves `port` on `ip` (default `0.0.0.0`) for `proto` and returns it; with `port` 0 or
   * absent, reserves and returns the next free port of the range. `options` apply to a port given
   * by number.
   * @throws `ERR_PORT_ALREADY_ALLOCATED`, `ERR_ALL_PORTS_ALLOCATED`, `ERR_UNKNOWN_PROTOCOL`,
   * `ERR_INVALID_PORT`, `ERR_INVALID_ADDRESS`
   */
  requestPort(ip: string | null | undefined, proto: Protocol, port?: number, options?: PortRequestOptions): number {
    if (port !== undefined && port !== null && port !== 0) return this.requestGiven(ip, proto, port, options)
    const pool = ip === this.lastIp && proto === this.lastProto ? this.lastPool : this.pool(ip, proto)
    if (this.os?.isStale()) this.sync()
    // ProtocolPorts.anyIn, written out here as releaseIn is below
    const i = pool.holdNext()
    if (i < 0) throw new AllPortsAllocatedError()
    if (!pool.exclusive) this.lastTable.shareHold(pool, this.begin + i)
    return this.begin + i
  }

  /**
   * Reserves a contiguous block of ports and returns its first and last port: exactly
   * `start`–`end`, or with `start` = `end` = 0 the first free block of `count` ports (default 1)
   * after the last port handed out. All or nothing. `options` apply to a block given by number.
   * @throws as {@link requestPort}
   */
  requestPortRange(
    ip: string | null | undefined,
    proto: Protocol,
    start: number,
    end: number,
    count?: number,
    options?: PortRequestOptions,
  ): [number, number] {
    const table = this.table(proto)
    const addr = canonicalIP(ip)
    if (start === 0 && end === 0) return this.anyBlock(table, addr, count ?? 1)
    const [first, last] = parsePortRange(start, end)
    if (count !== undefined && count !== last - first + 1) {
      throw new InvalidPortError(count, `a block of ${first}-${last} has ${last - first + 1} ports`, `count ${count}`)
    }
    this.ensureFree(table, addr, first, last, options?.osChecked === true)
    for (let port = first; port <= last; port++) table.take(addr, port)
    return [first, last]
  }

  /** Releases `port` on `ip` for `proto`. Releasing a port that is not held is a no-op. */
  releasePort(ip: string | null | undefined, proto: Protocol, port: number): void {
    if (ip === this.lastIp && proto === this.lastProto && isValidPort(port)) {
      // ProtocolPorts.releaseIn, written out here: one call less on the hot path keeps it inlined
      const pool = this.lastPool
      if (pool.exclusive && (this.os === undefined || this.os.unbound(proto, port))) pool.release(port)
      else this.lastTable.releaseIn(pool, port)
    } else {
      this.releaseOther(ip, proto, port)
    }
  }

  /** Releases every port of `start`–`end` on `ip` for `proto` (the inverse of {@link requestPortRange}). */
  releasePortRange(ip: string | null | undefined, proto: Protocol, start: number, end: number): void {
    const table = this.table(proto)
    const addr = canonicalIP(ip)
    const [first, last] = parsePortRange(start, end)
    for (let port = first; port <= last; port++) table.release(addr, port)
  }

  /** Releases every port of every IP and protocol; the range stays. */
  releaseAll(): void {
    this.tables = this.newTables()
    this.lastPool = this.pool(null, 'tcp')
  }

  private requestGiven(
    ip: string | null | undefined,
    proto: Protocol,
    port: number,
    options: PortRequestOptions | undefined,
  ): number {
    const table = this.table(proto)
    const addr = canonicalIP(ip)
    const wanted = parsePort(port)
    this.ensureFree(table, addr, wanted, wanted, options?.osChecked === true)
    table.take(addr, wanted)
    return wanted
  }

  private anyBlock(table: ProtocolPorts, addr: string, count: number): [number, number] {
    const size = this.end - this.begin + 1
    if (!Number.isInteger(count) || count < 1 || count > size) {
      throw new InvalidPortError(
        count,
        `expected an integer from 1 to ${size}, the size of the range`,
        `count ${count}`,
      )
    }
    this.syncIfStale()
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
   * closed a moment ago does not block it. With `osChecked`, the snapshot is neither read nor
   * consulted (the caller checked the OS itself).
   */
  private ensureFree(table: ProtocolPorts, addr: string, first: number, last: number, osChecked: boolean): void {
    if (osChecked) {
      for (let port = first; port <= last; port++) {
        if (table.conflict(addr, port) === 'allocator') throw new PortAlreadyAllocatedError(addr, port, false)
      }
      return
    }
    let fresh = this.syncIfStale()
    for (let port = first; port <= last; port++) {
      let conflict = table.conflict(addr, port)
      if (conflict === 'os' && !fresh) {
        this.sync()
        fresh = true
        conflict = table.conflict(addr, port)
      }
      if (conflict !== undefined) throw new PortAlreadyAllocatedError(addr, port, conflict === 'os')
    }
  }

  /** Re-reads the OS tables when the snapshot is stale; true when it did. */
  private syncIfStale(): boolean {
    if (this.os === undefined || !this.os.isStale()) return false
    this.sync()
    return true
  }

  private sync(): void {
    if (this.os === undefined) return
    const changed = this.os.refresh()
    this.tables.tcp.osChanged(changed.tcp)
    this.tables.udp.osChanged(changed.udp)
  }

  /** The pool of (`ip`, `proto`), validated, made when new, and remembered. */
  private pool(ip: string | null | undefined, proto: Protocol): Pool {
    const table = this.table(proto)
    const pool = table.pool(canonicalIP(ip))
    this.remember(ip, proto, table, pool)
    return pool
  }

  /** {@link releasePort} for another (ip, proto) than the last one. */
  private releaseOther(ip: string | null | undefined, proto: Protocol, port: number): void {
    const table = this.table(proto)
    const addr = canonicalIP(ip)
    const valid = parsePort(port)
    const pool = table.find(addr)
    if (pool === undefined) return
    this.remember(ip, proto, table, pool)
    table.releaseIn(pool, valid)
  }

  private remember(ip: string | null | undefined, proto: Protocol, table: ProtocolPorts, pool: Pool): void {
    this.lastIp = ip
    this.lastProto = proto
    this.lastTable = table
    this.lastPool = pool
  }

  private table(proto: Protocol): ProtocolPorts {
    return this.tables[parseProtocol(proto)]
  }

  private newTables(): Tables {
    return {
      tcp: new ProtocolPorts('tcp', this.begin, this.end, this.os),
      udp: new ProtocolPorts('udp', this.begin, this.end, this.os),
      sctp: new ProtocolPorts('sctp', this.begin, this.end, this.os),
    }
  }
}
