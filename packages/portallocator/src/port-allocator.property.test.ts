import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PortAllocator } from './port-allocator.js'
import type { Protocol } from './protocol.js'

/** Written IPs and their canonical form, as the model knows it. */
const IPS: Record<string, string> = {
  '0.0.0.0': '0.0.0.0',
  '10.0.0.1': '10.0.0.1',
  '::ffff:10.0.0.1': '10.0.0.1',
  '10.0.0.2': '10.0.0.2',
  '::': '::',
  '0:0::0': '::',
  '::1': '::1',
  'FD00::1': 'fd00::1',
}

type Op =
  | { kind: 'any'; ip: string | null; proto: Protocol }
  | { kind: 'port'; ip: string | null; proto: Protocol; port: number }
  | { kind: 'release'; ip: string | null; proto: Protocol; port: number }
  | { kind: 'block'; ip: string | null; proto: Protocol; count: number }
  | { kind: 'exact'; ip: string | null; proto: Protocol; start: number; end: number }
  | { kind: 'releaseAll' }

/** The seed's algorithm, written as plainly as possible, plus the wildcard rule. */
class Model {
  readonly held = new Map<string, Set<number>>() // `${proto} ${ip}` -> ports
  readonly last = new Map<string, number>()

  constructor(
    readonly begin: number,
    readonly end: number,
  ) {}

  conflicts(proto: Protocol, ip: string, port: number): boolean {
    const v6 = ip.includes(':')
    for (const [key, ports] of this.held) {
      const [p, other = ''] = key.split(' ')
      if (p !== proto || !ports.has(port) || other.includes(':') !== v6) continue
      if (other === ip || ip === '0.0.0.0' || ip === '::' || other === '0.0.0.0' || other === '::') return true
    }
    return false
  }

  take(proto: Protocol, ip: string, port: number): void {
    const key = `${proto} ${ip}`
    const ports = this.held.get(key) ?? new Set()
    ports.add(port)
    this.held.set(key, ports)
  }

  any(proto: Protocol, ip: string, count: number): number | string {
    const n = this.end - this.begin + 1
    const key = `${proto} ${ip}`
    const from = ((this.last.get(key) ?? this.end) - this.begin + 1) % n
    const starts: number[] = []
    for (let s = from; s <= n - count; s++) starts.push(s)
    for (let s = 0; s < from && s <= n - count; s++) starts.push(s)
    for (const s of starts) {
      const ports = Array.from({ length: count }, (_, k) => this.begin + s + k)
      if (ports.some((port) => this.conflicts(proto, ip, port))) continue
      for (const port of ports) this.take(proto, ip, port)
      this.last.set(key, this.begin + s + count - 1)
      return this.begin + s
    }
    return 'ERR_ALL_PORTS_ALLOCATED'
  }

  apply(op: Op): unknown {
    if (op.kind === 'releaseAll') {
      this.held.clear()
      this.last.clear()
      return undefined
    }
    const ip = IPS[op.ip ?? '0.0.0.0'] as string
    switch (op.kind) {
      case 'any':
        return this.any(op.proto, ip, 1)
      case 'block': {
        if (op.count > this.end - this.begin + 1) return 'ERR_INVALID_PORT' // a block larger than the range
        const first = this.any(op.proto, ip, op.count)
        return typeof first === 'number' ? [first, first + op.count - 1] : first
      }
      case 'port':
        if (this.conflicts(op.proto, ip, op.port)) return 'ERR_PORT_ALREADY_ALLOCATED'
        this.take(op.proto, ip, op.port)
        return op.port
      case 'exact':
        for (let p = op.start; p <= op.end; p++)
          if (this.conflicts(op.proto, ip, p)) return 'ERR_PORT_ALREADY_ALLOCATED'
        for (let p = op.start; p <= op.end; p++) this.take(op.proto, ip, p)
        return [op.start, op.end]
      case 'release':
        this.held.get(`${op.proto} ${ip}`)?.delete(op.port)
        return undefined
    }
  }
}

function run(allocator: PortAllocator, op: Op): unknown {
  try {
    switch (op.kind) {
      case 'any':
        return allocator.requestPort(op.ip, op.proto)
      case 'port':
        return allocator.requestPort(op.ip, op.proto, op.port)
      case 'release':
        return allocator.releasePort(op.ip, op.proto, op.port)
      case 'block':
        return allocator.requestPortRange(op.ip, op.proto, 0, 0, op.count)
      case 'exact':
        return allocator.requestPortRange(op.ip, op.proto, op.start, op.end)
      case 'releaseAll':
        return allocator.releaseAll()
    }
  } catch (err) {
    return (err as { code: string }).code
  }
}

const BEGIN = 100

function opArbitrary(size: number): fc.Arbitrary<Op> {
  const ip = fc.constantFrom<string | null>(null, ...Object.keys(IPS))
  const proto = fc.constantFrom<Protocol>('tcp', 'udp')
  const port = fc.integer({ min: BEGIN - 2, max: BEGIN + size + 1 })
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('any' as const), ip, proto }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('port' as const), ip, proto, port }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('release' as const), ip, proto, port }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('block' as const), ip, proto, count: fc.integer({ min: 1, max: 3 }) }),
    },
    {
      weight: 1,
      arbitrary: fc
        .record({ ip, proto, start: port, length: fc.integer({ min: 0, max: 3 }) })
        .map(({ start, length, ...rest }) => ({ kind: 'exact' as const, ...rest, start, end: start + length })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'releaseAll' as const }) },
  )
}

/** Holdings built only from what the allocator returned: no port may be held by two conflicting owners. */
function assertNoDoubleGrant(grants: Map<string, Set<string>>): void {
  for (const [key, ips] of grants) {
    const list = [...ips]
    for (const a of list) {
      for (const b of list) {
        if (a === b) continue
        const sameFamily = a.includes(':') === b.includes(':')
        const wild = (ip: string): boolean => ip === '0.0.0.0' || ip === '::'
        if (sameFamily && (wild(a) || wild(b))) throw new Error(`${key} granted to both ${a} and ${b}`)
      }
    }
  }
}

function record(grants: Map<string, Set<string>>, op: Op, result: unknown): void {
  if (op.kind === 'releaseAll') {
    grants.clear()
    return
  }
  const ip = IPS[op.ip ?? '0.0.0.0'] as string
  const add = (port: number): void => {
    const key = `${op.proto}/${port}`
    const set = grants.get(key) ?? new Set<string>()
    if (set.has(ip)) throw new Error(`${key} granted twice to ${ip}`)
    set.add(ip)
    grants.set(key, set)
  }
  if (op.kind === 'release') grants.get(`${op.proto}/${op.port}`)?.delete(ip)
  else if (typeof result === 'number') add(result)
  else if (Array.isArray(result)) for (let p = result[0] as number; p <= (result[1] as number); p++) add(p)
}

function agrees(scenario: fc.Arbitrary<[number, Op[]]>, numRuns: number): void {
  fc.assert(
    fc.property(scenario, ([size, ops]) => {
      const allocator = new PortAllocator({ begin: BEGIN, end: BEGIN + size - 1, syncWithOS: false })
      const model = new Model(BEGIN, BEGIN + size - 1)
      const grants = new Map<string, Set<string>>()
      for (const op of ops) {
        const got = run(allocator, op)
        expect(got).toEqual(model.apply(op))
        record(grants, op, got)
        assertNoDoubleGrant(grants)
      }
    }),
    { numRuns },
  )
}

describe('PortAllocator: property test against a simple model', () => {
  it('agrees with the model on larger ranges, filled and churned (property)', () => {
    // ranges larger than a pool's ring (512 free ports), mostly "any" requests: the ring is
    // refilled, wraps, and covers the whole range once it is nearly full
    const fillThenChurn = fc
      .integer({ min: 13, max: 700 })
      .chain((size) =>
        fc.tuple(
          fc.constant(size),
          fc.integer({ min: 0, max: size + 2 }),
          fc.array(opArbitrary(size), { minLength: 200, maxLength: 800 }),
        ),
      )
    const any: Op = { kind: 'any', ip: null, proto: 'tcp' }
    agrees(
      fillThenChurn.map(([size, fill, ops]) => [size, [...Array<Op>(fill).fill(any), ...ops]] as [number, Op[]]),
      150,
    )
  })

  it('agrees with the model and never grants one port to two conflicting holders', () => {
    const scenario = fc
      .integer({ min: 1, max: 12 })
      .chain((size) => fc.tuple(fc.constant(size), fc.array(opArbitrary(size), { maxLength: 120 })))
    agrees(scenario, 400)
  })
})
