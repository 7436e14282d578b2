import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createFirewall } from '@cnm/firewall'
import { describeKernel, type Node, run, Topology, useHostNetns } from '@cnm/netlink/testing'
import * as packet from 'dns-packet'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startUpstream, type Upstream } from './dns.test-util.js'
import { renderHosts, renderResolvConf } from './resolv-conf.js'
import { createDnsServer, type DnsServer } from './server.js'

/**
 * What `cnm exec` does, with argument arrays only: in a private mount namespace (`unshare
 * --mount`), inside the sandbox's network namespace, bind-mount the sandbox's resolv.conf and
 * hosts over /etc's, then run the program there (glibc, busybox: clients that are not ours).
 */
const EXEC = `const { spawnSync } = require('node:child_process')
const [resolv, hosts, cmd, ...args] = process.argv.slice(1)
for (const [src, dst] of [[resolv, '/etc/resolv.conf'], [hosts, '/etc/hosts']]) {
  if (spawnSync('mount', ['--bind', src, dst], { stdio: 'inherit' }).status !== 0) process.exit(125)
}
process.exit(spawnSync(cmd, args, { stdio: 'inherit' }).status ?? 126)`

/** The clients these tests use are Debian's `dnsutils` (dig) and `busybox-static` (busybox); the setup installs them. */
function requireClient(cmd: string, args: string[], pkg: string): void {
  const r = spawnSync(cmd, args, { stdio: 'ignore' })
  if (r.error || r.status !== 0)
    throw new Error(`this test needs \`${cmd}\` (Debian package ${pkg}); the setup installs it`)
}

interface Result {
  status: number
  stdout: string
}

/**
 * Runs a program (argument array, no shell) in a namespace without blocking: the DNS server under
 * test lives in this process and must keep answering meanwhile (`run` of the harness is synchronous).
 */
function spawnIn(netns: string | undefined, cmd: string, args: string[], input?: string): Promise<Result> {
  const [file, argv] = netns ? ['nsenter', [`--net=${netns}`, '--', cmd, ...args]] : [cmd, args]
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], timeout: 20_000 })
    let stdout = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', () => {})
    child.on('error', reject)
    child.on('close', (code) => resolve({ status: code ?? -1, stdout }))
    child.stdin.end(input)
  })
}

describeKernel('DNS server of a bridge network (kernel: dig, getent, busybox)', () => {
  const host = useHostNetns()
  const topo = new Topology(host)
  let dir: string
  let hostResolv: string
  let upstream: Upstream
  let dnsA: DnsServer
  let dnsB: DnsServer
  let web: Node
  let client: Node
  let other: Node
  let brA: string
  let brB: string
  const files = new Map<string, { resolv: string; hosts: string }>()

  const dig = (node: Node, args: string[]): Promise<Result> =>
    spawnIn(node.netns, 'dig', ['+tries=1', '+time=3', ...args])
  const short = async (node: Node, ...args: string[]): Promise<string[]> =>
    (await dig(node, ['+short', ...args])).stdout
      .trim()
      .split('\n')
      .filter((l) => l.length > 0)
  const status = async (node: Node, ...args: string[]): Promise<string> =>
    /status: ([A-Z]+)/u.exec((await dig(node, ['+noall', '+comments', ...args])).stdout)?.[1] ?? 'no answer'
  const exec = (node: Node, cmd: string, args: string[]): Promise<Result> => {
    const f = files.get(node.name) as { resolv: string; hosts: string }
    const inner = [
      'nsenter',
      `--net=${node.netns}`,
      '--',
      process.execPath,
      '-e',
      EXEC,
      f.resolv,
      f.hosts,
      cmd,
      ...args,
    ]
    return spawnIn(undefined, 'unshare', ['--mount', '--propagation', 'private', '--', ...inner])
  }

  beforeAll(async () => {
    requireClient('dig', ['-v'], 'dnsutils')
    requireClient('busybox', ['true'], 'busybox-static')
    requireClient('getent', ['--version'], 'libc-bin')
    requireClient('nft', ['--version'], 'nftables')
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-dns-k-'))
    // The "host": an upstream resolver on its loopback, named in its resolv.conf.
    upstream = await startUpstream({ address: '127.0.0.1', port: 53, records: { 'forwarded.example': '192.0.2.80' } })
    hostResolv = path.join(dir, 'host-resolv.conf')
    writeFileSync(hostResolv, 'nameserver 127.0.0.1\nsearch corp.example\noptions timeout:2 attempts:2\n')
    // Network A (dual stack) with web and client; network B with other.
    brA = topo.bridge('10.53.1.1/24', 'fd00:53:1::1/64')
    brB = topo.bridge('10.53.2.1/24', 'fd00:53:2::1/64')
    web = await topo.container('web', brA, '10.53.1.2/24', 'fd00:53:1::2/64', '10.53.1.1', 'fd00:53:1::1')
    client = await topo.container('client', brA, '10.53.1.3/24', 'fd00:53:1::3/64', '10.53.1.1', 'fd00:53:1::1')
    other = await topo.container('other', brB, '10.53.2.2/24', 'fd00:53:2::2/64', '10.53.2.1', 'fd00:53:2::1')
    dnsA = await createDnsServer({
      addresses: ['10.53.1.1', 'fd00:53:1::1'],
      domain: 'cnm.test',
      subnets: ['10.53.1.0/24', 'fd00:53:1::/64'],
      // Any source: the firewall's tests below show what the rules alone stop (the server's own
      // client check is hardening.netns.test.ts's).
      anyClient: true,
      resolvConf: hostResolv,
    })
    dnsB = await createDnsServer({
      addresses: ['10.53.2.1', 'fd00:53:2::1'],
      domain: 'cnm.test',
      resolvConf: hostResolv,
    })
    for (const n of [web, client]) {
      dnsA.names.set({
        id: n.name,
        name: n.name,
        aliases: n === web ? ['www', 'web-ep'] : [],
        addresses: [n.ip4, n.ip6],
      })
    }
    dnsB.names.set({ id: other.name, name: other.name, addresses: [other.ip4, other.ip6] })
    for (const [n, dns] of [
      [web, dnsA],
      [client, dnsA],
      [other, dnsB],
    ] as const) {
      const resolv = path.join(dir, `${n.name}.resolv.conf`)
      const hosts = path.join(dir, `${n.name}.hosts`)
      writeFileSync(resolv, renderResolvConf(dns.sandboxResolvConf(), `cnm: ${n.name}`))
      writeFileSync(hosts, renderHosts({ hostname: n.name, domain: 'cnm.test', addresses: [n.ip4, n.ip6] }))
      files.set(n.name, { resolv, hosts })
    }
  })

  afterAll(async () => {
    await dnsA?.close()
    await dnsB?.close()
    await upstream?.close()
    await topo.remove()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('two sandboxes resolve each other by name and alias with dig: A, AAAA, PTR, over IPv4, IPv6 and TCP', async () => {
    expect(await short(client, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
    expect(await short(client, '@10.53.1.1', 'WWW.cnm.test', 'AAAA')).toEqual(['fd00:53:1::2'])
    expect(await short(web, '@fd00:53:1::1', 'client', 'A')).toEqual(['10.53.1.3'])
    expect(await short(web, '@10.53.1.1', '+tcp', 'web-ep.cnm.test', 'A')).toEqual(['10.53.1.2'])
    expect(await short(client, '@10.53.1.1', '-x', '10.53.1.2')).toEqual(['web.cnm.test.'])
    expect(await short(client, '@fd00:53:1::1', '-x', 'fd00:53:1::3')).toEqual(['client.cnm.test.'])
    const full = (await dig(client, ['@10.53.1.1', 'web', 'A'])).stdout
    expect(full).toMatch(/flags: qr aa rd ra;/u)
    expect(full).toMatch(/EDNS: version: 0, flags:; udp: 1232/u)
  })

  it('glibc (getent hosts, getent ahosts) and busybox nslookup resolve through the sandbox resolv.conf', async () => {
    expect((await exec(client, 'cat', ['/etc/resolv.conf'])).stdout).toBe(
      '# cnm: client\nsearch cnm.test corp.example\nnameserver 10.53.1.1\nnameserver fd00:53:1::1\noptions timeout:2 attempts:2\n',
    )
    const hosts = await exec(client, 'getent', ['hosts', 'web'])
    expect(hosts.status).toBe(0)
    expect(hosts.stdout).toMatch(/^(10\.53\.1\.2|fd00:53:1::2)\s+web\.cnm\.test/mu)
    const ahosts = await exec(client, 'getent', ['ahosts', 'www'])
    expect(ahosts.stdout).toContain('10.53.1.2')
    expect(ahosts.stdout).toContain('fd00:53:1::2')
    expect((await exec(client, 'getent', ['hosts', '10.53.1.2'])).stdout).toMatch(/^10\.53\.1\.2\s+web\.cnm\.test/mu)
    expect((await exec(client, 'getent', ['hosts', 'other'])).status).toBe(2) // another network's: not found
    const bb = await exec(other, 'busybox', ['nslookup', 'other', '10.53.2.1'])
    expect(bb.stdout).toContain('10.53.2.2')
    expect(bb.stdout).toContain('fd00:53:2::2')
  })

  it("gives NXDOMAIN for another network's names, and a change is seen at once", async () => {
    expect(await status(client, '@10.53.1.1', 'other', 'A')).toBe('NXDOMAIN')
    expect(await status(client, '@10.53.1.1', 'other.cnm.test', 'AAAA')).toBe('NXDOMAIN')
    expect(await status(other, '@10.53.2.1', 'web', 'A')).toBe('NXDOMAIN')
    expect(await short(other, '@10.53.2.1', 'other', 'A')).toEqual(['10.53.2.2'])
    // A sandbox on both networks (here: client) sees B's names through A's server, and only it:
    // B's endpoint is put in A's table for client's addresses on A.
    dnsA.names.set({
      id: 'B:other',
      name: 'other',
      addresses: [other.ip4, other.ip6],
      clients: [client.ip4, client.ip6],
    })
    expect(await short(client, '@10.53.1.1', 'other', 'A')).toEqual(['10.53.2.2'])
    expect(await short(client, '@fd00:53:1::1', 'other.cnm.test', 'AAAA')).toEqual(['fd00:53:2::2'])
    expect(await status(web, '@10.53.1.1', 'other', 'A')).toBe('NXDOMAIN')
    dnsA.names.delete('B:other')
    expect(await status(client, '@10.53.1.1', 'other', 'A')).toBe('NXDOMAIN')
    dnsA.names.set({ id: 'late', name: 'late', addresses: ['10.53.1.9'] })
    expect(await short(client, '@10.53.1.1', 'late', 'A')).toEqual(['10.53.1.9'])
    dnsA.names.delete('late')
    expect(await status(client, '@10.53.1.1', 'late', 'A')).toBe('NXDOMAIN')
  })

  it('forwards other names to the host resolver, over UDP and TCP, with truncation and EDNS', async () => {
    expect(await short(client, '@10.53.1.1', 'forwarded.example', 'A')).toEqual(['192.0.2.80'])
    expect(await short(client, '@10.53.1.1', '+tcp', 'forwarded.example', 'A')).toEqual(['192.0.2.80'])
    expect(await status(client, '@10.53.1.1', 'nosuch.example', 'A')).toBe('NXDOMAIN')
    // ~3 KB of TXT: over UDP without EDNS the answer is cut (TC), dig retries over TCP by itself.
    const cut = (await dig(client, ['@10.53.1.1', '+noedns', '+ignore', 'big.example', 'TXT'])).stdout
    expect(cut).toMatch(/flags: qr tc rd ra;/u)
    expect(await short(client, '@10.53.1.1', '+noedns', 'big.example', 'TXT')).toHaveLength(12)
    // With a large EDNS size it fits one datagram.
    const edns = (await dig(client, ['@10.53.1.1', '+bufsize=8192', '+ignore', 'big.example', 'TXT'])).stdout
    expect(edns).not.toMatch(/flags: [a-z ]*tc/u)
    expect(edns).toMatch(/ANSWER: 12/u)
    expect(upstream.seen).toEqual(expect.arrayContaining(['big.example/TXT/tcp', 'forwarded.example/A/udp']))
    // Short names and names of the network's domain never leave it (`other.corp.example`, from
    // glibc's walk through the host's search list, is the upstream's business and does).
    expect(upstream.seen.filter((s) => /^[a-z-]+(\.cnm\.test)?\//u.test(s))).toEqual([])
  })

  it('follows the host resolv.conf when it changes', async () => {
    const second = await startUpstream({
      address: '127.0.0.2',
      port: 53,
      records: { 'forwarded.example': '192.0.2.81' },
    })
    try {
      writeFileSync(hostResolv, 'nameserver 127.0.0.2\n')
      const end = Date.now() + 3000
      let got: string[] = []
      while (Date.now() < end) {
        got = await short(client, '@10.53.1.1', 'forwarded.example', 'A')
        if (got[0] === '192.0.2.81') break
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(got).toEqual(['192.0.2.81'])
    } finally {
      writeFileSync(hostResolv, 'nameserver 127.0.0.1\nsearch corp.example\noptions timeout:2 attempts:2\n')
      await second.close()
    }
  })

  it('answers SERVFAIL within 2 s when the upstream is down, and keeps serving local names', async () => {
    // A black hole: the upstream receives and never answers.
    const hole = await startUpstream({ address: '127.0.0.3', port: 53, silent: true })
    const s = await createDnsServer({ addresses: ['10.53.1.1'], port: 5353, upstreams: ['127.0.0.3'] })
    s.names.set({ id: 'web', name: 'web', addresses: ['10.53.1.2'] })
    try {
      const args = ['@10.53.1.1', '-p', '5353', '+time=5', '+noall', '+comments', '+stats', 'down.example', 'A']
      const r = await dig(client, args)
      expect(/status: ([A-Z]+)/u.exec(r.stdout)?.[1]).toBe('SERVFAIL')
      // dig's own measure of the query (its start-up is not in it).
      const took = Number(/Query time: (\d+) msec/u.exec(r.stdout)?.[1])
      expect(took).toBeGreaterThanOrEqual(1400)
      expect(took).toBeLessThan(2000)
      expect(await short(client, '@10.53.1.1', '-p', '5353', 'web', 'A')).toEqual(['10.53.1.2'])
      // Stopped altogether (port unreachable): SERVFAIL at once.
      await hole.close()
      const t1 = Date.now()
      expect(await status(client, '@10.53.1.1', '-p', '5353', 'down.example', 'A')).toBe('SERVFAIL')
      expect(Date.now() - t1).toBeLessThan(1000)
      expect(await short(client, '@10.53.1.1', '-p', '5353', 'web', 'A')).toEqual(['10.53.1.2'])
    } finally {
      await s.close()
      await hole.close().catch(() => {})
    }
  })

  it('survives malformed packets, a 64 KB TCP query and a flood from a sandbox; local names keep resolving', async () => {
    const valid = (i: number): Buffer =>
      packet.encode({
        id: i & 0xffff,
        type: 'query',
        questions: [{ name: i % 3 ? `flood${i}.example` : 'web', type: 'A' }],
      })
    const big = packet.encode({
      id: 77,
      type: 'query',
      questions: [{ name: 'web', type: 'A' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: 4096,
          flags: 0,
          options: [{ code: 12, data: Buffer.alloc(65535 - 12 - 7 - 11 - 4 - 2) }],
        } as packet.Answer,
      ],
    })
    const garbage = [
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.alloc(12, 0xff),
      Buffer.alloc(1400, 0xab),
      valid(1).subarray(0, 20),
    ]
    const input = path.join(dir, 'attack.json')
    writeFileSync(
      input,
      JSON.stringify({
        garbage: garbage.map((b) => b.toString('base64')),
        flood: Array.from({ length: 300 }, (_, i) => valid(i).toString('base64')),
        big: big.toString('base64'),
      }),
    )
    // Sent from inside the client sandbox: garbage, a bounded burst (20 × 300 queries and garbage), a
    // 64 KB query over TCP whose answer is read back.
    const script = `const dgram = require('node:dgram'), net = require('node:net'), fs = require('node:fs')
const { garbage, flood, big } = JSON.parse(fs.readFileSync(process.argv[1], 'utf8'))
const sock = dgram.createSocket('udp4'); let answers = 0
sock.on('message', () => answers++)
const send = (b) => sock.send(Buffer.from(b, 'base64'), 53, '10.53.1.1')
let round = 0
const burst = () => {
  for (const q of flood) send(q)
  for (const g of garbage) send(g)
  if (++round < 20) setImmediate(burst); else tcp()
}
const start = () => {
  for (const g of garbage) send(g)
  setTimeout(burst, 50)
}
const tcp = () => {
  const body = Buffer.from(big, 'base64'), len = Buffer.alloc(2); len.writeUInt16BE(body.length)
  const c = net.connect(53, '10.53.1.1', () => c.write(Buffer.concat([len, body])))
  let got = 0
  c.on('data', (d) => { got += d.length; if (got > 2) { c.destroy(); finish(true) } })
  c.on('error', () => finish(false))
  setTimeout(() => finish(false), 3000)
}
let done = false
const finish = (tcpOk) => { if (done) return; done = true; setTimeout(() => { console.log(JSON.stringify({ answers, tcpOk })); process.exit(0) }, 300) }
sock.bind(0, start)`
    const before = dnsA.stats()
    const res = await spawnIn(client.netns, process.execPath, ['-e', script, input])
    const out = JSON.parse(res.stdout.trim()) as { answers: number; tcpOk: boolean }
    expect(out.tcpOk).toBe(true)
    expect(out.answers).toBeGreaterThan(0)
    const after = dnsA.stats()
    expect(after.dropped - before.dropped).toBeGreaterThan(0)
    // A burst overflows the socket's receive buffer: those are dropped by the kernel, not seen.
    expect(after.queries - before.queries).toBeGreaterThan(200)
    expect(await short(client, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
    expect(await short(web, '@fd00:53:1::1', '+tcp', 'client', 'AAAA')).toEqual(['fd00:53:1::3'])
  })

  it("without a rule, a sandbox reaches another network's server; the firewall rule proposed for cnm stops it", async () => {
    // Without a rule the gateway address of network A is a local address of the host, reachable
    // from network B's bridge like any other: names would not leak (B's sandbox gets A's answers
    // only if it asks A's server directly), but the server must not be reachable at all.
    expect(await short(other, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
    const table = 'cnmdnstest'
    const bridges = [brA, brB].map((b) => `"${b}"`).join(', ')
    const nft = await spawnIn(
      undefined,
      'nft',
      ['-f', '-'],
      [
        `add table inet ${table}`,
        `add set inet ${table} bridges { type ifname; elements = { ${bridges} }; }`,
        `add chain inet ${table} input { type filter hook input priority 0; policy accept; }`,
        // The rule: DNS from a bridge to an address that is not that bridge's own is dropped.
        `add rule inet ${table} input iifname @bridges meta l4proto { tcp, udp } th dport 53 fib daddr . iif type != local drop`,
        '',
      ].join('\n'),
    )
    expect(nft.status).toBe(0)
    try {
      expect(await status(other, '@10.53.1.1', '+time=1', 'web', 'A')).toBe('no answer')
      expect(await status(other, '@fd00:53:1::1', '+time=1', '+tcp', 'web', 'A')).toBe('no answer')
      expect(await short(other, '@10.53.2.1', 'other', 'A')).toEqual(['10.53.2.2'])
      expect(await short(client, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
      expect(await short(client, '@fd00:53:1::1', '+tcp', 'web', 'A')).toEqual(['10.53.1.2'])
      // The host itself is not affected: its own queries to a gateway, and the forwarding to 127.0.0.1:53.
      expect(await short(client, '@10.53.1.1', 'forwarded.example', 'A')).toEqual(['192.0.2.80'])
      const fromHost = await spawnIn(undefined, 'dig', ['+short', '+tries=1', '+time=2', '@10.53.1.1', 'web', 'A'])
      expect(fromHost.stdout.trim()).toBe('10.53.1.2')
    } finally {
      run('nft', ['delete', 'table', 'inet', table]) // synchronous is fine here: no DNS involved
    }
  })

  it.each(['nftables', 'iptables'] as const)(
    "cnm's firewall (%s backend) keeps a sandbox from another network's server",
    async (backend) => {
      const fw = await createFirewall({ backend })
      try {
        for (const [id, bridge, subnets] of [
          ['dnsA', brA, ['10.53.1.0/24', 'fd00:53:1::/64']],
          ['dnsB', brB, ['10.53.2.0/24', 'fd00:53:2::/64']],
        ] as const) {
          await fw.addNetwork({ id, bridge, subnets: [...subnets], icc: true, masquerade: false })
        }
        if (backend === 'iptables') {
          // What the kernel holds, read with iptables-save/ip6tables-save (not with our parser).
          for (const cmd of ['iptables-save', 'ip6tables-save']) {
            const lines = (await spawnIn(undefined, cmd, ['-t', 'filter'])).stdout.split('\n')
            for (const br of [brA, brB]) {
              for (const p of ['udp', 'tcp']) {
                expect(lines).toContain(
                  `-A CNM-INPUT -i ${br} -p ${p} -m ${p} --dport 53 -m addrtype ! --dst-type LOCAL --limit-iface-in -j DROP`,
                )
              }
            }
          }
        }
        // A real query from network B to network A's server gets no answer, over UDP and TCP, IPv4 and IPv6.
        expect(await status(other, '@10.53.1.1', '+time=1', 'web', 'A')).toBe('no answer')
        expect(await status(other, '@10.53.1.1', '+time=1', '+tcp', 'web', 'A')).toBe('no answer')
        expect(await status(other, '@fd00:53:1::1', '+time=1', 'web', 'A')).toBe('no answer')
        expect(await status(other, '@fd00:53:1::1', '+time=1', '+tcp', 'web', 'A')).toBe('no answer')
        // Each sandbox still reaches its own network's server.
        expect(await short(other, '@10.53.2.1', 'other', 'A')).toEqual(['10.53.2.2'])
        expect(await short(other, '@fd00:53:2::1', '+tcp', 'other', 'AAAA')).toEqual(['fd00:53:2::2'])
        expect(await short(client, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
        expect(await short(client, '@fd00:53:1::1', '+tcp', 'web', 'A')).toEqual(['10.53.1.2'])
        expect(await short(client, '@10.53.1.1', 'forwarded.example', 'A')).toEqual(['192.0.2.80'])
        // A gateway's server is its bridge's only (review F2): the host's own users (lo) get no answer.
        const fromHost = await spawnIn(undefined, 'dig', ['+short', '+tries=1', '+time=1', '@10.53.1.1', 'web', 'A'])
        expect(fromHost.stdout).not.toContain('10.53.1.2')
      } finally {
        await fw.flush()
      }
      // Gone with the firewall's rules: the server is reachable again (the weak host model).
      expect(await short(other, '@10.53.1.1', 'web', 'A')).toEqual(['10.53.1.2'])
    },
  )
})
