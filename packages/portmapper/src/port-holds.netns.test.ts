import { connect, createServer, type Server, type Socket } from 'node:net'
import { describeKernel, requireProgram, run, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { heldPortCount, PortHolds, RELAY_LIMIT, relayedConnections } from './port-holds.js'

/** What Python's `bind` says for each (proto, ip, port): `bound` or the error. */
function binds(targets: [proto: 'tcp' | 'udp', ip: string, port: number][]): string[] {
  const script = [
    'import json, socket, sys',
    'out = []',
    'for proto, ip, port in json.loads(sys.argv[1]):',
    '    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)',
    '    try:',
    '        s.bind((ip, port)); out.append("bound")',
    '    except OSError as e:',
    '        out.append(e.strerror)',
    '    s.close()',
    'print(json.dumps(out))',
  ].join('\n')
  return JSON.parse(run('python3', ['-c', script, JSON.stringify(targets)]).stdout) as string[]
}

const IN_USE = 'Address already in use'

describeKernel('PortHolds (kernel: bound sockets in a namespace of the test)', () => {
  useHostNetns()
  requireProgram('python3')

  it('holds tcp, udp, IPv6 and every port of a range; another bind fails with EADDRINUSE until released', async () => {
    const holds = new PortHolds()
    await holds.hold('a', { proto: 'tcp', ip: '0.0.0.0', port: 18080, endPort: 18080 }, false)
    await holds.hold('b', { proto: 'udp', ip: '0.0.0.0', port: 18053, endPort: 18053 }, false)
    await holds.hold('c', { proto: 'tcp', ip: '127.0.0.1', port: 18100, endPort: 18102 }, false)
    await holds.hold('d', { proto: 'tcp', ip: '::', port: 18200, endPort: 18200 }, false)
    expect(holds.size).toBe(6)
    expect(heldPortCount()).toBe(6)
    const targets: ['tcp' | 'udp', string, number][] = [
      ['tcp', '0.0.0.0', 18080],
      ['tcp', '127.0.0.1', 18080],
      ['udp', '0.0.0.0', 18053],
      ['tcp', '127.0.0.1', 18100],
      ['tcp', '127.0.0.1', 18102],
      ['tcp', '0.0.0.0', 18101], // the wildcard conflicts with the specific address held
      ['tcp', '::', 18200],
      ['tcp', '0.0.0.0', 18200], // an IPv6-only hold leaves IPv4 free
      ['udp', '0.0.0.0', 18080], // another protocol is another port
    ]
    expect(binds(targets)).toEqual([IN_USE, IN_USE, IN_USE, IN_USE, IN_USE, IN_USE, IN_USE, 'bound', 'bound'])
    holds.release('c')
    expect(binds([['tcp', '127.0.0.1', 18101]])).toEqual(['bound'])
    holds.releaseAll()
    expect(heldPortCount()).toBe(0)
    expect(binds(targets)).toEqual(targets.map(() => 'bound'))
  })

  it('a port another socket has bound: ERR_PORT_ALREADY_ALLOCATED (nothing held), or tolerated when shared', async () => {
    const other = new PortHolds()
    await other.hold('x', { proto: 'tcp', ip: '0.0.0.0', port: 18300, endPort: 18300 }, false)
    const holds = new PortHolds()
    await expect(
      holds.hold('y', { proto: 'tcp', ip: '0.0.0.0', port: 18299, endPort: 18301 }, false),
    ).rejects.toMatchObject({
      code: 'ERR_PORT_ALREADY_ALLOCATED',
      kind: 'conflict',
      message: expect.stringContaining('0.0.0.0:18300'),
    })
    expect(holds.size).toBe(0)
    expect(binds([['tcp', '0.0.0.0', 18299]])).toEqual(['bound']) // the first port of the block was let go
    await holds.hold('y', { proto: 'tcp', ip: '0.0.0.0', port: 18299, endPort: 18301 }, true)
    expect(holds.size).toBe(2) // 18300 is the other's
    // A host address that is not local is not held (and not an error).
    await holds.hold('z', { proto: 'tcp', ip: '192.0.2.77', port: 18400, endPort: 18400 }, false)
    expect(holds.size).toBe(2)
    holds.releaseAll()
    other.releaseAll()
  })
})

describeKernel('PortHolds relay (kernel: what DNAT cannot take reaches the held port)', () => {
  useHostNetns()

  /** Holds `[::]:hostPort` (tcp) for a "container" at 127.0.0.2:containerPort. */
  const holdRelayed = (holds: PortHolds, key: string, hostPort: number, containerPort: number): Promise<number[]> =>
    holds.hold(key, { proto: 'tcp', ip: '::', port: hostPort, endPort: hostPort }, false, {
      proto: 'tcp',
      ip: '127.0.0.2',
      port: containerPort,
      endPort: containerPort,
    })

  /** One line from a TCP connection to ip:port (the reply, `reset`, or the error's code). */
  function ask(ip: string, port: number): Promise<string> {
    return new Promise((resolve) => {
      let out = ''
      const s = connect({ host: ip, port })
      s.setEncoding('utf8')
      s.on('data', (d) => {
        out += d
      })
      s.on('end', () => resolve(out.trim()))
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNRESET' ? 'reset' : String(e.code)))
    })
  }

  it('relays IPv6 loopback to the container port of its range position; reset when refused or stray; closed on release', async () => {
    // "Containers": servers on 127.0.0.2 (the relay's target), ports 19100-19101 of the range.
    const servers = await Promise.all(
      [19100, 19101].map(
        (port) =>
          new Promise<Server>((resolve) => {
            const srv = createServer((s) => s.end(`c${port} ${s.remoteAddress}\n`))
            srv.listen({ host: '127.0.0.2', port }, () => resolve(srv))
          }),
      ),
    )
    const holds = new PortHolds()
    try {
      const container = { proto: 'tcp' as const, ip: '127.0.0.2', port: 19100, endPort: 19102 }
      await holds.hold('r', { proto: 'tcp', ip: '::', port: 18400, endPort: 18402 }, false, container)
      expect(await ask('::1', 18400)).toBe('c19100 127.0.0.1')
      expect(await ask('::1', 18401)).toBe('c19101 127.0.0.1')
      expect(await ask('::1', 18402)).toBe('reset') // nothing listens on 19102
      // A relayed connection that is still open is closed with its port.
      const held = new Promise<Server>((resolve) => {
        const srv = createServer(() => undefined) // accepts, never answers
        srv.listen({ host: '127.0.0.2', port: 19102 }, () => resolve(srv))
      })
      servers.push(await held)
      const pending = ask('::1', 18402)
      await new Promise((r) => setTimeout(r, 200))
      holds.release('r')
      expect(await pending).toMatch(/^(|reset)$/u)
      expect(await ask('::1', 18400)).toBe('ECONNREFUSED')
      // Without a container (an adopted mapping's hold): reset, as before.
      await holds.hold('n', { proto: 'tcp', ip: '::', port: 18403, endPort: 18403 }, false)
      expect(await ask('::1', 18403)).toBe('reset')
      // Anything but IPv6 loopback is stray here (DNAT takes it while the firewall's rules are in):
      // reset, so a fault stays visible until it is repaired.
      await holds.hold('v4', { proto: 'tcp', ip: '0.0.0.0', port: 18404, endPort: 18404 }, false, {
        ...container,
        port: 19100,
        endPort: 19100,
      })
      expect(await ask('127.0.0.1', 18404)).toBe('reset')
    } finally {
      holds.releaseAll()
      for (const s of servers) s.close()
    }
  })
  it('relays at most RELAY_LIMIT connections at once, process-wide; past it a connection is reset', async () => {
    const accepted = new Set<Socket>()
    const server = await new Promise<Server>((resolve) => {
      const srv = createServer((s) => {
        accepted.add(s)
        s.on('close', () => accepted.delete(s))
        s.write('hi\n') // and keeps the connection open
      })
      srv.listen({ host: '127.0.0.2', port: 19200 }, () => resolve(srv))
    })
    const holds = new PortHolds()
    const clients: Socket[] = []
    const until = async (ok: () => boolean): Promise<void> => {
      const end = Date.now() + 10_000
      while (!ok() && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
    }
    try {
      await holdRelayed(holds, 'l', 18500, 19200)
      for (let i = 0; i < RELAY_LIMIT; i++) {
        const c = connect({ host: '::1', port: 18500 })
        c.on('error', () => undefined)
        clients.push(c)
      }
      await until(() => accepted.size === RELAY_LIMIT)
      expect(accepted.size).toBe(RELAY_LIMIT)
      expect(relayedConnections()).toBe(RELAY_LIMIT)
      expect(await ask('::1', 18500)).toBe('reset')
      for (const c of clients) c.destroy()
      await until(() => relayedConnections() === 0)
      expect(relayedConnections()).toBe(0)
      const again = connect({ host: '::1', port: 18500 })
      clients.push(again)
      const line = await new Promise<string>((resolve) => {
        again.setEncoding('utf8')
        again.once('data', (d) => resolve(String(d).trim()))
        again.on('error', (e) => resolve(String(e)))
      })
      expect(line).toBe('hi')
    } finally {
      for (const c of clients) c.destroy()
      holds.releaseAll()
      server.close()
    }
  })
  it("a relay whose client went lets go of the container's side too, though the container keeps it open", async () => {
    // The container reads and never closes its side (allowHalfOpen): the daemon's socket to it must
    // go all the same, within the linger (2 s); a relay counts until both its sockets are closed.
    const server = await new Promise<Server>((resolve) => {
      const srv = createServer({ allowHalfOpen: true }, (s) => {
        s.on('error', () => undefined)
        s.resume()
        s.write('hi\n')
      })
      srv.listen({ host: '127.0.0.2', port: 19300 }, () => resolve(srv))
    })
    const holds = new PortHolds()
    // The previous test's last relay closes as this one starts.
    for (let i = 0; i < 50 && relayedConnections() > 0; i++) await new Promise((r) => setTimeout(r, 100))
    const before = relayedConnections()
    try {
      await holdRelayed(holds, 'g', 18600, 19300)
      for (let i = 0; i < 5; i++) {
        const c = connect({ host: '::1', port: 18600 })
        c.on('error', () => undefined)
        await new Promise((r) => c.once('data', r))
        c.end('bye\n')
      }
      // The clients are gone; the daemon's sockets to the container are still open (half-closed).
      expect(relayedConnections()).toBe(before + 5)
      const end = Date.now() + 5000
      while (relayedConnections() > before && Date.now() < end) await new Promise((r) => setTimeout(r, 100))
      expect(relayedConnections()).toBe(before) // both sockets of each closed
    } finally {
      holds.releaseAll()
      server.close()
    }
  })
})
