import { spawn } from 'node:child_process'
import {
  describeKernel,
  enableForwarding,
  type Node,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, iptablesLines } from '../test/kernel.js'
import { Listener, readyLines } from '../test/spoof.js'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/**
 * NAT port shadowing through masquerade (CVE-2021-3773 class; adversarial review), with real
 * packets: container B sends a datagram from a source port that is a host port published to
 * container A, to a peer X outside. Masquerade keeps the source port when it can, so conntrack
 * would hold the reply tuple `X:dport -> host:port`, and X's next datagram to that published port
 * would go to B instead of A. cnm masquerades such traffic to a random source port; every other
 * source port is kept. The rule is taken away once (the attack then works: the test fails without
 * it), found by `verify` and put back by `repair`.
 */

/** Sends one UDP datagram from `sport` (an ordinary socket: what any container process can do). */
const SENDER = `
import socket, sys
dst, sport, dport, text = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('::' if ':' in dst else '0.0.0.0', sport))
s.sendto(text.encode(), (dst, dport))
s.close()
`

function sendFrom(node: Node, sport: number, dst: string, dport: number, text: string): void {
  run('python3', ['-c', SENDER, dst, String(sport), String(dport), text], { netns: node.netns })
}

/** Polls `ok` every 20 ms until it holds (true) or `timeoutMs` has passed (false). */
async function until(ok: () => boolean, timeoutMs = 5000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; !ok(); ) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/** A TCP server that takes one connection and prints the peer's address and port. */
const TCP_PEER = `
import json, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(('::', int(sys.argv[1])))
s.listen(1)
s.settimeout(10)
print('ready', flush=True)
c, addr = s.accept()
print(json.dumps({'from': addr[0].removeprefix('::ffff:'), 'port': addr[1]}), flush=True)
c.close()
`

/** Connects from `node`'s `sport` to a {@link TCP_PEER} in `peer`; returns the source address and port the peer saw. */
async function tcpSourceSeen(
  node: Node,
  sport: number,
  peer: Node,
  port: number,
): Promise<{ from: string; port: number }> {
  const child = spawn('nsenter', [`--net=${peer.netns}`, '--', 'python3', '-c', TCP_PEER, String(port)], {
    stdio: 'pipe',
  })
  try {
    let seen: { from: string; port: number } | undefined
    const got = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    await readyLines<{ from: string; port: number }>(child, `tcp peer on ${port}`, (m) => {
      seen = m
    })
    const connect = `import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5, source_address=('0.0.0.0', int(sys.argv[3]))).close()`
    run('python3', ['-c', connect, peer.ip4, String(port), String(sport)], { netns: node.netns })
    await got
    if (!seen) throw new Error(`tcp peer on ${port} saw no connection`)
    return seen
  } finally {
    child.kill('SIGKILL')
  }
}

describeKernel('firewall: a container cannot shadow a published port through masquerade (kernel, real traffic)', () => {
  const host = useHostNetns()

  beforeAll(() => {
    for (const tool of ['nft', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save', 'python3', 'nsenter']) {
      requireProgram(tool)
    }
    enableForwarding()
  })

  describe.each(BACKENDS)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    const net4 = (h: number): string => `10.8${k}.1.${h}`
    const net6 = (h: number): string => `fd8${k}:1::${h || ''}`
    const host4 = `198.51.10${k}.1`
    const host6 = `2001:db8:8${k}::1`
    let fw: Firewall
    let a: Node // the published container
    let b: Node // the attacker, on the same network
    let x: Node // a peer outside, reached through the host's uplink
    let aSees: Listener
    let net: NetworkRules
    let ports: PortMapping[]
    /** A fresh peer port per exchange: no conntrack entry of an earlier one is in the way. */
    let peerPort = 7000
    const expected = (): { networks: NetworkRules[]; ports: PortMapping[] } => ({ networks: [net], ports })

    beforeAll(async () => {
      fw = await createFirewall({ backend })
      const br = topo.bridge(`${net4(1)}/24`, `${net6(1)}/64`)
      ;[a, b, x] = await Promise.all([
        topo.container('a', br, `${net4(2)}/24`, `${net6(2)}/64`, net4(1), net6(1)),
        topo.container('b', br, `${net4(3)}/24`, `${net6(3)}/64`, net4(1), net6(1)),
        topo.machine('x', `198.51.10${k}.2/24`, `2001:db8:8${k}::2/64`, `${host4}/24`, `${host6}/64`),
      ])
      net = { id: `shadow${k}`, bridge: br, subnets: [`${net4(0)}/24`, `${net6(0)}/64`] }
      ports = [
        { proto: 'udp', hostPort: 5300, containerIP: a.ip4, containerPort: 53, bridge: br },
        { proto: 'udp', hostPort: 5300, containerIP: a.ip6, containerPort: 53, bridge: br },
        { proto: 'udp', hostPort: 8000, hostPortEnd: 8002, containerIP: a.ip4, containerPort: 53 },
        { proto: 'udp', hostIP: host4, hostPort: 5400, containerIP: a.ip4, containerPort: 53 },
        { proto: 'tcp', hostPort: 5300, containerIP: a.ip4, containerPort: 53 },
        // One port per later case: the kernel gives a source that already has a masquerade mapping
        // (a conntrack entry of an earlier exchange) that same mapping again, whatever the rules say.
        ...[5310, 5320, 5330].map(
          (hostPort): PortMapping => ({ proto: 'udp', hostPort, containerIP: a.ip4, containerPort: 53 }),
        ),
      ]
      await fw.addNetwork(net)
      await fw.addPorts(ports)
      aSees = await Listener.start(a.netns, 53)
    })

    afterAll(async () => {
      await aSees?.stop()
      await fw?.flush()
      await topo.remove()
    })

    /** The reply port the host's conntrack gave B's flow to X's `dport` (its masqueraded source port). */
    function conntrackReplyPort(dport: number): number | undefined {
      const line = run('cat', ['/proc/net/nf_conntrack'])
        .stdout.split('\n')
        .find((l) => l.includes(`src=${b.ip4} `) && l.includes(`dport=${dport} `))
      const replyDport = line?.match(/dport=(\d+)/gu)?.[1]
      return replyDport === undefined ? undefined : Number(replyDport.slice('dport='.length))
    }

    /**
     * B sends from `sport` to X; returns the source port X saw (from the host's address). With
     * `hijack`, X then sends to the host's published port `sport` from the same peer port, and the
     * result says who got it: A (through the published port), B (through B's conntrack entry).
     */
    async function exchange(
      tag: string,
      sport: number,
      family: 4 | 6 = 4,
      hijack = true,
    ): Promise<{ seenPort: number | undefined; replyPort: number | undefined; got: string[] }> {
      const dport = peerPort++
      const [xAddr, hostAddr] = family === 4 ? [x.ip4, host4] : [x.ip6, host6]
      const xSees = await Listener.start(x.netns, dport)
      let seen: { from: string; port: number } | undefined
      try {
        sendFrom(b, sport, xAddr, dport, `${tag} out`)
        expect(await xSees.waitFor(`${tag} out`), `${tag}: B's datagram reaches X`).toBe(true)
        seen = xSees.matching(`${tag} out`)[0]
      } finally {
        await xSees.stop()
      }
      expect(seen?.from).toBe(hostAddr) // masqueraded, as always
      const replyPort = family === 4 ? conntrackReplyPort(dport) : undefined
      if (!hijack) return { seenPort: seen?.port, replyPort, got: [] }
      const bSees = await Listener.start(b.netns, sport)
      try {
        sendFrom(x, dport, hostAddr, sport, `${tag} in`)
        // Polled, not `aSees.waitFor`: exchanges run at once share A's listener, whose waiters are one list.
        const arrived = await until(() => aSees.matching(`${tag} in`).length + bSees.matching(`${tag} in`).length > 0)
        expect(arrived, `${tag}: X's datagram to ${hostAddr}:${sport} arrives somewhere`).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 300))
        const got = [...aSees.matching(`${tag} in`).map(() => 'A'), ...bSees.matching(`${tag} in`).map(() => 'B')]
        return { seenPort: seen?.port, replyPort, got }
      } finally {
        await bSees.stop()
      }
    }

    it('the kernel holds the remap (nft / iptables-save)', () => {
      if (backend === 'nftables') {
        const text = run('nft', ['list', 'table', 'inet', 'cnm']).stdout
        expect(text).toMatch(
          new RegExp(
            `oifname != "${net.bridge}" meta nfproto \\. meta l4proto \\. th sport @pubports masquerade random\\n\\s*` +
              `oifname != "${net.bridge}" meta nfproto \\. meta l4proto \\. th sport @pubports_ip masquerade random\\n\\s*` +
              `oifname != "${net.bridge}" masquerade\\n`,
            'u',
          ),
        )
        const elements = (set: string): string =>
          run('nft', ['list', 'set', 'inet', 'cnm', set]).stdout.replace(/\s+/gu, ' ')
        expect(elements('pubports')).toMatch(
          /elements = \{ (?=.*ipv4 \. udp \. 5300)(?=.*ipv6 \. udp \. 5300)(?=.*ipv4 \. udp \. 8001).* \}/u,
        )
        expect(elements('pubports_ip')).toContain('elements = { ipv4 . udp . 5400 }')
      } else {
        const nat = iptablesLines('nat')
        expect(nat).toEqual(
          expect.arrayContaining([
            '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 5300 -j MASQUERADE --random',
            '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 8000:8002 -j MASQUERADE --random',
            '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 5400 -j MASQUERADE --random',
            `-A CNM-POST-${net.bridge} -s ${net4(0)}/24 ! -o ${net.bridge} -j CNM-MASQ-PUBLISHED`,
            `-A CNM-POST-${net.bridge} -s ${net6(0)}/64 ! -o ${net.bridge} -j CNM-MASQ-PUBLISHED`,
          ]),
        )
        // The jump comes before the network's plain masquerade.
        const post = nat.filter((l) => l.startsWith(`-A CNM-POST-${net.bridge} -s ${net4(0)}/24 ! -o`))
        expect(post).toEqual([
          `-A CNM-POST-${net.bridge} -s ${net4(0)}/24 ! -o ${net.bridge} -j CNM-MASQ-PUBLISHED`,
          `-A CNM-POST-${net.bridge} -s ${net4(0)}/24 ! -o ${net.bridge} -j MASQUERADE`,
        ])
      }
    })

    it('B sending from a published host port leaves with another source port; X then reaches A, not B', async () => {
      const r = await exchange('armed', 5300)
      expect(r.seenPort).not.toBe(5300)
      expect(r.replyPort).toBe(r.seenPort) // conntrack's reply tuple: the random port, not 5300
      expect(r.got).toEqual(['A'])
    }, 60_000)

    it('the same for IPv6, a port of a published range, and a port published on one host address', async () => {
      // Independent exchanges (each its own source port, peer port and tag): at once.
      const [v6, range, onHost4] = await Promise.all([
        exchange('armed6', 5300, 6),
        exchange('range', 8001),
        exchange('hostip', 5400),
      ])
      expect(v6.seenPort).not.toBe(5300)
      expect(v6.got).toEqual(['A'])
      expect(range.seenPort).not.toBe(8001)
      expect(range.got).toEqual(['A'])
      expect(onHost4.seenPort).not.toBe(5400)
      expect(onHost4.got).toEqual(['A'])
    }, 90_000)

    it('TCP too: a connection from a published TCP port leaves from another port; from any other, its own', async () => {
      const published = await tcpSourceSeen(b, 5300, x, 8080)
      expect(published.from).toBe(host4)
      expect(published.port).not.toBe(5300)
      expect(await tcpSourceSeen(b, 5301, x, 8081)).toEqual({ from: host4, port: 5301 })
    }, 60_000)

    it('a source port that is not published is kept, as before', async () => {
      // Independent exchanges (each its own peer port; the sends themselves run one after another): at once.
      const cases = [
        [5301, 4],
        [8003, 4],
        [5301, 6],
      ] as const
      const results = await Promise.all(
        cases.map(([sport, family]) => exchange(`kept${sport}v${family}`, sport, family, false)),
      )
      for (const [i, [sport, family]] of cases.entries()) {
        const r = results[i]
        expect(r?.seenPort).toBe(sport)
        if (family === 4) expect(r?.replyPort).toBe(sport)
      }
    }, 60_000)

    it('without the remap B hijacks the published port; verify finds it missing and repair puts it back', async () => {
      if (backend === 'nftables') {
        run('nft', ['delete', 'element', 'inet', 'cnm', 'pubports', '{ ipv4 . udp . 5310 }'])
      } else {
        run('iptables', [
          '-t',
          'nat',
          '-D',
          'CNM-MASQ-PUBLISHED',
          '-p',
          'udp',
          '-m',
          'udp',
          '--sport',
          '5310',
          '-j',
          'MASQUERADE',
          '--random',
        ])
      }
      // The attack the rule stops: B's source port kept, and X's datagram to A's published port goes to B.
      const attack = await exchange('disarmed', 5310)
      expect(attack.seenPort).toBe(5310)
      expect(attack.replyPort).toBe(5310)
      expect(attack.got).toEqual(['B'])

      const damage = await fw.verify(expected())
      expect(damage).toEqual({ skeleton: [], networks: [], ports: [expect.objectContaining({ hostPort: 5310 })] })
      expect(await fw.repair(expected())).toEqual(damage)
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
      const repaired = await exchange('repaired', 5310)
      expect(repaired.seenPort).not.toBe(5310)
      expect(repaired.got).toEqual(['A'])
    }, 90_000)

    it("a network whose rules lack the remap (an older cnm's) is found by verify and rewritten by repair", async () => {
      if (backend === 'nftables') {
        const chain = `n-${net.bridge}-post`
        const listed = run('nft', ['-a', 'list', 'chain', 'inet', 'cnm', chain]).stdout.split('\n')
        for (const line of listed.filter((l) => l.includes('masquerade random'))) {
          const handle = line.match(/# handle (\d+)/u)?.[1]
          if (handle) run('nft', ['delete', 'rule', 'inet', 'cnm', chain, 'handle', handle])
        }
      } else {
        for (const [cmd, cidr] of [
          ['iptables', `${net4(0)}/24`],
          ['ip6tables', `${net6(0)}/64`],
        ] as const) {
          run(cmd, [
            '-t',
            'nat',
            '-D',
            `CNM-POST-${net.bridge}`,
            '-s',
            cidr,
            '!',
            '-o',
            net.bridge,
            '-j',
            'CNM-MASQ-PUBLISHED',
          ])
        }
      }
      expect((await exchange('old', 5320)).got).toEqual(['B'])
      const damage = await fw.verify(expected())
      expect(damage.networks).toEqual([
        { bridge: net.bridge, missing: [expect.any(String), ...(backend === 'iptables' ? [expect.any(String)] : [])] },
      ])
      await fw.repair(expected())
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
      expect((await exchange('rewritten', 5320)).got).toEqual(['A'])
    }, 90_000)

    it('unpublishing takes the remap with the port (the IPv6 twin keeps its own); nothing is left', async () => {
      const [v4, v6, range, onHost, , , , last] = ports
      if (!v4 || !v6 || !range || !onHost || !last) throw new Error('no ports')
      await fw.deletePorts([v4, range, onHost, last])
      if (backend === 'nftables') {
        const elements = (set: string): string =>
          run('nft', ['list', 'set', 'inet', 'cnm', set]).stdout.replace(/\s+/gu, ' ')
        expect(elements('pubports')).toMatch(
          /elements = \{ (?=.*ipv6 \. udp \. 5300)(?=.*ipv4 \. tcp \. 5300)(?=.*ipv4 \. udp \. 5310)/u,
        )
        expect(elements('pubports')).not.toMatch(/ipv4 \. udp \. (5300|5330|800\d)/u)
        expect(elements('pubports_ip')).not.toContain('elements')
      } else {
        const remaps = (prog: string): string[] =>
          run(prog, ['-t', 'nat'])
            .stdout.split('\n')
            .filter((l) => l.startsWith('-A CNM-MASQ-PUBLISHED'))
            .sort()
        expect(remaps('iptables-save')).toEqual([
          '-A CNM-MASQ-PUBLISHED -p tcp -m tcp --sport 5300 -j MASQUERADE --random',
          '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 5310 -j MASQUERADE --random',
          '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 5320 -j MASQUERADE --random',
        ])
        expect(remaps('ip6tables-save')).toEqual([
          '-A CNM-MASQ-PUBLISHED -p udp -m udp --sport 5300 -j MASQUERADE --random',
        ])
      }
      // Not published any more: the source port is kept again.
      expect((await exchange('unpublished', 5330, 4, false)).seenPort).toBe(5330)
      await fw.deletePorts(ports.filter((m) => ![v4, range, onHost, last].includes(m)))
      await fw.deleteNetwork(net)
      expect(await fw.inventory()).toEqual({ backend, objects: [], networks: [], ports: [] })
      await fw.addNetwork(net)
      await fw.addPorts(ports)
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
    }, 60_000)
  })
})
