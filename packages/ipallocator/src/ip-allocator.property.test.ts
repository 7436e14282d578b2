import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatAddress, type IPFamily } from './address.js'
import type { IPAllocatorState } from './allocator-state.js'
import { IPAllocator } from './ip-allocator.js'

/** A network as the tests write it (several spellings), its pool range, and a sub-range. */
interface Net {
  readonly spellings: readonly string[]
  readonly family: IPFamily
  readonly network: bigint
  readonly size: bigint
  readonly range: readonly [bigint, bigint]
  readonly subnet: string
  readonly subnetRange: readonly [bigint, bigint]
}

const V6 = 0x20010db8n << 96n
const NETS: readonly Net[] = [
  {
    spellings: ['10.0.0.1/29', '10.0.0.0/29', '10.0.0.7/29'],
    family: 4,
    network: 0x0a000000n,
    size: 8n,
    range: [0x0a000001n, 0x0a000006n],
    subnet: '10.0.0.0/30',
    subnetRange: [0x0a000001n, 0x0a000002n],
  },
  {
    spellings: ['10.0.1.1/31', '10.0.1.0/31'],
    family: 4,
    network: 0x0a000100n,
    size: 2n,
    range: [0x0a000100n, 0x0a000101n],
    subnet: '10.0.1.1/32',
    subnetRange: [0x0a000101n, 0x0a000101n],
  },
  {
    spellings: ['10.0.2.5/32'],
    family: 4,
    network: 0x0a000205n,
    size: 1n,
    range: [0x0a000205n, 0x0a000205n],
    subnet: '10.0.2.5/32',
    subnetRange: [0x0a000205n, 0x0a000205n],
  },
  {
    spellings: ['2001:db8::/125', '2001:DB8::7/125'],
    family: 6,
    network: V6,
    size: 8n,
    range: [V6 + 1n, V6 + 6n],
    subnet: '2001:db8::4/126',
    subnetRange: [V6 + 5n, V6 + 6n],
  },
  {
    spellings: ['2001:db8:1::/64', '2001:db8:1::1/64'],
    family: 6,
    network: V6 + (1n << 80n),
    size: 1n << 64n,
    range: [V6 + (1n << 80n) + 1n, V6 + (1n << 80n) + (1n << 64n) - 2n],
    subnet: '2001:db8:1::/124',
    subnetRange: [V6 + (1n << 80n) + 1n, V6 + (1n << 80n) + 14n],
  },
]

/** The seed's semantics in the plainest form: per network a set, a range and a cursor. */
class Model {
  readonly pools = new Map<number, { used: Set<bigint>; first: bigint; last: bigint; cursor: bigint }>()

  private pool(n: number, range = NETS[n]?.range as readonly [bigint, bigint]) {
    let pool = this.pools.get(n)
    if (pool === undefined) {
      pool = { used: new Set(), first: range[0], last: range[1], cursor: range[0] - 1n }
      this.pools.set(n, pool)
    }
    return pool
  }

  register(n: number): string {
    if (this.pools.has(n)) return 'ERR_NETWORK_ALREADY_REGISTERED'
    this.pool(n, NETS[n]?.subnetRange)
    return 'ok'
  }

  request(n: number): bigint | string {
    const pool = this.pool(n)
    let pos = pool.cursor
    for (let i = 0n; i <= pool.last - pool.first; i++) {
      pos = pos + 1n > pool.last ? pool.first : pos + 1n
      if (!pool.used.has(pos)) {
        pool.used.add(pos)
        pool.cursor = pos
        return pos
      }
    }
    return 'ERR_NO_AVAILABLE_IPS'
  }

  requestGiven(n: number, value: bigint): bigint | string {
    const existing = this.pools.get(n)
    const pool = existing ?? this.pool(n)
    let result: bigint | string = value
    if (value < pool.first || value > pool.last) result = 'ERR_IP_OUT_OF_RANGE'
    else if (pool.used.has(value)) result = 'ERR_IP_ALREADY_ALLOCATED'
    else pool.used.add(value)
    if (existing === undefined && typeof result === 'string') this.pools.delete(n)
    return result
  }

  release(n: number, value: bigint): void {
    this.pools.get(n)?.used.delete(value)
  }
}

type Op =
  | { kind: 'register'; net: number; spelling: number }
  | { kind: 'request'; net: number; spelling: number }
  | { kind: 'given'; net: number; spelling: number; offset: bigint }
  | { kind: 'release'; net: number; spelling: number; offset: bigint }
  | { kind: 'restart' }

const netIndex = fc.integer({ min: 0, max: NETS.length - 1 })
const spelling = fc.nat({ max: 5 })
const offset = fc.oneof(
  fc.bigInt({ min: -1n, max: 10n }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.constantFrom((1n << 64n) - 2n, (1n << 64n) - 1n, 1n << 64n),
)
const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('register' as const), net: netIndex, spelling }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('request' as const), net: netIndex, spelling }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('given' as const), net: netIndex, spelling, offset }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), net: netIndex, spelling, offset }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
)

function attempt(run: () => string): string {
  try {
    return run()
  } catch (err) {
    return (err as { code: string }).code
  }
}

describe('IPAllocator against the seed model (property)', () => {
  it('agrees on every result and error, across restarts', () => {
    fc.assert(
      fc.property(fc.array(ops, { maxLength: 120 }), (sequence) => {
        let allocator = new IPAllocator()
        const model = new Model()
        for (const op of sequence) {
          if (op.kind === 'restart') {
            allocator = IPAllocator.fromJSON(JSON.parse(JSON.stringify(allocator)) as IPAllocatorState)
            continue
          }
          const net = NETS[op.net] as Net
          const text = net.spellings[op.spelling % net.spellings.length] as string
          const format = (value: bigint | string): string =>
            typeof value === 'string' ? value : formatAddress(net.family, value)
          const max = net.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n
          const valueAt = (o: bigint): bigint => {
            const v = net.network + o
            return v < 0n ? 0n : v > max ? max : v
          }
          if (op.kind === 'register') {
            const register = (): string => {
              allocator.registerSubnet(text, net.subnet)
              return 'ok'
            }
            expect(attempt(register)).toBe(model.register(op.net))
          } else if (op.kind === 'request') {
            expect(attempt(() => allocator.requestIP(text))).toBe(format(model.request(op.net)))
          } else if (op.kind === 'given') {
            const value = valueAt(op.offset)
            const ip = formatAddress(net.family, value)
            expect(attempt(() => allocator.requestIP(text, ip))).toBe(format(model.requestGiven(op.net, value)))
          } else {
            const value = valueAt(op.offset)
            allocator.releaseIP(text, formatAddress(net.family, value))
            model.release(op.net, value)
          }
        }
      }),
      { numRuns: 300 },
    )
  })
})
