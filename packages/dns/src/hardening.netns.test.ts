import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { describeKernel, type Node, Topology, useHostNetns } from '@cnm/netlink/testing'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createDnsServer, type DnsServer } from './server.js'

// The DNS server's own defences (review findings F1, F2, F3, F7), with no firewall rule at all:
// a host with another firewall set-up (or none) must still be safe. Raw sockets, floods and
// slow TCP clients are python3 scripts run inside the sandboxes; answers are checked with dig.

interface Result {
  status: number
  stdout: string
}

/** Runs a program in a namespace without blocking (the server under test lives in this process). */
function spawnIn(netns: string | undefined, cmd: string, args: string[], timeoutMs = 30_000): Promise<Result> {
  const [file, argv] = netns ? ['nsenter', [`--net=${netns}`, '--', cmd, ...args]] : [cmd, args]
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs })
    let stdout = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', () => {})
    child.on('error', reject)
    child.on('close', (code) => resolve({ status: code ?? -1, stdout }))
  })
}

/** python3 SRC SPORT DST DPORT HEX COUNT: UDP datagrams with a forged source (a raw socket). */
const SPOOF = `import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
src, sport, dst, dport, payload, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), bytes.fromhex(sys.argv[5]), int(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
n = 8 + len(payload)
pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, 17, n)
udp = struct.pack('!HHHH', sport, dport, n, csum(pseudo + struct.pack('!HHHH', sport, dport, n, 0) + payload)) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + n, 0x1234, 0, 64, 17, 0, socket.inet_aton(src), socket.inet_aton(dst))
for _ in range(count): s.sendto(ip + udp, (dst, 0))`

/** python3 PORT SECONDS: counts the UDP datagrams received on PORT, prints the count. */
const LISTEN = `import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1])))
print('ready', flush=True)
end = time.time() + float(sys.argv[2]); n = 0
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try: s.recv(65535); n += 1
    except socket.timeout: pass
print(n, flush=True)`

/** python3 SERVER SECONDS SRC...: random one-label names, as fast as it can, from each source. */
const FLOOD = `import os, socket, struct, sys, time
srv, secs = sys.argv[1], float(sys.argv[2])
socks = []
for a in sys.argv[3:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((a, 0)); s.setblocking(False); socks.append(s)
end, sent = time.time() + secs, 0
while time.time() < end:
    for s in socks:
        name = os.urandom(8).hex().encode()
        q = struct.pack('!HHHHHH', sent & 0xffff, 0x0100, 1, 0, 0, 0) + bytes([len(name)]) + name + b'\\0' + struct.pack('!HH', 1, 1)
        try: s.sendto(q, (srv, 53)); sent += 1
        except BlockingIOError: pass
print(sent, flush=True)`

/**
 * python3 SERVER SECONDS HEX: the same query every 20 ms, each with its own ID (a late answer to a
 * lost one is not taken for the next), each waited for 0.3 s (a lost one costs that, not the
 * second it cost when a few losses could leave too little time for the answered count);
 * prints answered, lost, worst ms.
 */
const PROBE = `import socket, struct, sys, time
srv, secs, q0 = sys.argv[1], float(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.3)
end, ok, lost, worst, n = time.time() + secs, 0, 0, 0.0, 0
while time.time() < end:
    n += 1; q = struct.pack('!H', n & 0xffff) + q0[2:]
    t = time.time(); s.sendto(q, (srv, 53))
    try:
        while True:
            a = s.recv(4096)
            if a[:2] == q[:2]: break
        ok += 1; worst = max(worst, time.time() - t)
    except socket.timeout: lost += 1
    time.sleep(0.02)
print(ok, lost, round(worst * 1000), flush=True)`

/** python3 SERVER N SECONDS: N TCP connections, each sent one byte of a never-finished message a second. */
const SLOWLORIS = `import socket, sys, time
srv, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for i in range(n):
    try: conns.append(socket.create_connection((srv, 53), timeout=2))
    except OSError: pass
print('opened', len(conns), flush=True)
payload, k, end = b'\\xff\\xff' + b'x' * 200, 0, time.time() + secs
while time.time() < end:
    for c in conns:
        try: c.send(payload[k:k + 1])
        except OSError: pass
    k += 1; time.sleep(1)`

const query = (name: string, id: number): string =>
  packet
    .encode({ id, type: 'query', flags: packet.RECURSION_DESIRED, questions: [{ name, type: 'A' }] })
    .toString('hex')

describeKernel('DNS server hardening: client check, miss budget, TCP limits (kernel, no firewall)', () => {
  const host = useHostNetns()
  const topo = new Topology(host)
  let dns: DnsServer
  let web: Node
  let client: Node
  let flooder: Node
  let other: Node
  let outsider: Node
  let api: Server
  let apiPort = 0

  const dig = async (node: Node | undefined, ...args: string[]): Promise<string> =>
    (await spawnIn(node?.netns, 'dig', ['+short', '+tries=1', '+time=2', ...args])).stdout
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(';;')) // dig's "timed out" lines
      .join('\n')
  /** Polls until `check` holds (a loaded 2-core machine: no fixed sleeps). */
  const until = async (check: () => boolean, ms: number): Promise<boolean> => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      if (check()) return true
      await new Promise((r) => setTimeout(r, 100))
    }
    return check()
  }

  beforeAll(async () => {
    const brA = topo.bridge('10.54.1.1/24', 'fd00:54:1::1/64')
    const brB = topo.bridge('10.54.2.1/24', 'fd00:54:2::1/64')
    web = await topo.container('web', brA, '10.54.1.2/24', 'fd00:54:1::2/64', '10.54.1.1', 'fd00:54:1::1')
    client = await topo.container('client', brA, '10.54.1.3/24', 'fd00:54:1::3/64', '10.54.1.1', 'fd00:54:1::1')
    flooder = await topo.container('flood', brA, '10.54.1.4/24', 'fd00:54:1::4/64', '10.54.1.1', 'fd00:54:1::1')
    other = await topo.container('other', brB, '10.54.2.2/24', 'fd00:54:2::2/64', '10.54.2.1', 'fd00:54:2::1')
    // A machine on the host's uplink that routes the container subnets through the host.
    outsider = await topo.machine('outer', '198.51.100.2/24', 'fd00:5100::2/64', '198.51.100.1/24', 'fd00:5100::1/64')
    dns = await createDnsServer({
      addresses: ['10.54.1.1', 'fd00:54:1::1'],
      subnets: ['10.54.1.0/24', 'fd00:54:1::/64'],
      upstreams: [],
      maxTcpConnections: 32,
      tcpFrameMs: 2000,
    })
    dns.names.set({ id: 'web', name: 'web', addresses: [web.ip4, web.ip6] })
    // The daemon's API stands in: an HTTP server on the same event loop as the DNS server.
    api = createServer((_req, res) => res.end('{}'))
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r))
    apiPort = (api.address() as { port: number }).port
  })

  afterAll(async () => {
    await new Promise((r) => (api ? api.close(r) : r(undefined)))
    await dns?.close()
    await topo.remove()
  })

  it('answers its own clients, over UDP and TCP, IPv4 and IPv6', async () => {
    expect(await dig(client, '@10.54.1.1', 'web')).toBe('10.54.1.2')
    expect(await dig(client, '@fd00:54:1::1', '+tcp', 'web', 'AAAA')).toBe('fd00:54:1::2')
  })

  it('sends nothing to a forged source: a spoofed query from a sandbox (raw socket) is not reflected', async () => {
    const before = dns.stats().foreign
    const listener = spawn('nsenter', [`--net=${other.netns}`, '--', 'python3', '-c', LISTEN, '7777', '6'])
    let out = ''
    listener.stdout.on('data', (d) => {
      out += d
    })
    const done = new Promise((r) => listener.on('close', r))
    expect(await until(() => out.includes('ready'), 10_000)).toBe(true)
    // From the sandbox on network A, claiming to be network B's sandbox: a stored (native) answer
    // and a miss (handed to JavaScript), 10 each.
    await dig(client, '@10.54.1.1', 'web') // stores web's answer natively
    for (const name of ['web', 'nothere']) {
      const r = await spawnIn(flooder.netns, 'python3', [
        '-c',
        SPOOF,
        other.ip4,
        '7777',
        '10.54.1.1',
        '53',
        query(name, 7),
        '10',
      ])
      expect(r.status).toBe(0)
    }
    await done
    expect(out.trim().split('\n').at(-1)).toBe('0')
    expect(dns.stats().foreign - before).toBe(20)
  })

  it('answers nobody outside its subnets: the host itself (lo) and a machine routed through the host', async () => {
    const before = dns.stats().foreign
    // The host's own query to a gateway has the gateway address as its source.
    expect(await dig(undefined, '@10.54.1.1', 'web')).toBe('')
    expect(await dig(undefined, '@10.54.1.1', '+tcp', 'web')).toBe('')
    // The uplink machine: answered by nothing, over UDP or TCP, IPv4 or IPv6.
    expect(await dig(outsider, '@10.54.1.1', 'web')).toBe('')
    expect(await dig(outsider, '@10.54.1.1', '+tcp', 'web')).toBe('')
    expect(await dig(outsider, '@fd00:54:1::1', 'web')).toBe('')
    // A sandbox of another network (no firewall here to stop it).
    expect(await dig(other, '@10.54.1.1', 'web')).toBe('')
    expect(dns.stats().foreign - before).toBeGreaterThanOrEqual(6)
    expect(await dig(client, '@10.54.1.1', 'web')).toBe('10.54.1.2')
  })

  it('a flood of random names from many addresses leaves real names answered natively and the event loop responsive', async () => {
    // The flooder takes 16 addresses: 16 budgets of misses, far more NXDOMAIN answers than the
    // table holds (4096): before, each 4096th emptied it and the probe's next query went to JavaScript.
    const sources = Array.from({ length: 16 }, (_, i) => `10.54.1.${100 + i}`)
    for (const a of sources) {
      expect((await spawnIn(flooder.netns, 'ip', ['addr', 'add', `${a}/24`, 'dev', 'eth0'])).status).toBe(0)
    }
    const webQuery = query('web', 4242)
    await spawnIn(client.netns, 'python3', ['-c', PROBE, '10.54.1.1', '0.5', webQuery]) // stored
    const before = dns.stats()
    const flood = spawnIn(flooder.netns, 'python3', ['-c', FLOOD, '10.54.1.1', '6', ...sources])
    await new Promise((r) => setTimeout(r, 500))
    const probe = spawnIn(client.netns, 'python3', ['-c', PROBE, '10.54.1.1', '4', webQuery])
    // The API's latency during the flood (curl from the host: a tool that is not ours).
    const lat: number[] = []
    for (let i = 0; i < 5; i++) {
      const r = await spawnIn(undefined, 'curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{time_total}',
        `http://127.0.0.1:${apiPort}/`,
      ])
      lat.push(Number(r.stdout) * 1000)
      await new Promise((r2) => setTimeout(r2, 300))
    }
    const [answered, lost, worstMs] = (await probe).stdout.trim().split(' ').map(Number) as [number, number, number]
    const sent = Number((await flood).stdout.trim())
    const after = dns.stats()
    const native = after.udpNative - before.udpNative
    // Misses the event loop answered (NXDOMAIN); the rest, over budget while it was behind, dropped.
    const handed = after.local - before.local - native
    console.log(
      `flood: ${sent} sent; probe ${answered} answered, ${lost} lost, worst ${worstMs} ms; API ${lat.map(Math.round).join(', ')} ms;`,
      `native +${native}, limited +${after.limited - before.limited}, answered by the event loop ${handed}`,
    )
    expect(sent).toBeGreaterThan(10_000)
    expect(after.limited - before.limited).toBeGreaterThan(0)
    // The real name stayed in the native table through the flood (about 100 probes in 4 s).
    expect(answered).toBeGreaterThan(20)
    // A few probes are lost in the kernel (the flood and the probe share the socket's receive
    // buffer), more on a loaded machine: not a sign of the table being emptied.
    expect(lost).toBeLessThanOrEqual(Math.max(5, answered / 4))
    expect(after.udpNative - before.udpNative).toBeGreaterThanOrEqual(answered)
    expect(Math.max(...lat)).toBeLessThan(2500) // generous: CI runs four test files on 2 cores
    expect(await dig(client, '@10.54.1.1', 'web')).toBe('10.54.1.2')
  }, 60_000)

  it('a TCP slowloris from one client neither locks out another nor keeps its connections', async () => {
    // 40 connections from one address, more than the server's 32: each trickles a byte a second.
    const hold = spawnIn(flooder.netns, 'python3', ['-c', SLOWLORIS, '10.54.1.1', '40', '8'])
    expect(await until(() => dns.stats().tcpConnections > 0, 10_000)).toBe(true)
    await new Promise((r) => setTimeout(r, 500))
    // At most 16 of one client at once.
    expect(dns.stats().tcpConnections).toBeLessThanOrEqual(16)
    expect(await dig(client, '@10.54.1.1', '+tcp', 'web')).toBe('10.54.1.2')
    // A started message must be complete within 2 s: the trickled ones are closed while still trickling.
    expect(await until(() => dns.stats().tcpConnections === 0, 6_000)).toBe(true)
    await hold
    expect(await dig(client, '@10.54.1.1', '+tcp', 'web')).toBe('10.54.1.2')
  }, 60_000)
})
