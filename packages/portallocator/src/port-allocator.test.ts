import { describe, expect, it } from 'vitest'
import {
  AllPortsAllocatedError,
  ERR_ALL_PORTS_ALLOCATED,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_PORT,
  ERR_PORT_ALREADY_ALLOCATED,
  ERR_UNKNOWN_PROTOCOL,
  PortAlreadyAllocatedError,
} from './errors.js'
import { PortAllocator } from './port-allocator.js'
import { systemPortRange } from './port-range.js'
import type { Protocol } from './protocol.js'

/** Without OS sync, so the machine's own sockets cannot move the seed's exact sequences. */
function allocator(begin = 49153, end = 65535): PortAllocator {
  return new PortAllocator({ begin, end, syncWithOS: false })
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}

describe('PortAllocator: the seed semantics', () => {
  it('hands out begin first, then the ports after it in order (TestRequestNewPort)', () => {
    const p = allocator()
    expect(p.requestPort(null, 'tcp', 0)).toBe(p.begin)
    expect(p.requestPort(undefined, 'tcp')).toBe(p.begin + 1)
    expect(p.requestPort('0.0.0.0', 'tcp', 0)).toBe(p.begin + 2)
  })

  it('treats a missing IP as 0.0.0.0', () => {
    const p = allocator()
    p.requestPort(undefined, 'tcp', 5000)
    const err = catchError(() => p.requestPort('0.0.0.0', 'tcp', 5000))
    expect(err).toBeInstanceOf(PortAlreadyAllocatedError)
    expect(err).toMatchObject({ ip: '0.0.0.0', port: 5000, ipPort: '0.0.0.0:5000' })
  })

  it('marks and returns a given free port, and refuses it while held (TestRequestSpecificPort)', () => {
    const p = allocator()
    expect(p.requestPort(null, 'tcp', 5000)).toBe(5000)
    const err = catchError(() => p.requestPort(null, 'tcp', 5000))
    expect(err).toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, ip: '0.0.0.0', port: 5000 })
    expect((err as Error).message).toBe('Bind for 0.0.0.0:5000 failed: port is already allocated')
    expect(err?.byOS).toBe(false)
  })

  it('frees a released port so it can be requested again (TestReleasePort, TestReuseReleasedPort)', () => {
    const p = allocator()
    expect(p.requestPort(null, 'tcp', 5000)).toBe(5000)
    p.releasePort(null, 'tcp', 5000)
    expect(p.requestPort(null, 'tcp', 5000)).toBe(5000)
  })

  it('releasing something never allocated is a no-op (TestReleaseUnreadledPort)', () => {
    const p = allocator()
    expect(() => p.releasePort(null, 'tcp', 5000)).not.toThrow()
    expect(() => p.releasePort('10.1.2.3', 'udp', 5000)).not.toThrow()
    p.requestPort(null, 'tcp', 5000)
    p.releasePort(null, 'udp', 5000) // other protocol
    p.releasePort('10.1.2.3', 'tcp', 5000) // other IP
    expect(codeOf(() => p.requestPort(null, 'tcp', 5000))).toBe(ERR_PORT_ALREADY_ALLOCATED)
  })

  it('rejects an unknown protocol (TestUnknowProtocol)', () => {
    const p = allocator()
    expect(codeOf(() => p.requestPort(null, 'tcpp' as Protocol, 0))).toBe(ERR_UNKNOWN_PROTOCOL)
    expect(codeOf(() => p.requestPortRange(null, 'icmp' as Protocol, 0, 0))).toBe(ERR_UNKNOWN_PROTOCOL)
  })

  it('an unknown protocol on release is an error, not a crash', () => {
    const p = allocator()
    expect(codeOf(() => p.releasePort(null, 'TCP' as Protocol, 5000))).toBe(ERR_UNKNOWN_PROTOCOL)
    expect(codeOf(() => p.releasePort('10.0.0.1', 'xyz' as Protocol, 5000))).toBe(ERR_UNKNOWN_PROTOCOL)
  })

  it('fills the whole range in order, then reports exhaustion; another protocol still works (TestAllocateAllPorts)', () => {
    const p = allocator()
    for (let i = 0; i <= p.end - p.begin; i++) expect(p.requestPort(null, 'tcp', 0)).toBe(p.begin + i)
    const err = catchError(() => p.requestPort(null, 'tcp', 0))
    expect(err).toBeInstanceOf(AllPortsAllocatedError)
    expect(err).toMatchObject({ code: ERR_ALL_PORTS_ALLOCATED, message: 'all ports are allocated' })
    expect(p.requestPort(null, 'udp', 0)).toBe(p.begin)
    expect(p.requestPort(null, 'sctp', 0)).toBe(p.begin)

    // release one in the middle: the next request gets exactly it
    const port = p.begin + 5
    p.releasePort(null, 'tcp', port)
    expect(p.requestPort(null, 'tcp', 0)).toBe(port)
    // it is now the last one handed out; release it again: the only free port comes back
    p.releasePort(null, 'tcp', port)
    expect(p.requestPort(null, 'tcp', 0)).toBe(port)
    expect(codeOf(() => p.requestPort(null, 'tcp', 0))).toBe(ERR_ALL_PORTS_ALLOCATED)
  })

  it('allows the same port on two different IPs (TestPortAllocation)', () => {
    const p = allocator()
    expect(p.requestPort('192.168.0.1', 'tcp', 80)).toBe(80)
    expect(codeOf(() => p.requestPort('192.168.0.1', 'tcp', 80))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(p.requestPort('192.168.0.2', 'tcp', 80)).toBe(80)
    // and each IP keeps its own "any" sequence
    const first = p.requestPort('192.168.0.1', 'tcp')
    expect(p.requestPort('192.168.0.2', 'tcp')).toBe(first)
    expect(p.requestPort('192.168.0.1', 'tcp')).toBe(first + 1)
  })

  it('never hands out dynamically a port just requested explicitly (TestNoDuplicateBPR)', () => {
    const p = allocator()
    expect(p.requestPort(null, 'tcp', p.begin)).toBe(p.begin)
    expect(p.requestPort(null, 'tcp', 0)).not.toBe(p.begin)
    expect(p.requestPort(null, 'tcp', 0)).toBe(p.begin + 2)
  })

  it('wraps from end back to begin, handing out released ports in order after the last one', () => {
    const p = allocator(8000, 8004)
    expect([0, 1, 2, 3].map(() => p.requestPort(null, 'tcp'))).toEqual([8000, 8001, 8002, 8003])
    p.releasePort(null, 'tcp', 8001)
    p.releasePort(null, 'tcp', 8000)
    expect(p.requestPort(null, 'tcp')).toBe(8004)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    expect(p.requestPort(null, 'tcp')).toBe(8001)
  })

  it('explicit requests do not move the "any" cursor', () => {
    const p = allocator(8000, 8010)
    p.requestPort(null, 'tcp', 8005)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    expect(p.requestPort(null, 'tcp', 8001)).toBe(8001)
    expect(p.requestPort(null, 'tcp')).toBe(8002)
  })

  it('hands out explicit ports outside the range, and never those as "any"', () => {
    const p = allocator(8000, 8001)
    expect(p.requestPort(null, 'tcp', 80)).toBe(80)
    expect(p.requestPort(null, 'tcp', 65535)).toBe(65535)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    expect(p.requestPort(null, 'tcp')).toBe(8001)
    expect(codeOf(() => p.requestPort(null, 'tcp'))).toBe(ERR_ALL_PORTS_ALLOCATED)
    p.releasePort(null, 'tcp', 80)
    expect(p.requestPort(null, 'tcp', 80)).toBe(80)
  })

  it('releaseAll empties everything but keeps the range', () => {
    const p = allocator(8000, 8002)
    p.requestPort(null, 'tcp')
    p.requestPort('10.0.0.1', 'udp', 53)
    p.requestPort('::1', 'sctp', 9)
    p.releaseAll()
    expect([p.begin, p.end]).toEqual([8000, 8002])
    expect(p.requestPort(null, 'tcp')).toBe(8000)
    expect(p.requestPort('10.0.0.1', 'udp', 53)).toBe(53)
    expect(p.requestPort('::1', 'sctp', 9)).toBe(9)
  })

  it('takes its range from the kernel without options (or 49153-65535 when unreadable)', () => {
    const p = new PortAllocator({ syncWithOS: false })
    expect({ begin: p.begin, end: p.end }).toEqual(systemPortRange())
  })

  it('keeps begin and end readable', () => {
    const p = allocator(1000, 2000)
    expect(p.begin).toBe(1000)
    expect(p.end).toBe(2000)
  })

  it('can be built with a one-port range', () => {
    const p = allocator(7000, 7000)
    expect(p.requestPort(null, 'tcp')).toBe(7000)
    expect(codeOf(() => p.requestPort(null, 'tcp'))).toBe(ERR_ALL_PORTS_ALLOCATED)
    p.releasePort(null, 'tcp', 7000)
    expect(p.requestPort(null, 'tcp')).toBe(7000)
  })
})

describe('PortAllocator: validation', () => {
  it.each([-1, 65536, 70000, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects port %s', (port) => {
    const p = allocator()
    expect(codeOf(() => p.requestPort(null, 'tcp', port))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.releasePort(null, 'tcp', port))).toBe(ERR_INVALID_PORT)
  })

  it('rejects a release of port 0 and a non-number port', () => {
    const p = allocator()
    expect(codeOf(() => p.releasePort(null, 'tcp', 0))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPort(null, 'tcp', '80' as unknown as number))).toBe(ERR_INVALID_PORT)
  })

  it('names the port in the message', () => {
    expect(catchError(() => allocator().requestPort(null, 'tcp', 70000))?.message).toBe(
      'invalid port 70000: expected an integer from 1 to 65535',
    )
  })

  it.each([
    '',
    '10.0.0.256',
    '10.0.0',
    '010.0.0.1',
    'localhost',
    '::g',
    '1:2:3:4:5:6:7:8:9',
    'fe80::1%eth0',
    ' 10.0.0.1',
  ])('rejects address %j', (ip) => {
    const p = allocator()
    expect(codeOf(() => p.requestPort(ip, 'tcp', 80))).toBe(ERR_INVALID_ADDRESS)
    expect(codeOf(() => p.releasePort(ip, 'tcp', 80))).toBe(ERR_INVALID_ADDRESS)
    expect(codeOf(() => p.requestPortRange(ip, 'tcp', 0, 0))).toBe(ERR_INVALID_ADDRESS)
  })

  it('rejects bad input before changing anything', () => {
    const p = allocator(8000, 8001)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 8000, 70000))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPort('bad', 'tcp'))).toBe(ERR_INVALID_ADDRESS)
    expect(p.requestPort(null, 'tcp')).toBe(8000)
  })

  it.each([
    [{ begin: 0, end: 10 }],
    [{ begin: 10, end: 70000 }],
    [{ begin: 2000, end: 1000 }],
    [{ begin: 1.5, end: 1000 }],
  ])('rejects the range %j', (options) => {
    expect(codeOf(() => new PortAllocator({ ...options, syncWithOS: false }))).toBe(ERR_INVALID_PORT)
  })
})

describe('PortAllocator: canonical addresses', () => {
  it('treats ::ffff:10.0.0.1 as 10.0.0.1', () => {
    const p = allocator()
    p.requestPort('::ffff:10.0.0.1', 'tcp', 80)
    const err = catchError(() => p.requestPort('10.0.0.1', 'tcp', 80))
    expect(err).toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, ip: '10.0.0.1', ipPort: '10.0.0.1:80' })
    p.releasePort('::FFFF:a00:1', 'tcp', 80)
    expect(p.requestPort('10.0.0.1', 'tcp', 80)).toBe(80)
  })

  it('treats differently written IPv6 addresses as one, and brackets them in messages', () => {
    const p = allocator()
    p.requestPort('2001:DB8:0:0:0:0:0:1', 'udp', 53)
    const err = catchError(() => p.requestPort('2001:db8::1', 'udp', 53))
    expect(err).toMatchObject({ ip: '2001:db8::1', port: 53, ipPort: '[2001:db8::1]:53' })
    expect(err?.message).toBe('Bind for [2001:db8::1]:53 failed: port is already allocated')
  })
})

describe('PortAllocator: wildcards conflict within a family', () => {
  it('a port on 0.0.0.0 blocks it on every IPv4 address, and the reverse', () => {
    const p = allocator()
    p.requestPort(null, 'tcp', 8080)
    expect(codeOf(() => p.requestPort('10.0.0.1', 'tcp', 8080))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(codeOf(() => p.requestPort('127.0.0.1', 'tcp', 8080))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    p.requestPort('10.0.0.1', 'tcp', 9090)
    expect(codeOf(() => p.requestPort('0.0.0.0', 'tcp', 9090))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(p.requestPort('10.0.0.2', 'tcp', 9090)).toBe(9090)
  })

  it('a wildcard port is free again only when no specific address holds it', () => {
    const p = allocator()
    p.requestPort('10.0.0.1', 'tcp', 9090)
    p.requestPort('10.0.0.2', 'tcp', 9090)
    p.releasePort('10.0.0.1', 'tcp', 9090)
    expect(codeOf(() => p.requestPort(null, 'tcp', 9090))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    p.releasePort('10.0.0.2', 'tcp', 9090)
    expect(p.requestPort(null, 'tcp', 9090)).toBe(9090)
  })

  it(':: conflicts within IPv6 only; 0.0.0.0 and :: do not conflict with each other', () => {
    const p = allocator()
    p.requestPort('::', 'tcp', 8080)
    expect(codeOf(() => p.requestPort('::1', 'tcp', 8080))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(codeOf(() => p.requestPort('fd00::5', 'tcp', 8080))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(p.requestPort('0.0.0.0', 'tcp', 8080)).toBe(8080)
    expect(p.requestPort('::', 'udp', 8080)).toBe(8080)
    p.requestPort('fd00::7', 'tcp', 7070)
    expect(codeOf(() => p.requestPort('::', 'tcp', 7070))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    expect(p.requestPort('10.0.0.1', 'tcp', 7070)).toBe(7070)
  })

  it('"any" skips ports held through the wildcard, both ways', () => {
    const p = allocator(8000, 8005)
    p.requestPort(null, 'tcp', 8000)
    p.requestPort('10.0.0.1', 'tcp', 8002)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8001)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8003)
    // 8001-8003 are held by 10.0.0.1, 8000 by 0.0.0.0
    expect(p.requestPort(null, 'tcp')).toBe(8004)
    expect(p.requestPort('10.0.0.2', 'tcp')).toBe(8001)
    p.releasePort(null, 'tcp', 8000)
    p.releasePort(null, 'tcp', 8004)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8004)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8005)
    expect(p.requestPort('10.0.0.1', 'tcp')).toBe(8000)
    expect(codeOf(() => p.requestPort(null, 'tcp'))).toBe(ERR_ALL_PORTS_ALLOCATED)
  })

  it('a wildcard created after specific holders starts with their ports taken', () => {
    const p = allocator(8000, 8002)
    p.requestPort('10.0.0.1', 'tcp', 8000)
    p.requestPort('10.0.0.2', 'tcp', 8001)
    expect(p.requestPort(null, 'tcp')).toBe(8002)
    const q = allocator(8000, 8002)
    q.requestPort(null, 'tcp', 8001)
    expect(q.requestPort('10.0.0.9', 'tcp')).toBe(8000)
    expect(q.requestPort('10.0.0.9', 'tcp')).toBe(8002)
  })

  it('explicit ports outside the range conflict through the wildcard as well', () => {
    const p = allocator(8000, 8002)
    p.requestPort('10.0.0.1', 'tcp', 80)
    expect(codeOf(() => p.requestPort(null, 'tcp', 80))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    p.releasePort('10.0.0.1', 'tcp', 80)
    p.requestPort(null, 'tcp', 80)
    expect(codeOf(() => p.requestPort('10.0.0.1', 'tcp', 80))).toBe(ERR_PORT_ALREADY_ALLOCATED)
  })
})

describe('PortAllocator.requestPortRange', () => {
  it('reserves exactly the block asked, all or nothing', () => {
    const p = allocator()
    expect(p.requestPortRange(null, 'tcp', 8000, 8009)).toEqual([8000, 8009])
    expect(codeOf(() => p.requestPort(null, 'tcp', 8005))).toBe(ERR_PORT_ALREADY_ALLOCATED)
    p.requestPort(null, 'udp', 9005)
    const err = catchError(() => p.requestPortRange(null, 'udp', 9000, 9009))
    expect(err).toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, port: 9005 })
    // nothing of the failed block was kept
    expect(p.requestPort(null, 'udp', 9000)).toBe(9000)
    expect(p.requestPortRange(null, 'tcp', 7000, 7000)).toEqual([7000, 7000])
  })

  it('with 0, 0 hands out any one port, or any block of count ports, after the last one handed out', () => {
    const p = allocator(8000, 8020)
    expect(p.requestPortRange(null, 'tcp', 0, 0)).toEqual([8000, 8000])
    expect(p.requestPortRange(null, 'tcp', 0, 0, 5)).toEqual([8001, 8005])
    p.requestPort(null, 'tcp', 8008)
    expect(p.requestPortRange(null, 'tcp', 0, 0, 3)).toEqual([8009, 8011])
    expect(p.requestPort(null, 'tcp')).toBe(8012)
    expect(p.requestPortRange(null, 'tcp', 0, 0, 8)).toEqual([8013, 8020])
    // wraps: 8006-8007 is the only gap of two
    expect(p.requestPortRange(null, 'tcp', 0, 0, 2)).toEqual([8006, 8007])
    const err = catchError(() => p.requestPortRange(null, 'tcp', 0, 0, 2))
    expect(err).toMatchObject({ code: ERR_ALL_PORTS_ALLOCATED })
    expect(err?.message).toMatch(/^all ports are allocated: no 2 contiguous free tcp ports on 0\.0\.0\.0 in 8000-8020$/)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 0, 0))).toBe(ERR_ALL_PORTS_ALLOCATED)
    p.releasePort(null, 'tcp', 8008)
    expect(p.requestPortRange(null, 'tcp', 0, 0)).toEqual([8008, 8008])
  })

  it('a block can be released port by port or as a whole', () => {
    const p = allocator(8000, 8009)
    expect(p.requestPortRange(null, 'tcp', 0, 0, 10)).toEqual([8000, 8009])
    p.releasePortRange(null, 'tcp', 8002, 8004)
    p.releasePort(null, 'tcp', 8009)
    expect(p.requestPortRange(null, 'tcp', 0, 0, 3)).toEqual([8002, 8004])
    expect(p.requestPort(null, 'tcp')).toBe(8009)
  })

  it("rejects invalid ranges and counts (the seed's TestPortAllocationWithCustomRange cases)", () => {
    const p = allocator(8000, 8009)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 0, 8082))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 8081, 0))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 8081, 8080))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 8080, 70000))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 0, 0, 0))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 0, 0, 11))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 0, 0, 1.5))).toBe(ERR_INVALID_PORT)
    expect(codeOf(() => p.requestPortRange(null, 'tcp', 8080, 8081, 3))).toBe(ERR_INVALID_PORT)
    expect(catchError(() => p.requestPortRange(null, 'tcp', 8081, 8080))?.message).toBe(
      'invalid port range 8081-8080: the start is above the end',
    )
    expect(p.requestPortRange(null, 'tcp', 8080, 8081, 2)).toEqual([8080, 8081])
  })

  it('a block asked on 0.0.0.0 conflicts with a port held on one IPv4 address', () => {
    const p = allocator(8000, 8009)
    p.requestPort('10.0.0.1', 'tcp', 8003)
    expect(catchError(() => p.requestPortRange(null, 'tcp', 8000, 8004))).toMatchObject({ port: 8003, ip: '0.0.0.0' })
    expect(p.requestPortRange(null, 'tcp', 0, 0, 4)).toEqual([8004, 8007])
  })
})

function catchError(fn: () => unknown): (Error & Record<string, unknown>) | undefined {
  try {
    fn()
  } catch (err) {
    return err as Error & Record<string, unknown>
  }
  return undefined
}
