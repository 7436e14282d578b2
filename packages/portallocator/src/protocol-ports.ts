import { familyOf, isWildcard, osBindConflicts } from './address.js'
import type { OsPorts } from './os-ports.js'
import { type FamilyPools, heldBySpecific, Pool } from './pool.js'
import type { Protocol } from './protocol.js'

/** Who keeps a port from being given: this allocator, or a socket the OS has bound. */
export type Conflict = 'allocator' | 'os' | undefined

function familyPools(): FamilyPools {
  return { wildcard: undefined, specific: [] }
}

/**
 * Every pool of one protocol, and the rule between them: a port held on the family's wildcard
 * (`0.0.0.0`, `::`) conflicts with the same port on any address of that family and the reverse.
 * Each pool's free set is kept equal to {@link ProtocolPorts.isFree} for every port of the range,
 * so handing out "any" port is taking the pool's next free index. The hot paths (`anyIn`,
 * `releaseIn`) are kept small so that V8 inlines them; the work for other pools and the OS is in
 * separate methods.
 */
export class ProtocolPorts {
  // `declare` fields: see SummaryBitmap.
  declare readonly proto: Protocol
  declare readonly begin: number
  declare readonly end: number
  declare private readonly os: OsPorts | undefined
  declare private readonly ringCapacity: number | undefined
  declare private readonly pools: Map<string, Pool>
  declare private readonly v4: FamilyPools
  declare private readonly v6: FamilyPools

  /** `ringCapacity`: that of each pool's free set (tests make it small; see FreeSet). */
  constructor(proto: Protocol, begin: number, end: number, os: OsPorts | undefined, ringCapacity?: number) {
    this.proto = proto
    this.begin = begin
    this.end = end
    this.os = os
    this.ringCapacity = ringCapacity
    this.pools = new Map()
    this.v4 = familyPools()
    this.v6 = familyPools()
  }

  /** Hands out the next free port after the last one handed out to `ip`, wrapping; -1 when none. */
  any(ip: string): number {
    return this.anyIn(this.pool(ip))
  }

  /** {@link any} for a pool of this table. */
  anyIn(pool: Pool): number {
    const i = pool.holdNext()
    if (i < 0) return -1
    if (!pool.exclusive) this.shareHold(pool, this.begin + i)
    return this.begin + i
  }

  /** Releases `port` from `ip`; a port it does not hold is a no-op. */
  release(ip: string, port: number): void {
    const pool = this.find(ip)
    if (pool !== undefined) this.releaseIn(pool, port)
  }

  /** {@link release} for a pool of this table. */
  releaseIn(pool: Pool, port: number): void {
    // an exclusive pool's port is free again unless the OS has it bound
    if (pool.exclusive && (this.os === undefined || this.os.unbound(this.proto, port))) pool.release(port)
    else if (pool.unhold(port)) this.shareRelease(pool, port)
  }

  /** Why `port` cannot be given to `ip` right now, or `undefined` when it can. */
  conflict(ip: string, port: number): Conflict {
    const pool = this.find(ip)
    if (pool !== undefined ? pool.holds(port) || pool.heldByOther(port) : this.heldByOther(ip, port)) {
      return 'allocator'
    }
    // A socket on an address this allocator itself gave `port` to is its holder's own (a port
    // mapper's held 0.0.0.0:8080 must not keep the same mapping's [::]:8080 out).
    return this.os?.conflicts(this.proto, ip, port, (bound) => this.find(bound)?.holds(port) === true)
      ? 'os'
      : undefined
  }

  /** Marks `port` held by `ip`. The caller has checked {@link conflict}. */
  take(ip: string, port: number): void {
    const pool = this.pool(ip)
    pool.hold(port)
    this.shareHold(pool, port)
  }

  /** Hands out the first block of `count` contiguous free ports after the cursor; -1 when none. */
  anyBlock(ip: string, count: number): number {
    const pool = this.pool(ip)
    const size = pool.size
    const from = pool.cursor + 1 === size ? 0 : pool.cursor + 1
    let start = findRun(pool, from, size - count, count)
    if (start < 0 && from > 0) start = findRun(pool, 0, Math.min(from - 1, size - count), count)
    if (start < 0) return -1
    pool.moveCursor(start + count - 1)
    for (let port = this.begin + start; port < this.begin + start + count; port++) {
      pool.hold(port)
      this.shareHold(pool, port)
    }
    return this.begin + start
  }

  /** Brings every pool's bitmap up to date after the OS snapshot changed for `ports`. */
  osChanged(ports: readonly number[]): void {
    for (const port of ports) {
      if (port < this.begin || port > this.end) continue
      for (const pool of this.pools.values()) this.recompute(pool, port)
    }
  }

  /** Whether `port` (in range) can be given to `pool` now: the invariant its bitmap keeps. */
  isFree(pool: Pool, port: number): boolean {
    if (pool.holds(port) || pool.heldByOther(port)) return false
    return this.os === undefined || !this.os.conflicts(this.proto, pool.ip, port)
  }

  /** The pool of `ip`, made when it has none yet. */
  pool(ip: string): Pool {
    return this.find(ip) ?? this.create(ip)
  }

  /** The pool of `ip`, if it ever held a port. */
  find(ip: string): Pool | undefined {
    return this.pools.get(ip) // repeated calls are the allocator's to cache (it remembers the last pool)
  }

  /** After `pool` took `port`: take it from the pools it now conflicts with. */
  shareHold(pool: Pool, port: number): void {
    const family = pool.family
    if (port < this.begin || port > this.end) return
    const i = port - this.begin
    if (!pool.wildcard) family.wildcard?.clear(i)
    else for (const other of family.specific) other.clear(i)
  }

  /** After `pool` let go of `port`: recompute it where it may have become free. */
  private shareRelease(pool: Pool, port: number): void {
    const family = pool.family
    if (port < this.begin || port > this.end) return
    this.recompute(pool, port)
    if (!pool.wildcard) {
      if (family.wildcard !== undefined) this.recompute(family.wildcard, port)
    } else {
      for (const other of family.specific) this.recompute(other, port)
    }
  }

  /** {@link Pool.heldByOther} for an address that has no pool yet. */
  private heldByOther(ip: string, port: number): boolean {
    const family = familyOf(ip) === 4 ? this.v4 : this.v6
    if (isWildcard(ip)) return heldBySpecific(family, port)
    return family.wildcard?.holds(port) ?? false
  }

  private recompute(pool: Pool, port: number): void {
    const i = port - this.begin
    if (this.isFree(pool, port)) pool.set(i)
    else pool.clear(i)
  }

  private create(ip: string): Pool {
    const family = familyOf(ip) === 4 ? this.v4 : this.v6
    const pool = new Pool(ip, family, this.begin, this.end, this.os !== undefined, this.ringCapacity)
    const others = pool.wildcard ? family.specific : family.wildcard !== undefined ? [family.wildcard] : []
    for (const other of others) for (const port of other.heldInRange()) pool.clear(port - this.begin)
    if (this.os !== undefined) {
      for (const [port, bound] of this.os.bound(this.proto)) {
        if (port < this.begin || port > this.end) continue
        if (bound.some((b) => osBindConflicts(ip, b))) pool.clear(port - this.begin)
      }
    }
    if (pool.wildcard) {
      family.wildcard = pool
      if (family.specific.length === 0) pool.makeExclusive()
    } else {
      family.specific.push(pool)
      family.wildcard?.share()
    }
    this.pools.set(ip, pool)
    return pool
  }
}

/** The first index s in [from, lastStart] where `count` bits from s are all set in the pool's bitmap. */
function findRun(pool: Pool, from: number, lastStart: number, count: number): number {
  let s = from <= lastStart ? pool.next(from) : -1
  while (s >= 0 && s <= lastStart) {
    let k = 1
    while (k < count && pool.has(s + k)) k++
    if (k === count) return s
    s = s + k + 1 <= lastStart ? pool.next(s + k + 1) : -1
  }
  return -1
}
