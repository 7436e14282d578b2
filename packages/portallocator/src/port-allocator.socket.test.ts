import { createSocket, type Socket } from 'node:dgram'
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ERR_ALL_PORTS_ALLOCATED, ERR_PORT_ALREADY_ALLOCATED } from './errors.js'
import { PortAllocator } from './port-allocator.js'
import type { Protocol } from './protocol.js'

// Real sockets on loopback, seen through the kernel's real socket tables. No root needed.

const open: Array<Server | Socket> = []

function listenTcp(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      open.push(server)
      resolve(server)
    })
  })
}

function bindUdp(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    socket.once('error', reject)
    socket.bind({ address: host, port, exclusive: true }, () => {
      open.push(socket)
      resolve(socket)
    })
  })
}

function close(handle: Server | Socket): Promise<void> {
  open.splice(open.indexOf(handle), 1)
  return new Promise((resolve) => {
    if ('listen' in handle) handle.close(() => resolve())
    else handle.close(() => resolve())
  })
}

afterEach(async () => {
  await Promise.all([...open].map(close))
})

/** A random base below the usual ephemeral ranges where `ports` (offsets) can be bound as asked. */
async function bindAround<T>(bindAll: (base: number) => Promise<T>): Promise<{ base: number; handles: T }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 9000)
    try {
      return { base, handles: await bindAll(base) }
    } catch {
      await Promise.all([...open].map(close))
    }
  }
  throw new Error('could not bind test sockets')
}

function fill(p: PortAllocator, ip: string, proto: Protocol): number[] {
  const got: number[] = []
  for (;;) {
    try {
      got.push(p.requestPort(ip, proto))
    } catch (err) {
      expect((err as { code: string }).code).toBe(ERR_ALL_PORTS_ALLOCATED)
      return got
    }
  }
}

function refusal(fn: () => unknown): { code?: string; byOS?: boolean; message?: string } | undefined {
  try {
    fn()
  } catch (err) {
    return err as { code: string; byOS: boolean; message: string }
  }
  return undefined
}

async function ipv6Loopback(): Promise<boolean> {
  try {
    const server = await listenTcp('::1', 0)
    await close(server)
    return true
  } catch {
    return false
  }
}

describe('PortAllocator against real sockets', () => {
  it('skips and refuses exactly the ports a TCP listener and a UDP socket hold, and hands them out after close', async () => {
    const { base, handles } = await bindAround(async (b) => [
      await listenTcp('127.0.0.1', b + 1),
      await bindUdp('127.0.0.1', b + 3),
    ])
    const p = new PortAllocator({ begin: base, end: base + 4 })
    const watcher = new PortAllocator({ begin: base + 1, end: base + 1 }) // reads the tables while the listener is open
    expect(refusal(() => watcher.requestPort('127.0.0.1', 'tcp'))?.code).toBe(ERR_ALL_PORTS_ALLOCATED)

    expect(fill(p, '127.0.0.1', 'tcp')).toEqual([base, base + 2, base + 3, base + 4])
    expect(fill(p, '127.0.0.1', 'udp')).toEqual([base, base + 1, base + 2, base + 4])
    p.releaseAll()
    for (const ip of ['127.0.0.1', '0.0.0.0']) {
      const tcp = refusal(() => p.requestPort(ip, 'tcp', base + 1))
      expect(tcp).toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, byOS: true })
      expect(tcp?.message).toContain('the OS already uses it')
      expect(refusal(() => p.requestPort(ip, 'udp', base + 3))).toMatchObject({ byOS: true })
    }
    // another loopback address, or the other protocol, is not blocked
    expect(p.requestPort('127.0.0.2', 'tcp', base + 1)).toBe(base + 1)
    expect(p.requestPort('127.0.0.1', 'tcp', base + 3)).toBe(base + 3)
    expect(p.requestPort('127.0.0.1', 'udp', base + 1)).toBe(base + 1)
    p.releaseAll()

    await Promise.all(handles.map(close))
    // asked by number, a port whose socket just closed is granted at once (a refusal re-reads the tables)
    expect(p.requestPort('127.0.0.1', 'tcp', base + 1)).toBe(base + 1)
    expect(p.requestPort('127.0.0.1', 'udp', base + 3)).toBe(base + 3)
    p.releaseAll()
    expect(fill(p, '127.0.0.1', 'tcp')).toEqual([base, base + 1, base + 2, base + 3, base + 4])
    expect(fill(p, '127.0.0.1', 'udp')).toEqual([base, base + 1, base + 2, base + 3, base + 4])
    // "any" on an instance that saw the socket open comes back once its snapshot is refreshed
    await vi.waitFor(() => expect(watcher.requestPort('127.0.0.1', 'tcp')).toBe(base + 1), {
      timeout: 10_000,
      interval: 25,
    })
  })

  it('a listener on 0.0.0.0 blocks the port on every IPv4 address', async () => {
    const { base } = await bindAround((b) => listenTcp('0.0.0.0', b))
    const p = new PortAllocator({ begin: base, end: base + 1 })
    expect(refusal(() => p.requestPort('127.0.0.1', 'tcp', base))).toMatchObject({ byOS: true })
    expect(refusal(() => p.requestPort('10.9.8.7', 'tcp', base))).toMatchObject({ byOS: true })
    expect(fill(p, '192.0.2.77', 'tcp')).toEqual([base + 1])
  })

  it('sees IPv6 sockets: ::1 blocks ::1 and ::, not IPv4', async (ctx) => {
    if (!(await ipv6Loopback())) ctx.skip('no IPv6 loopback on this machine')
    const { base } = await bindAround(async (b) => [await listenTcp('::1', b), await bindUdp('::1', b)])
    const p = new PortAllocator({ begin: base, end: base + 1 })
    for (const proto of ['tcp', 'udp'] as const) {
      expect(refusal(() => p.requestPort('::1', proto, base))).toMatchObject({ byOS: true })
      expect(refusal(() => p.requestPort('::', proto, base))).toMatchObject({ byOS: true })
      expect(p.requestPort('127.0.0.1', proto, base)).toBe(base)
      expect(fill(p, '::1', proto)).toEqual([base + 1])
    }
  })

  it("two instances never hand out a port the other one's owner has bound", async () => {
    const { base } = await bindAround(async (b) => {
      // probe that b..b+2 are bindable, then let them go
      const probes = [await listenTcp('127.0.0.1', b), await listenTcp('127.0.0.1', b + 1)]
      await Promise.all(probes.map(close))
      return undefined
    })
    const a = new PortAllocator({ begin: base, end: base + 1 })
    const port = a.requestPort('127.0.0.1', 'tcp')
    await listenTcp('127.0.0.1', port) // a's owner listens on what a handed out
    const b = new PortAllocator({ begin: base, end: base + 1 })
    expect(b.requestPort('127.0.0.1', 'tcp')).not.toBe(port)
    expect(refusal(() => b.requestPort('127.0.0.1', 'tcp', port))).toMatchObject({
      code: ERR_PORT_ALREADY_ALLOCATED,
      byOS: true,
    })
  })
})
