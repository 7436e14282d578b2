import {
  Agent,
  describeKernel,
  enableForwarding,
  type Node,
  pingsFrom,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, iptablesLines, nftItems } from '../test/kernel.js'
import { type Forged, Listener, sendForged } from '../test/spoof.js'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/**
 * Anti-spoofing and the gateways' DNS (issue 21, review findings F1 and F2), with real traffic:
 * a container forges another network's address, an outside address or another machine's, and
 * nothing it sends that way reaches anybody (directly, or reflected by a server on its gateway);
 * a gateway's port 53 answers its own bridge only, not the uplink nor the host's `lo`. Everything
 * a container normally does still works. Each case has its control, and the rules are taken away
 * once (the traffic then gets through: the test fails without them) and put back by `repair`.
 */

describeKernel('firewall anti-spoofing and gateway DNS (kernel, real traffic)', () => {
  const host = useHostNetns()

  beforeAll(() => {
    for (const tool of ['nft', 'iptables-restore', 'ip6tables-restore', 'ping', 'python3', 'nsenter']) {
      requireProgram(tool)
    }
    enableForwarding()
  })

  describe.each(BACKENDS)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    const net4 = (n: number, h: number): string => `10.${40 + k}.${n}.${h}`
    const net6 = (n: number, h: number): string => `fd4${k}:${n}::${h || ''}`
    const host4 = `198.51.100.${1 + 128 * k}`
    const host6 = `2001:db8:4${k}::1`
    const outside = '203.0.113.7'
    const port = 8080 + k
    let fw: Firewall
    let hostAgent: Agent
    let a1: Node // network A, hairpin on
    let a2: Node // network A
    let b1: Node // network B
    let ext: Node // another machine, behind the host's uplink
    let brA: string
    const networks: NetworkRules[] = []
    const published: PortMapping[] = []
    const expected = (): { networks: NetworkRules[]; ports: PortMapping[] } => ({ networks, ports: published })

    beforeAll(async () => {
      fw = await createFirewall({ backend })
      brA = topo.bridge(`${net4(1, 1)}/24`, `${net6(1, 1)}/64`)
      const brB = topo.bridge(`${net4(2, 1)}/24`, `${net6(2, 1)}/64`)
      // A second subnet on network A's bridge.
      run('ip', ['addr', 'add', `${net4(9, 1)}/24`, 'dev', brA])
      const on = (name: string, br: string, n: number, h: number, hairpin = false): Promise<Node> =>
        topo.container(name, br, `${net4(n, h)}/24`, `${net6(n, h)}/64`, net4(n, 1), net6(n, 1), hairpin)
      ;[a1, a2, b1, ext, hostAgent] = await Promise.all([
        on('a1', brA, 1, 2, true),
        on('a2', brA, 1, 3),
        on('b1', brB, 2, 2),
        topo.machine('ext', `198.51.100.${2 + 128 * k}/25`, `2001:db8:4${k}::2/64`, `${host4}/25`, `${host6}/64`),
        Agent.start('host'),
      ])
      run('ip', ['addr', 'add', `${net4(9, 2)}/24`, 'dev', 'eth0'], { netns: a1.netns })
      networks.push(
        { id: `spA${k}`, bridge: brA, subnets: [`${net4(1, 0)}/24`, `${net4(9, 0)}/24`, `${net6(1, 0)}/64`] },
        { id: `spB${k}`, bridge: brB, subnets: [`${net4(2, 0)}/24`, `${net6(2, 0)}/64`] },
      )
      for (const net of networks) await fw.addNetwork(net)
      // The host's "DNS server" answers on every address (as a network's server answers on its
      // gateway addresses, and as the host's own resolver on its other addresses).
      await hostAgent.listen('udp', 53)
      await hostAgent.listen('tcp', 53)
      for (const node of [a1, a2, b1, ext]) await node.agent.listen('tcp', 80)
      published.push({ proto: 'tcp', hostPort: port, containerIP: a1.ip4, containerPort: 80, bridge: brA })
      await fw.addPorts(published)
    })

    afterAll(async () => {
      await fw?.flush()
      await hostAgent?.stop()
      await topo.remove()
    })

    /**
     * Sends forged datagrams from a1, then one genuine datagram to ext (the control: it must arrive),
     * and returns what reached b1 and ext, after a grace period for the host's reflected answers.
     */
    async function spoofFromA1(tag: string): Promise<{ atB: string[]; atExt: string[] }> {
      const [atB, atExt] = await Promise.all([Listener.start(b1.netns, 7777), Listener.start(ext.netns, 7777)])
      try {
        const forged: Forged[] = [
          // Reflection: the gateway's server answers "b1" (another, isolated, network) and ext.
          [b1.ip4, 7777, net4(1, 1), 53, `${tag} reflect-b4`],
          [b1.ip6, 7777, net6(1, 1), 53, `${tag} reflect-b6`],
          [ext.ip4, 7777, net4(1, 1), 53, `${tag} reflect-ext`],
          // Out through the host with another network's source (masqueraded as B's) or an outside one.
          [b1.ip4, 7001, ext.ip4, 7777, `${tag} as-b1`],
          [outside, 7002, ext.ip4, 7777, `${tag} as-outside`],
          [b1.ip6, 7003, ext.ip6, 7777, `${tag} as-b1-v6`],
          // The host's own address as the source.
          [host4, 7004, ext.ip4, 7777, `${tag} as-host`],
        ]
        sendForged(a1.netns, [...forged, [a1.ip4, 7005, ext.ip4, 7777, `${tag} genuine`]])
        expect(await atExt.waitFor(`${tag} genuine`)).toBe(true)
        // The genuine one came last; the host's answers to forged queries go out as fast.
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const seen = (l: Listener): string[] => l.received.map((r) => `${r.from} ${r.text}`)
        return { atB: seen(atB), atExt: seen(atExt).filter((t) => !t.endsWith(`${tag} genuine`)) }
      } finally {
        await Promise.all([atB.stop(), atExt.stop()])
      }
    }

    it('the kernel holds the rules (nft -j / iptables-save)', () => {
      if (backend === 'nftables') {
        const items = nftItems() as Record<string, Record<string, unknown>>[]
        const chain = items.find((i) => i.chain?.table === 'cnm' && i.chain.name === 'antispoof')?.chain
        expect(chain).toMatchObject({ type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' })
        const text = run('nft', ['list', 'table', 'inet', 'cnm']).stdout
        expect(text).toContain('iifname @bridges fib saddr . iif oif missing drop')
        expect(text).toMatch(/th dport 53 ip daddr @subnets4 fib daddr \. iif type != local drop/u)
        expect(text).toMatch(/th dport 53 ip6 daddr @subnets6 fib daddr \. iif type != local drop/u)
        const subnets4 = items.find((i) => i.set?.table === 'cnm' && i.set.name === 'subnets4')?.set
        expect(JSON.stringify(subnets4?.elem)).toContain(`"addr":"${net4(9, 0)}","len":24`)
      } else {
        for (const cmd of ['iptables-save', 'ip6tables-save']) {
          const raw = run(cmd, ['-t', 'raw']).stdout
          expect(raw).toContain('-A PREROUTING -j CNM-PREROUTING')
          expect(raw).toContain(`-A CNM-PREROUTING -i ${brA} -m rpfilter --invert -j DROP`)
        }
        expect(iptablesLines('filter')).toContain(
          `-A CNM-INPUT -d ${net4(9, 0)}/24 ! -i ${brA} -p udp -m udp --dport 53 -j DROP`,
        )
        expect(iptablesLines('filter')).toContain(
          `-A CNM-INPUT -d ${net6(1, 0)}/64 ! -i ${brA} -p tcp -m tcp --dport 53 -j DROP`,
        )
      }
    })

    it('a container forging a source reaches nobody: not another network, not the outside, not through its gateway', async () => {
      expect(await spoofFromA1('armed')).toEqual({ atB: [], atExt: [] })
    }, 60_000)

    it("what a container normally does still works: its network, the gateway's DNS, the outside, published ports", async () => {
      expect(pingsFrom(a1.netns, a2.ip4)).toBe(true)
      expect(pingsFrom(a1.netns, net4(1, 1))).toBe(true)
      expect(pingsFrom(a1.netns, net6(1, 1))).toBe(true)
      // The second subnet, and the gateway's link-local address (neighbour discovery from fe80::).
      expect(
        run('ping', ['-c1', '-W2', '-n', '-I', net4(9, 2), net4(9, 1)], { netns: a1.netns, check: false }).status,
      ).toBe(0)
      const ll = run('ip', ['-j', '-6', 'addr', 'show', 'dev', brA]).stdout
      const gwLinkLocal = (JSON.parse(ll) as { addr_info: { local: string; scope: string }[] }[])[0]?.addr_info.find(
        (a) => a.scope === 'link',
      )?.local
      expect(gwLinkLocal).toBeDefined()
      expect(run('ping', ['-c1', '-W2', '-n', `${gwLinkLocal}%eth0`], { netns: a1.netns, check: false }).status).toBe(0)
      const ok = await Promise.all([
        a1.agent.connect('udp', net4(1, 1), 53),
        a1.agent.connect('tcp', net4(1, 1), 53),
        a2.agent.connect('udp', net6(1, 1), 53),
        a1.agent.connect('tcp', a2.ip6, 80),
        a1.agent.connect('tcp', ext.ip4, 80),
        a1.agent.connect('tcp', ext.ip6, 80),
        // Published: from another machine, the host (its address and 127.0.0.1), another network, itself.
        ext.agent.connect('tcp', host4, port),
        hostAgent.connect('tcp', host4, port),
        hostAgent.connect('tcp', '127.0.0.1', port),
        b1.agent.connect('tcp', host4, port),
        a1.agent.connect('tcp', host4, port),
        a2.agent.connect('tcp', host4, port),
      ])
      expect(ok.map((r) => (r.ok ? r.name : r.error))).toEqual([
        'host',
        'host',
        'host',
        'a2',
        'ext',
        'ext',
        'a1',
        'a1',
        'a1',
        'a1',
        'a1',
        'a1',
      ])
    }, 60_000)

    it("a gateway's DNS answers its own bridge only: not another network, the uplink or the host's lo", async () => {
      // TCP: the host agent's UDP answers leave from the address the route picks, not necessarily
      // the one asked, so only a TCP answer tells whether the query got in (UDP from the uplink is
      // the reflection case above and below).
      const refused = await Promise.all([
        ext.agent.connect('tcp', net4(1, 1), 53, 800),
        ext.agent.connect('tcp', net6(1, 1), 53, 800),
        hostAgent.connect('tcp', net4(1, 1), 53, 800),
        hostAgent.connect('tcp', net6(1, 1), 53, 800),
        b1.agent.connect('tcp', net4(1, 1), 53, 800),
      ])
      expect(refused.map((r) => (r.ok ? r.name : r.error))).toEqual(Array(5).fill('ETIMEDOUT'))
      // Controls: the host's own DNS services on its other addresses are untouched.
      const allowed = await Promise.all([
        ext.agent.connect('tcp', host4, 53, 5000),
        ext.agent.connect('tcp', host6, 53, 5000),
        hostAgent.connect('tcp', '127.0.0.1', 53, 5000),
        hostAgent.connect('tcp', host4, 53, 5000),
        b1.agent.connect('tcp', net4(2, 1), 53, 5000),
      ])
      expect(allowed.map((r) => (r.ok ? r.name : r.error))).toEqual(Array(5).fill('host'))
    }, 60_000)

    it('without the rules the attacks work; verify finds them missing and repair puts them back', async () => {
      if (backend === 'nftables') {
        run('nft', ['flush', 'chain', 'inet', 'cnm', 'antispoof'])
        run('nft', ['delete', 'element', 'inet', 'cnm', 'subnets4', `{ ${net4(1, 0)}/24 }`])
      } else {
        for (const cmd of ['iptables', 'ip6tables']) run(cmd, ['-t', 'raw', '-F', 'CNM-PREROUTING'])
        run('iptables', [
          '-D',
          'CNM-INPUT',
          '-d',
          `${net4(1, 0)}/24`,
          '!',
          '-i',
          brA,
          '-p',
          'tcp',
          '-m',
          'tcp',
          '--dport',
          '53',
          '-j',
          'DROP',
        ])
      }
      const open = await spoofFromA1('disarmed')
      // The host's answers (from whichever of its addresses it picks) reach B's container and ext.
      const reflectedTo = (seen: string[], ip: string): boolean => seen.some((t) => t.endsWith(` host 53 ${ip}`))
      expect([reflectedTo(open.atB, b1.ip4), reflectedTo(open.atB, b1.ip6), reflectedTo(open.atExt, ext.ip4)]).toEqual([
        true,
        true,
        true,
      ])
      expect(open.atExt).toContain(`${outside} disarmed as-outside`)
      expect(await ext.agent.connect('tcp', net4(1, 1), 53, 5000)).toMatchObject({ ok: true, name: 'host' })

      const damage = await fw.verify(expected())
      expect(JSON.stringify(damage)).toMatch(backend === 'nftables' ? /antispoof|subnets4/u : /rpfilter|dport 53/u)
      await fw.repair(expected())
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
      expect(await spoofFromA1('repaired')).toEqual({ atB: [], atExt: [] })
      expect(await ext.agent.connect('tcp', net4(1, 1), 53, 800)).toMatchObject({ ok: false })
    }, 120_000) // two rounds of forged traffic with their waits, on a loaded 2-core machine

    it('deleteNetwork takes its rules away, and the other network keeps its own', async () => {
      const [a, b] = networks
      if (!a || !b) throw new Error('no networks')
      await fw.deleteNetwork({ bridge: a.bridge })
      if (backend === 'nftables') {
        const text = run('nft', ['list', 'table', 'inet', 'cnm']).stdout
        expect(text).not.toContain(net4(9, 0))
        expect(text).toContain(`${net4(2, 0)}/24`)
      } else {
        expect(iptablesLines('filter').join('\n')).not.toContain(a.bridge)
        expect(run('iptables-save', ['-t', 'raw']).stdout).not.toContain(a.bridge)
        expect(run('iptables-save', ['-t', 'raw']).stdout).toContain(`-i ${b.bridge} -m rpfilter`)
      }
      await fw.addNetwork(a)
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
    })
  })
})
