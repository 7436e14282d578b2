import { createSocket, type Socket } from 'node:dgram'
import { readdirSync } from 'node:fs'
import { canonicalAddress } from '@cnm/ip'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import type { ConntrackEntry } from './conntrack-codec.js'
import { watchConntrack } from './conntrack-watch.js'
import { type Handle, openHandle } from './handle.js'
import {
  describeKernel,
  hasProgram,
  request,
  requireProgram,
  run,
  startServer,
  type TestServer,
  useHostNetns,
} from './testing/index.js'

/** A flow as a tool that is not ours lists it: protocol and the original direction. */
type Flow = string

const flow = (proto: string, src: string, sport: number | string, dst: string, dport: number | string): Flow =>
  `${proto} ${canonicalAddress(src)}:${sport} -> ${canonicalAddress(dst)}:${dport}`

/** Parses `/proc/net/nf_conntrack` (and `conntrack -L -o extended`) lines: the original direction of each. */
function parseListing(text: string): Flow[] {
  const out: Flow[] = []
  for (const line of text.split('\n')) {
    const m = /^ipv[46]\s+\d+\s+(\w+)\s.*?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+)/u.exec(line)
    if (m) out.push(flow(m[1] as string, m[2] as string, m[4] as string, m[3] as string, m[5] as string))
  }
  return out.sort()
}

/** The table as the kernel's own /proc listing shows it (and `conntrack -L`, when installed, agrees). */
function kernelFlows(): Flow[] {
  const proc = parseListing(run('cat', ['/proc/net/nf_conntrack']).stdout)
  if (hasProgram('conntrack')) {
    const tool = ['ipv4', 'ipv6'].flatMap((f) =>
      parseListing(run('conntrack', ['-L', '-f', f, '-o', 'extended'], { check: false }).stdout),
    )
    expect(tool.sort()).toEqual(proc)
  }
  return proc
}

const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp' }
const ours = (entries: ConntrackEntry[]): Flow[] =>
  entries
    .filter((e) => e.original.dstPort !== undefined)
    .map((e) =>
      flow(
        PROTO[e.original.proto] ?? String(e.original.proto),
        e.original.src,
        e.original.srcPort ?? 0,
        e.original.dst,
        e.original.dstPort ?? 0,
      ),
    )
    .sort()

/** A UDP socket bound to a fixed source port: every datagram it sends is the same flow. */
class Client {
  private constructor(
    private readonly sock: Socket,
    private readonly host: string,
  ) {}

  static async open(host: string, port: number): Promise<Client> {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    await new Promise<void>((resolve) => sock.bind(port, host, resolve))
    return new Client(sock, host)
  }

  /** Sends one datagram to `port` and returns the first answer's text, or undefined after `timeoutMs`. */
  ask(port: number, timeoutMs = 500): Promise<string | undefined> {
    return new Promise((resolve) => {
      const done = (text: string | undefined): void => {
        clearTimeout(timer)
        this.sock.off('message', onMessage)
        resolve(text)
      }
      const onMessage = (msg: Buffer): void => done(msg.toString('utf8').split(' ')[0])
      const timer = setTimeout(() => done(undefined), timeoutMs)
      this.sock.on('message', onMessage)
      this.sock.send('ping', port, this.host)
    })
  }

  close(): void {
    this.sock.close()
  }
}

describeKernel('conntrack through netlink (kernel)', () => {
  useHostNetns({ per: 'test' })
  let h: Handle | undefined
  const servers: TestServer[] = []
  const clients: Client[] = []

  beforeAll(() => requireProgram('nft'))

  afterEach(() => {
    h?.close()
    h = undefined
    for (const s of servers.splice(0)) s.stop()
    for (const c of clients.splice(0)) c.close()
    run('nft', ['delete', 'table', 'inet', 'ct_test'], { check: false })
  })

  afterAll(() => h?.close())

  /** Conntrack runs in a namespace only once a rule needs it: this table's rules do (and DNAT what they are told). */
  function track(dnat: string[] = []): void {
    run('nft', ['delete', 'table', 'inet', 'ct_test'], { check: false })
    const lines = [
      'table inet ct_test {',
      '  chain out { type filter hook output priority 0; ct state new counter; }',
      '  chain nat { type nat hook output priority -100;',
      ...dnat.map((r) => `    ${r}`),
      '  }',
      '}',
    ]
    run('nft', ['-f', '-'], { input: `${lines.join('\n')}\n` })
  }

  async function client(host: string, port: number): Promise<Client> {
    const c = await Client.open(host, port)
    clients.push(c)
    return c
  }

  it('lists IPv4 and IPv6 flows as the kernel does (/proc/net/nf_conntrack, conntrack -L)', async () => {
    track()
    h = await openHandle()
    const a = await client('127.0.0.1', 41001)
    const b = await client('::1', 41002)
    await a.ask(42001, 50)
    await b.ask(42002, 50)
    const listed = ours(await h.listConntrack())
    expect(listed).toEqual(kernelFlows())
    expect(listed).toEqual(
      [flow('udp', '127.0.0.1', 41001, '127.0.0.1', 42001), flow('udp', '::1', 41002, '::1', 42002)].sort(),
    )
  })

  it('a flush deletes only the matching entries: protocol, port, family and address', async () => {
    track()
    h = await openHandle()
    const udp4 = await client('127.0.0.1', 41011)
    const udp4b = await client('127.0.0.1', 41012)
    const udp6 = await client('::1', 41013)
    await udp4.ask(42011, 50)
    await udp4b.ask(42012, 50)
    await udp6.ask(42011, 50)
    // A TCP connection to the same port (closed again: its entry stays, in TIME_WAIT).
    servers.push(await startServer(42011, 'tcp'))
    expect(request('tcp', '127.0.0.1', 42011)).toMatch(/^tcp /u)
    const before = kernelFlows()
    expect(before).toHaveLength(4)
    expect(before.some((f) => f.startsWith('tcp ') && f.endsWith(':42011'))).toBe(true)

    expect(await h.flushConntrack({ proto: 'udp', port: 42011, family: 4 })).toBe(1)
    const after = kernelFlows()
    expect(after).toEqual(before.filter((f) => f !== flow('udp', '127.0.0.1', 41011, '127.0.0.1', 42011)))
    expect(ours(await h.listConntrack())).toEqual(after)
    // Nothing left to delete: 0, no error.
    expect(await h.flushConntrack({ proto: 'udp', port: 42011, family: 4 })).toBe(0)
    // By destination address (any protocol), then what is left by port range.
    expect(await h.flushConntrack({ destination: '::1' })).toBe(1)
    expect(await h.flushConntrack({ proto: 'udp', port: 42000, endPort: 42999 })).toBe(1)
    expect(kernelFlows()).toEqual(before.filter((f) => f.startsWith('tcp ')))
    await expect(h.flushConntrack({})).rejects.toMatchObject({ code: 'ERR_INVALID_CONNTRACK_MATCH', kind: 'invalid' })
  })

  it('frees a UDP flow stuck on its old DNAT target, so the next datagram reaches the new one', async () => {
    for (const [ip, family] of [
      ['127.0.0.1', 'ip'],
      ['::1', 'ip6'],
    ] as const) {
      const to = (port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`)
      track([`udp dport 43000 ${family} daddr ${ip} dnat ${family} to ${to(43001)}`])
      h ??= await openHandle()
      servers.push(await startServer(43001, 'old'), await startServer(43002, 'new'))
      const c = await client(ip, 41021)
      const other = await client(ip, 41022)
      expect(await c.ask(43000)).toBe('old')
      expect(await other.ask(43000)).toBe('old')
      // The service moves: the rule now sends new flows to the new server.
      track([`udp dport 43000 ${family} daddr ${ip} dnat ${family} to ${to(43002)}`])
      // The flows that keep sending keep their entries, and with them the old target.
      expect(await c.ask(43000)).toBe('old')
      expect(await h.flushConntrack({ proto: 'udp', port: 43000, destination: ip, address: ip })).toBe(2)
      expect(await c.ask(43000)).toBe('new')
      expect(await other.ask(43000)).toBe('new')
      for (const s of servers.splice(0)) s.stop()
      for (const x of clients.splice(0)) x.close()
    }
  })

  it('reads a dump off the event loop: the kernel walks its whole table inside the reads', async () => {
    track()
    h = await openHandle()
    await h.listConntrack()
    // Inside the recv that asks for it, the kernel walks every bucket of the table (262,144 here,
    // ~13 ms): read on the event loop, the loop would be busy for nearly all of a dump's time.
    const start = performance.eventLoopUtilization()
    const t0 = performance.now()
    for (let i = 0; i < 10; i++) await h.listConntrack()
    const wall = performance.now() - t0
    const busy = performance.eventLoopUtilization(performance.eventLoopUtilization(), start).active
    expect(busy).toBeLessThan(wall / 2)
  })

  it('closing the handle while a dump is read ends it, and leaves no socket open', async () => {
    track()
    const fds = (): number => readdirSync('/proc/self/fd').length
    const before = fds()
    h = await openHandle()
    await h.listConntrack()
    const second = h.listConntrack()
    h.close()
    await second.then(
      (entries) => expect(Array.isArray(entries)).toBe(true),
      (err: unknown) => expect(err).toMatchObject({ code: 'ERR_HANDLE_CLOSED' }),
    )
    await expect(h.listConntrack()).rejects.toMatchObject({ code: 'ERR_HANDLE_CLOSED' })
    h = undefined
    await new Promise((resolve) => setImmediate(resolve))
    expect(fds()).toBe(before)
  })

  it("a watch knows, from the kernel's events, which addresses and ports may have flows", async () => {
    track()
    h = await openHandle()
    const ours = (a: string): boolean => a === '127.0.0.2' || a === '127.0.0.3'
    // A flow from before the watch: found by the watch's first read of the table.
    const early = await client('127.0.0.3', 41032)
    await early.ask(42032, 50)
    const w = h.watchConntrack(ours)
    expect(await w.mayHold({ addresses: ['127.0.0.3'] })).toBe(true)
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(false)
    expect(await w.mayHold({ ports: [{ proto: 'udp', port: 42031 }] })).toBe(false)
    // A new flow: known from its event.
    const c = await client('127.0.0.2', 41031)
    await c.ask(42031, 50)
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(true)
    expect(await w.mayHold({ ports: [{ proto: 'udp', port: 42000, endPort: 42100 }] })).toBe(true)
    expect(await w.mayHold({ ports: [{ proto: 'tcp', port: 42031 }] })).toBe(false)
    // Flushed and forgotten; a flow made after the mark is not forgotten.
    let since = w.mark()
    expect(await h.flushConntrack({ address: '127.0.0.2' })).toBe(1)
    w.forget(['127.0.0.2'], since)
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(false)
    since = w.mark()
    await c.ask(42033, 50)
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(true)
    w.forget(['127.0.0.2'], since)
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(true)
    expect(kernelFlows().some((f) => f.includes('127.0.0.2:42033'))).toBe(true)
    // Events off in the namespace: it cannot know.
    h.writeSysctl('net/netfilter/nf_conntrack_events', '0')
    expect(await w.mayHold({ addresses: ['127.0.0.9'] })).toBe(true)
    h.writeSysctl('net/netfilter/nf_conntrack_events', '1')
    // invalidate(): read the table again.
    w.invalidate()
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(true)
    w.close()
    expect(await w.mayHold({ addresses: ['127.0.0.2'] })).toBe(true) // closed: cannot know
  })

  it("a watch learns the port a flow's source was translated to (its event comes after SNAT); a flush by it takes that flow alone", async () => {
    run('nft', ['delete', 'table', 'inet', 'ct_test'], { check: false })
    run('nft', ['-f', '-'], {
      input: [
        'table inet ct_test {',
        '  chain out { type filter hook output priority 0; ct state new counter; }',
        '  chain post { type nat hook postrouting priority 100; udp dport 42051 snat ip to 127.0.0.1:42052; }',
        '}',
        '',
      ].join('\n'),
    })
    h = await openHandle()
    const w = h.watchConntrack((a) => a === '127.0.0.2')
    try {
      // Its first read of the table: nothing yet. What follows it learns from the events alone.
      expect(await w.mayHold({ snatPorts: [{ proto: 'udp', port: 42052 }] })).toBe(false)
      const translated = await client('127.0.0.2', 41051)
      await translated.ask(42051, 50)
      const plain = await client('127.0.0.2', 41052)
      await plain.ask(42053, 50)
      // The kernel's own listing: the reply of the first flow comes back to 127.0.0.1:42052 (each
      // client sends to its own address).
      const proc = run('cat', ['/proc/net/nf_conntrack']).stdout
      expect(proc).toMatch(
        /src=127\.0\.0\.2 dst=127\.0\.0\.2 sport=41051 dport=42051 .*src=127\.0\.0\.2 dst=127\.0\.0\.1 sport=42051 dport=42052 /u,
      )
      expect(proc).toMatch(/sport=41052 dport=42053 .*src=127\.0\.0\.2 dst=127\.0\.0\.2 sport=42053 dport=41052 /u)
      // The NEW event carried the translated reply tuple (sent at confirmation, after POSTROUTING):
      // the watch knows 42052, and not the source port the flow had before (41051).
      expect(await w.mayHold({ snatPorts: [{ proto: 'udp', port: 42052 }] })).toBe(true)
      expect(await w.mayHold({ snatPorts: [{ proto: 'udp', port: 42000, endPort: 42100 }] })).toBe(true)
      expect(await w.mayHold({ snatPorts: [{ proto: 'udp', port: 41051 }] })).toBe(false)
      // An untranslated flow's reply port (41052), another protocol, a port nothing was sent to: no.
      expect(await w.mayHold({ snatPorts: [{ proto: 'udp', port: 41052 }] })).toBe(false)
      expect(await w.mayHold({ snatPorts: [{ proto: 'tcp', port: 42052 }] })).toBe(false)
      expect(await w.mayHold({ ports: [{ proto: 'udp', port: 42052 }] })).toBe(false)
      expect(await w.mayHold({ ports: [{ proto: 'udp', port: 42051 }] })).toBe(true)
      // A flush by reply port (as a publish of host port 42052 runs it) deletes the translated flow.
      expect(await h.flushConntrack({ proto: 'udp', replyPort: 41052, snat: true })).toBe(0)
      expect(
        await h.flushConntrack({ proto: 'udp', replyPort: 42052, replyDestination: '127.0.0.3', snat: true }),
      ).toBe(0)
      const before = kernelFlows()
      expect(
        await h.flushConntrack({
          proto: 'udp',
          replyPort: 42050,
          replyEndPort: 42052,
          replyDestination: '127.0.0.0/8',
          snat: true,
        }),
      ).toBe(1)
      expect(kernelFlows()).toEqual(before.filter((f) => f !== flow('udp', '127.0.0.2', 41051, '127.0.0.2', 42051)))
      await expect(h.flushConntrack({ snat: true })).rejects.toMatchObject({ code: 'ERR_INVALID_CONNTRACK_MATCH' })
    } finally {
      w.close()
    }
  })

  it('a watch that finds a flow nobody announced (events filtered on this host) stops for good', async () => {
    // Flows whose event mask (nft `ct event set`, as conntrackd's docs advise for load) leaves out
    // "new": the watch is never told of them.
    run('nft', ['delete', 'table', 'inet', 'ct_test'], { check: false })
    run('nft', ['-f', '-'], {
      input: [
        'table inet ct_test {',
        '  chain pre { type filter hook output priority -150; udp dport 42041 ct event set destroy; }',
        '  chain out { type filter hook output priority 0; ct state new counter; }',
        '}',
        '',
      ].join('\n'),
    })
    h = await openHandle()
    const list = (): Promise<ConntrackEntry[]> => (h as Handle).listConntrack()
    const ours = (a: string): boolean => a === '127.0.0.4'
    const w = watchConntrack(ours, list, () => true, 5000, 1000) // checks once a second
    try {
      expect(await w.mayHold({ addresses: ['127.0.0.4'] })).toBe(false) // first read: nothing yet
      const checked = performance.now()
      const c = await client('127.0.0.4', 41041)
      await c.ask(42041, 50)
      expect(kernelFlows().some((f) => f.includes('127.0.0.4:42041'))).toBe(true)
      // Not announced: the watch does not know it (yet).
      if (performance.now() - checked < 900) expect(await w.mayHold({ addresses: ['127.0.0.4'] })).toBe(false)
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1100 - (performance.now() - checked))))
      // Its check reads the table and finds the flow nobody announced: "may hold", now and for good.
      expect(await w.mayHold({ addresses: ['127.0.0.4'] })).toBe(true)
      expect(await w.mayHold({ addresses: ['127.0.0.5'] })).toBe(true)
    } finally {
      w.close()
    }
  })
})
