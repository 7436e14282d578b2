import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { OsPorts } from './os-ports.js'
import { ProtocolPorts } from './protocol-ports.js'

const HEX: Record<string, string> = {
  '0.0.0.0': '00000000',
  '10.0.0.1': '0100000A',
  '10.0.0.2': '0200000A',
  '::': '00000000000000000000000000000000',
  '::1': '00000000000000000000000001000000',
}
const IPS = Object.keys(HEX)
const BEGIN = 200

function tables(bound: Array<[string, number]>): Record<string, string> {
  const out: Record<string, string> = { tcp: '', tcp6: '', udp: '', udp6: '' }
  for (const [ip, port] of bound) {
    const table = ip.includes(':') ? 'tcp6' : 'tcp'
    out[table] += `   0: ${HEX[ip]}:${port.toString(16).padStart(4, '0')} 00000000:0000 0A 0\n`
  }
  return out
}

type Op =
  | { kind: 'take'; ip: string; port: number }
  | { kind: 'release'; ip: string; port: number }
  | { kind: 'any'; ip: string; count: number }
  | { kind: 'os'; bound: Array<[string, number]> }

describe('ProtocolPorts', () => {
  it("keeps every pool's bitmap equal to isFree through takes, releases and OS changes (property)", () => {
    const size = 10
    const ip = fc.constantFrom(...IPS)
    const port = fc.integer({ min: BEGIN - 1, max: BEGIN + size })
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('take' as const), ip, port }),
      fc.record({ kind: fc.constant('release' as const), ip, port }),
      fc.record({ kind: fc.constant('any' as const), ip, count: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant('os' as const), bound: fc.array(fc.tuple(ip, port), { maxLength: 6 }) }),
    )
    fc.assert(
      // without the OS, an exclusive pool keeps its held ports as its taken ones (see Pool)
      fc.property(
        fc.array(op, { maxLength: 80 }),
        fc.constantFrom(undefined, 1, 2, 3),
        fc.boolean(),
        (ops, ringCapacity, synced) => {
          let current: Record<string, string> = tables([])
          const os = new OsPorts({ read: (t) => current[t] ?? '', now: () => 0, timer: false })
          const ports = new ProtocolPorts('tcp', BEGIN, BEGIN + size - 1, synced ? os : undefined, ringCapacity)
          const held = new Map<string, Set<number>>() // what each address was given
          const give = (ip: string, port: number): void => {
            held.set(ip, (held.get(ip) ?? new Set()).add(port))
          }
          for (const o of ops) {
            if (o.kind === 'take') {
              if (ports.conflict(o.ip, o.port) === undefined) {
                ports.take(o.ip, o.port)
                give(o.ip, o.port)
              }
            } else if (o.kind === 'release') {
              ports.release(o.ip, o.port)
              held.get(o.ip)?.delete(o.port)
            } else if (o.kind === 'any') {
              const first = o.count === 1 ? ports.any(o.ip) : ports.anyBlock(o.ip, o.count)
              for (let p = first; first >= 0 && p < first + o.count; p++) {
                expect(ports.find(o.ip)?.holds(p)).toBe(true)
                give(o.ip, p)
              }
            } else if (synced) {
              current = tables(o.bound)
              ports.osChanged(os.refresh().tcp)
            }
            for (const address of IPS) {
              const pool = ports.find(address)
              if (pool === undefined) continue
              for (let p = BEGIN; p < BEGIN + size; p++) {
                expect(pool.has(p - BEGIN), `${address}:${p}`).toBe(ports.isFree(pool, p))
              }
              const inRange = [...(held.get(address) ?? [])].filter((p) => p >= BEGIN && p < BEGIN + size)
              expect(pool.heldInRange()).toEqual(inRange.sort((a, b) => a - b))
            }
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  it('names who holds a port: this allocator or the OS', () => {
    const os = new OsPorts({ read: (t) => tables([['10.0.0.1', 300]])[t] ?? '', now: () => 0, timer: false })
    os.refresh()
    const ports = new ProtocolPorts('tcp', 100, 199, os)
    ports.take('10.0.0.2', 150)
    expect(ports.conflict('10.0.0.2', 150)).toBe('allocator')
    expect(ports.conflict('0.0.0.0', 150)).toBe('allocator')
    expect(ports.conflict('10.0.0.1', 150)).toBeUndefined()
    expect(ports.conflict('10.0.0.1', 300)).toBe('os')
    expect(ports.conflict('0.0.0.0', 300)).toBe('os')
    expect(ports.conflict('::1', 300)).toBeUndefined()
  })
})
