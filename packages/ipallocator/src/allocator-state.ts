import { formatAddress, type IPFamily, tryParseAddress } from '@cnm/ip'
import { InvalidStateError } from './errors.js'
import type { Pool } from './pool.js'

/** The saved state of one network's pool. */
export interface PoolState {
  /** Canonical network CIDR (`192.168.0.0/24`). */
  readonly network: string
  /** The sub-range given to `registerSubnet`, if any. */
  readonly subnet?: string
  /** The last address `requestIP` handed out on its own: where round-robin resumes. */
  readonly last?: string
  /** Allocated addresses, ascending: single addresses or inclusive ranges `first-last`. */
  readonly allocated: readonly string[]
}

/** What `IPAllocator#toJSON()` returns and `IPAllocator.fromJSON()` takes. */
export interface IPAllocatorState {
  readonly version: 1
  readonly pools: readonly PoolState[]
}

/** The allocated addresses of a pool as `a` / `a-b` strings. */
export function allocatedRuns(pool: Pool): string[] {
  const out: string[] = []
  for (const [a, b] of pool.runs()) {
    const first = formatAddress(pool.family, a)
    out.push(a === b ? first : `${first}-${formatAddress(pool.family, b)}`)
  }
  return out
}

/** Parses one `a` or `a-b` entry of `allocated`. Throws `ERR_INVALID_STATE`. */
export function parseRun(text: unknown, family: IPFamily, network: string): [bigint, bigint] {
  const parts = typeof text === 'string' ? text.split('-') : []
  const a = tryParseAddress(parts[0] ?? '')
  const b = parts.length === 2 ? tryParseAddress(parts[1] as string) : a
  if (parts.length > 2 || a === undefined || b === undefined || b.value < a.value) {
    throw new InvalidStateError(`state of ${network}: bad allocated entry ${JSON.stringify(text)}`)
  }
  if (a.family !== family || b.family !== family) {
    throw new InvalidStateError(`state of ${network}: allocated entry ${JSON.stringify(text)} is not IPv${family}`)
  }
  return [a.value, b.value]
}

/** Checks the shape of a saved state (not its addresses). Throws `ERR_INVALID_STATE`. */
export function checkStateShape(state: unknown): asserts state is IPAllocatorState {
  const s = state as IPAllocatorState | null
  if (typeof s !== 'object' || s === null || s.version !== 1 || !Array.isArray(s.pools)) {
    throw new InvalidStateError('not an IPAllocator state: expected { version: 1, pools: [...] }')
  }
  for (const pool of s.pools as unknown[]) {
    const p = pool as PoolState | null
    const ok =
      typeof p === 'object' &&
      p !== null &&
      typeof p.network === 'string' &&
      (p.subnet === undefined || typeof p.subnet === 'string') &&
      (p.last === undefined || typeof p.last === 'string') &&
      Array.isArray(p.allocated)
    if (!ok) throw new InvalidStateError(`not a pool state: ${JSON.stringify(pool)}`)
  }
}
