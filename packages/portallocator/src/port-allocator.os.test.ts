import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ERR_ALL_PORTS_ALLOCATED, ERR_PORT_ALREADY_ALLOCATED, PortAlreadyAllocatedError } from './errors.js'
import { OS_SYNC_MIN_INTERVAL_MS } from './os-ports.js'
import { PortAllocator } from './port-allocator.js'

// The kernel's socket tables and the clock, faked: this file pins the OS-sync policy exactly.
const fake = vi.hoisted(() => ({
  tables: { tcp: [], tcp6: [], udp: [], udp6: [] } as Record<string, string[]>,
  time: 0,
  reads: 0,
}))

vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>()
  const readFileSync = ((path: unknown, ...rest: unknown[]) => {
    const m = /^\/proc\/(?:thread-self\/)?net\/(tcp6?|udp6?)$/.exec(String(path))
    if (m === null) return (real.readFileSync as (...args: unknown[]) => unknown)(path, ...rest)
    fake.reads++
    return ['  sl  local_address rem_address   st', ...(fake.tables[m[1] as string] ?? []), ''].join('\n')
  }) as typeof real.readFileSync
  return { ...real, default: { ...real, readFileSync }, readFileSync }
})

vi.mock('node:perf_hooks', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:perf_hooks')>()
  return { ...real, performance: { now: () => fake.time } }
})

const HEX: Record<string, string> = {
  '0.0.0.0': '00000000',
  '127.0.0.1': '0100007F',
  '10.0.0.1': '0100000A',
  '::': '00000000000000000000000000000000',
  '::1': '00000000000000000000000001000000',
}

/** Binds (in the fake tables) a socket: a TCP listener or a UDP socket. */
function bind(proto: 'tcp' | 'udp', ip: string, port: number, state = proto === 'tcp' ? '0A' : '07'): void {
  const table = ip.includes(':') ? `${proto}6` : proto
  const line = `   0: ${HEX[ip]}:${port.toString(16).padStart(4, '0')} 00000000:0000 ${state} 0`
  fake.tables[table]?.push(line)
}

function closeAll(): void {
  fake.tables = { tcp: [], tcp6: [], udp: [], udp6: [] }
}

/** Lets time pass: the clock moves and the snapshot's expiry timer fires. */
function later(ms = 60_000): void {
  fake.time += ms
  vi.advanceTimersByTime(ms)
}

function refreshes(): number {
  return fake.reads / 4
}

function allocator(begin = 8000, end = 8009): PortAllocator {
  return new PortAllocator({ begin, end })
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  closeAll()
  fake.time = 1_000_000
  fake.reads = 0
})

afterEach(() => {
  vi.useRealTimers()
})

describe('PortAllocator in sync with the OS', () => {
  it('is on by default', () => {
    expect(allocator().syncWithOS).toBe(true)
    expect(new PortAllocator({ syncWithOS: false, begin: 1, end: 2 }).syncWithOS).toBe(false)
  })

  it('never hands out a port the OS has bound, and refuses it by number saying the OS uses it', () => {
    bind('tcp', '127.0.0.1', 8000)
    bind('udp', '0.0.0.0', 8001)
    const p = allocator()
    expect(p.requestPort('127.0.0.1', 'tcp')).toBe(8001)
    expect(p.requestPort('127.0.0.1', 'udp')).toBe(8000)
    expect(p.requestPort('127.0.0.1', 'udp')).toBe(8002)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8000) // another address: the listener does not block it
    // 0.0.0.0 covers every IPv4 address: 8000 is bound by the OS (and held by 10.0.0.1), 8001 held by 127.0.0.1
    expect(p.requestPort(null, 'tcp')).toBe(8002)
    const err = (() => {
      try {
        p.requestPort('127.0.0.1', 'tcp', 8000)
      } catch (e) {
        return e as PortAlreadyAllocatedError
      }
    })()
    expect(err).toBeInstanceOf(PortAlreadyAllocatedError)
    expect(err).toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, ip: '127.0.0.1', port: 8000, byOS: true })
    expect(err?.message).toMatch(
      /^Bind for 127\.0\.0\.1:8000 failed: port is already allocated \(the OS already uses it/,
    )
  })

  it('applies the OS rule for wildcards and dual-stack sockets', () => {
    bind('tcp', '::', 8000)
    bind('tcp', '::1', 8001)
    bind('tcp', '0.0.0.0', 8002)
    const p = allocator()
    const refused = (ip: string, port: number): boolean => {
      try {
        p.requestPort(ip, 'tcp', port)
        p.releasePort(ip, 'tcp', port)
        return false
      } catch (err) {
        return (err as { byOS?: boolean }).byOS === true
      }
    }
    // a socket on :: is dual-stack by default: it blocks IPv4 too
    expect([refused('10.0.0.1', 8000), refused('0.0.0.0', 8000), refused('::1', 8000)]).toEqual([true, true, true])
    // ::1 blocks ::1 and ::, not IPv4 or another IPv6 address
    expect([refused('::1', 8001), refused('::', 8001), refused('fd00::1', 8001), refused('0.0.0.0', 8001)]).toEqual([
      true,
      true,
      false,
      false,
    ])
    // 0.0.0.0 blocks every IPv4 address and ::, not ::1
    expect([refused('10.0.0.1', 8002), refused('::', 8002), refused('::1', 8002)]).toEqual([true, true, false])
    expect(p.requestPort('::1', 'tcp')).toBe(8002)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8001)
  })

  it('does not take the socket holding its own allocation for a conflict (a mapping published on 0.0.0.0 and then ::)', () => {
    const p = allocator()
    // A port mapper takes 0.0.0.0:8005 and holds it with a bound socket, which the next read sees.
    expect(p.requestPort('0.0.0.0', 'udp', 8005)).toBe(8005)
    bind('udp', '0.0.0.0', 8005)
    later() // the snapshot is stale: the next request reads the tables again
    // The same mapping's IPv6 half: that socket is the allocator's own 0.0.0.0:8005, not a conflict.
    expect(p.requestPort('::', 'udp', 8005)).toBe(8005)
    // Another program's 0.0.0.0 socket still keeps :: out.
    bind('udp', '0.0.0.0', 8006)
    later()
    expect(() => p.requestPort('::', 'udp', 8006)).toThrow(PortAlreadyAllocatedError)
    // Released, the allocator's own socket counts as anyone's again.
    p.releasePort('::', 'udp', 8005)
    p.releasePort('0.0.0.0', 'udp', 8005)
    later()
    expect(() => p.requestPort('::', 'udp', 8005)).toThrow(PortAlreadyAllocatedError)
  })

  it('counts listening TCP and every bound UDP socket, not established TCP connections', () => {
    bind('tcp', '127.0.0.1', 8000, '01')
    bind('tcp', '127.0.0.1', 8001, '06')
    bind('udp', '127.0.0.1', 8000, '01')
    const p = allocator()
    expect(p.requestPort('127.0.0.1', 'tcp')).toBe(8000)
    expect(p.requestPort('127.0.0.1', 'tcp')).toBe(8001)
    expect(p.requestPort('127.0.0.1', 'udp')).toBe(8001)
  })

  it('reads the tables once per interval, not on every request', () => {
    const p = allocator(10000, 60000)
    for (let i = 0; i < 10_000; i++) p.requestPort(null, 'tcp')
    for (let i = 10000; i < 10100; i++) p.requestPort('10.0.0.1', 'udp', i)
    for (let i = 10000; i < 10100; i++) p.releasePort('10.0.0.1', 'udp', i)
    expect(refreshes()).toBe(1)
    later(OS_SYNC_MIN_INTERVAL_MS - 1)
    for (let i = 0; i < 1000; i++) p.requestPort(null, 'tcp')
    expect(refreshes()).toBe(1)
    later(1)
    p.requestPort(null, 'tcp')
    p.requestPort(null, 'tcp')
    expect(refreshes()).toBe(2)
  })

  it('sees a socket bound since its last read once the interval has passed', () => {
    const p = allocator()
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    bind('tcp', '0.0.0.0', 8001)
    later()
    expect(p.requestPort(null, 'tcp')).toBe(8002)
    expect(() => p.requestPort(null, 'tcp', 8001)).toThrow(/the OS already uses it/)
  })

  it('re-reads before refusing a port by number, so a socket closed a moment ago does not block it', () => {
    bind('tcp', '127.0.0.1', 8005)
    const p = allocator()
    expect(() => p.requestPort('127.0.0.1', 'tcp', 8005)).toThrow(/the OS already uses it/)
    expect(refreshes()).toBe(1) // the snapshot was read for this very request: no second read
    closeAll()
    expect(p.requestPort('127.0.0.1', 'tcp', 8005)).toBe(8005) // within the interval, yet granted
    expect(refreshes()).toBe(2)
    expect(() => p.requestPort('127.0.0.1', 'tcp', 8005)).toThrow(
      /^Bind for 127\.0\.0\.1:8005 failed: port is already allocated$/,
    )
  })

  it('hands a port out again once its socket closes, even one released while the socket was open', () => {
    const p = allocator(8000, 8001)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    bind('tcp', '0.0.0.0', 8000) // its owner listens on it
    later()
    expect(p.requestPort(null, 'tcp')).toBe(8001)
    p.releasePort(null, 'tcp', 8000) // released, but the socket is still open
    expect(() => p.requestPort(null, 'tcp')).toThrow(expect.objectContaining({ code: ERR_ALL_PORTS_ALLOCATED }))
    closeAll()
    later()
    expect(p.requestPort(null, 'tcp')).toBe(8000)
  })

  it('reports a full range when the OS holds all of it, and recovers when it lets go', () => {
    for (let port = 8000; port <= 8009; port++) bind('udp', '0.0.0.0', port)
    const p = allocator()
    expect(() => p.requestPort(null, 'udp')).toThrow(expect.objectContaining({ code: ERR_ALL_PORTS_ALLOCATED }))
    expect(() => p.requestPortRange('10.0.0.1', 'udp', 0, 0, 2)).toThrow(/all ports are allocated/)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    closeAll()
    bind('udp', '0.0.0.0', 8004)
    later()
    expect(p.requestPortRange('10.0.0.1', 'udp', 0, 0, 3)).toEqual([8000, 8002])
    expect(p.requestPortRange('10.0.0.1', 'udp', 0, 0, 2)).toEqual([8005, 8006]) // 8003 alone does not fit
    expect(p.requestPort(null, 'udp')).toBe(8003)
  })

  it('refuses an exact block that contains a port the OS has bound, naming that port', () => {
    bind('tcp', '127.0.0.1', 8004)
    const p = allocator()
    expect(() => p.requestPortRange(null, 'tcp', 8002, 8006)).toThrow(
      expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED, port: 8004, byOS: true }),
    )
    expect(p.requestPortRange(null, 'tcp', 8005, 8006)).toEqual([8005, 8006])
  })

  it('notices an expired snapshot in a long synchronous burst, when no timer can fire', () => {
    const p = allocator(10000, 60000)
    p.requestPort(null, 'tcp')
    fake.time += OS_SYNC_MIN_INTERVAL_MS // the clock moves, but the timer does not fire
    for (let i = 0; i < 100; i++) p.requestPort(null, 'tcp')
    expect(refreshes()).toBe(2)
  })

  it('keeps two instances apart through the ports their owners bind', () => {
    const a = allocator()
    const b = allocator()
    const port = a.requestPort('127.0.0.1', 'tcp')
    bind('tcp', '127.0.0.1', port) // a's owner listens
    later()
    expect(b.requestPort('127.0.0.1', 'tcp')).not.toBe(port)
    expect(() => b.requestPort(null, 'tcp', port)).toThrow(/the OS already uses it/)
  })

  it('does not read the tables at all without syncWithOS', () => {
    bind('tcp', '0.0.0.0', 8000)
    const p = new PortAllocator({ begin: 8000, end: 8009, syncWithOS: false })
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    expect(p.requestPort(null, 'tcp', 8005)).toBe(8005)
    expect(fake.reads).toBe(0)
  })

  it('takes a port the caller checked against the OS itself (osChecked) without reading the tables; its own reservations still conflict', () => {
    bind('tcp', '0.0.0.0', 8080) // what a stale snapshot shows: the caller has just seen it closed
    const p = allocator()
    expect(() => p.requestPort(null, 'tcp', 8080)).toThrow(PortAlreadyAllocatedError)
    later() // the snapshot is stale: a plain request would read the tables again
    const read = refreshes()
    expect(p.requestPort(null, 'tcp', 8080, { osChecked: true })).toBe(8080)
    expect(p.requestPortRange('127.0.0.1', 'udp', 9000, 9003, undefined, { osChecked: true })).toEqual([9000, 9003])
    expect(refreshes()).toBe(read)
    expect(() => p.requestPort('127.0.0.1', 'tcp', 8080, { osChecked: true })).toThrow(
      expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED, byOS: false }),
    )
    expect(() => p.requestPortRange(null, 'udp', 9003, 9004, undefined, { osChecked: true })).toThrow(
      expect.objectContaining({ code: ERR_PORT_ALREADY_ALLOCATED, port: 9003, byOS: false }),
    )
    expect(refreshes()).toBe(read)
  })

  it('does not sync SCTP (the tables have none)', () => {
    bind('tcp', '0.0.0.0', 8000)
    bind('udp', '0.0.0.0', 8000)
    expect(allocator().requestPort(null, 'sctp')).toBe(8000)
  })
})
