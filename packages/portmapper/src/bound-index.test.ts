import { describe, expect, it } from 'vitest'
import { EMPTY_BOUND_INDEX, indexBound } from './bound-index.js'

describe('indexBound', () => {
  const list = [
    { proto: 'tcp' as const, family: 4 as const, ip: '0.0.0.0', port: 80 },
    { proto: 'tcp' as const, family: 6 as const, ip: '::', port: 80 },
    { proto: 'tcp' as const, family: 4 as const, ip: '127.0.0.1', port: 8080 },
  ]
  it('answers the sockets of one port, and none for a port nothing has bound', () => {
    const index = indexBound(list)
    expect(index.on(80).map((b) => b.ip)).toEqual(['0.0.0.0', '::'])
    expect(index.on(8080)).toHaveLength(1)
    expect(index.on(9)).toEqual([])
    expect(EMPTY_BOUND_INDEX.on(80)).toEqual([])
  })
  it('asks its filter at each lookup (a port released after the read is left out from then on)', () => {
    const gone = new Set<string>()
    const index = indexBound(list, (b) => !gone.has(`${b.ip}:${b.port}`))
    expect(index.on(80)).toHaveLength(2)
    gone.add('0.0.0.0:80')
    expect(index.on(80).map((b) => b.ip)).toEqual(['::'])
  })
  it('indexes a socket on an IPv4-mapped IPv6 address as the IPv4 socket it blocks', () => {
    const index = indexBound([
      { proto: 'tcp', family: 6, ip: '::ffff:10.0.0.1', port: 8080 },
      { proto: 'tcp', family: 6, ip: '::ffff:a00:2', port: 8080 },
      { proto: 'tcp', family: 6, ip: 'fd00::1', port: 8080 },
    ])
    expect(index.on(8080)).toEqual([
      { proto: 'tcp', family: 4, ip: '10.0.0.1', port: 8080 },
      { proto: 'tcp', family: 4, ip: '10.0.0.2', port: 8080 },
      { proto: 'tcp', family: 6, ip: 'fd00::1', port: 8080 },
    ])
  })
  it('looks a port up in constant time however many sockets are bound', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      proto: 'tcp' as const,
      family: 4 as const,
      ip: '0.0.0.0',
      port: 1024 + i,
    }))
    const index = indexBound(many, () => true)
    const start = performance.now()
    let n = 0
    for (let i = 0; i < 20_000; i++) n += index.on(1024 + i).length
    expect(n).toBe(20_000)
    // 20,000 lookups: well under a second even on a loaded machine (a filter per port was 4e8 steps)
    expect(performance.now() - start).toBeLessThan(2000)
  })
})
