import { existsSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { osBindConflicts } from './address.js'
import { addSocketTable, type BoundPorts } from './proc-net.js'
import type { Protocol } from './protocol.js'

/** The protocols whose kernel socket tables are read. SCTP has none in /proc/net/{tcp,udp}. */
export type SyncedProtocol = 'tcp' | 'udp'

/** Ports whose set of bound addresses changed in a refresh, per protocol. */
export type ChangedPorts = Record<SyncedProtocol, number[]>

/** The shortest time a snapshot is trusted before the next request re-reads the tables. */
export const OS_SYNC_MIN_INTERVAL_MS = 100
/** The longest time a snapshot is trusted, however slow the tables are to read. */
export const OS_SYNC_MAX_INTERVAL_MS = 2000
/** A snapshot is trusted for this many times the time its read took (so reading costs ≤ 2%). */
export const OS_SYNC_COST_FACTOR = 50

const TABLES: ReadonlyArray<[SyncedProtocol, string, boolean]> = [
  ['tcp', 'tcp', true],
  ['tcp', 'tcp6', true],
  ['udp', 'udp', false],
  ['udp', 'udp6', false],
]

/** Without a timer firing, the clock is read on one staleness check in this many. */
export const OS_SYNC_CLOCK_EVERY = 64

export interface OsPortsOptions {
  /** Reads one table by name (`tcp`, `tcp6`, `udp`, `udp6`); throws when it is missing. */
  read?: (table: string) => string
  /** A monotonic clock in milliseconds. */
  now?: () => number
  /** Read the clock on one staleness check in this many (default {@link OS_SYNC_CLOCK_EVERY}). */
  clockEvery?: number
  /** Also mark the snapshot stale from an unref'd timer when its interval ends (default true). */
  timer?: boolean
}

/**
 * A cached snapshot of the ports the kernel has bound in the calling thread's network namespace:
 * listening TCP sockets and bound UDP sockets, IPv4 and IPv6. The tables are read synchronously
 * (on the calling thread, so a thread switched into another namespace sees that namespace) and
 * trusted for max(100 ms, 50 × the read's duration), at most 2 s.
 *
 * Reading the clock costs about as much as handing out a port, so {@link isStale} does not read
 * it on every call: an unref'd timer marks the snapshot stale when its interval ends (that covers
 * a request after an idle period), and the clock is read on every 64th check (that covers a long
 * synchronous burst, during which timers cannot fire). Once stale, it stays stale until
 * {@link refresh}.
 */
export class OsPorts {
  readonly #read: (table: string) => string
  readonly #now: () => number
  readonly #clockEvery: number
  readonly #timer: boolean
  #bound: Record<SyncedProtocol, BoundPorts> = { tcp: new Map(), udp: new Map() }
  // Bit p: the snapshot has a socket bound to port p on some address (a quick "no" for `conflicts`).
  #tcpPorts: Uint32Array = new Uint32Array(2048)
  #udpPorts: Uint32Array = new Uint32Array(2048)
  #readAt = Number.NEGATIVE_INFINITY
  #interval = OS_SYNC_MIN_INTERVAL_MS
  #reads = 0
  #expired = true
  /** Checks left before {@link isStale} reads the clock; below zero means "look now". */
  #countdown = 0
  #timeout: ReturnType<typeof setTimeout> | undefined

  constructor(options: OsPortsOptions = {}) {
    this.#read = options.read ?? readProcNetTable
    this.#now = options.now ?? (() => performance.now())
    this.#clockEvery = options.clockEvery ?? OS_SYNC_CLOCK_EVERY
    this.#timer = options.timer ?? true
  }

  /**
   * True when the snapshot is older than its refresh interval (always before the first read). A
   * method, not a getter: V8 cannot weigh how often a getter's calls run, and would inline the
   * rare clock read into every caller.
   */
  isStale(): boolean {
    // one decrement on the hot path; the timer and refresh set the countdown
    return --this.#countdown < 0 && this.#look()
  }

  #look(): boolean {
    if (!this.#expired && this.#now() - this.#readAt < this.#interval) {
      this.#countdown = this.#clockEvery - 1
      return false
    }
    this.#expired = true
    this.#countdown = 0 // every check says so until refresh()
    return true
  }

  /** How many times the tables were read. */
  get reads(): number {
    return this.#reads
  }

  /** How long the current snapshot is trusted, in milliseconds. */
  get interval(): number {
    return this.#interval
  }

  /** Re-reads the tables now; returns the ports whose bound addresses changed. */
  refresh(): ChangedPorts {
    const started = this.#now()
    const next: Record<SyncedProtocol, BoundPorts> = { tcp: new Map(), udp: new Map() }
    for (const [proto, table, listeningOnly] of TABLES) {
      let text: string
      try {
        text = this.#read(table)
      } catch {
        continue // no IPv6, or no /proc: nothing bound that we can see
      }
      addSocketTable(next[proto], text, listeningOnly)
    }
    const changed = { tcp: diff(this.#bound.tcp, next.tcp), udp: diff(this.#bound.udp, next.udp) }
    this.#bound = next
    this.#tcpPorts = portBits(next.tcp)
    this.#udpPorts = portBits(next.udp)
    this.#reads++
    this.#readAt = this.#now()
    const cost = this.#readAt - started
    this.#interval = Math.min(OS_SYNC_MAX_INTERVAL_MS, Math.max(OS_SYNC_MIN_INTERVAL_MS, cost * OS_SYNC_COST_FACTOR))
    this.#expired = false
    this.#countdown = this.#clockEvery - 1
    if (this.#timer) this.#expireLater()
    return changed
  }

  #expireLater(): void {
    clearTimeout(this.#timeout)
    this.#timeout = setTimeout(() => {
      this.#expired = true
      this.#countdown = 0
    }, this.#interval)
    this.#timeout.unref()
  }

  /**
   * Whether, per the snapshot, no socket is bound to `port` (1–65535) on any address: then it
   * {@link conflicts} with no address. One bit test.
   */
  unbound(proto: Protocol, port: number): boolean {
    const bits = proto === 'tcp' ? this.#tcpPorts : proto === 'udp' ? this.#udpPorts : undefined
    return bits === undefined || (((bits[port >>> 5] as number) >>> (port & 31)) & 1) === 0
  }

  /**
   * Whether, per the snapshot, a socket already bound keeps `ip` (canonical) from binding `port`.
   * A bound address for which `own` is true is left out: the caller's own allocation of that very
   * address and port (the socket that holds it, as a port mapper holds its published ports).
   */
  conflicts(proto: Protocol, ip: string, port: number, own?: (bound: string) => boolean): boolean {
    if (proto === 'sctp') return false
    const addresses = this.#bound[proto].get(port)
    if (addresses === undefined) return false
    for (const bound of addresses) if (osBindConflicts(ip, bound) && !own?.(bound)) return true
    return false
  }

  /** The snapshot's bound ports for a protocol. */
  bound(proto: Protocol): ReadonlyMap<number, readonly string[]> {
    return proto === 'sctp' ? new Map() : this.#bound[proto]
  }
}

let procBase: string | undefined

/**
 * Reads `/proc/thread-self/net/<table>` (the calling thread's namespace), or `/proc/net/<table>`
 * on kernels older than 3.17.
 */
export function readProcNetTable(table: string): string {
  procBase ??= existsSync('/proc/thread-self/net') ? '/proc/thread-self/net' : '/proc/net'
  return readFileSync(`${procBase}/${table}`, 'latin1')
}

function portBits(bound: BoundPorts): Uint32Array {
  const bits = new Uint32Array(2048)
  for (const port of bound.keys()) bits[port >>> 5] = (bits[port >>> 5] as number) | (1 << (port & 31))
  return bits
}

function diff(before: BoundPorts, after: BoundPorts): number[] {
  const changed: number[] = []
  for (const [port, addresses] of after) {
    const old = before.get(port)
    if (old === undefined || old.length !== addresses.length || !old.every((a) => addresses.includes(a))) {
      changed.push(port)
    }
  }
  for (const port of before.keys()) if (!after.has(port)) changed.push(port)
  return changed
}
