import {
  describeKernel,
  enableForwarding,
  type Node,
  requireProgram,
  run,
  Topology,
  uniqueName,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, iptablesLines } from '../test/kernel.js'
import { IcmpListener, sendRaw, sendVxlan, type VxlanDatagram } from '../test/raw-ip.js'
import { macOf } from '../test/raw-syn.js'
import { Listener } from '../test/spoof.js'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'

/**
 * Two ways a container reached past its network through the host (adversarial review adv13, F2 and
 * F3), with real packets: (F2) a plain UDP datagram to the host's VXLAN port, which the overlay's
 * devices take on every host address, put a frame into an overlay network; (F3) a broadcast source
 * passed anti-spoofing, and the host's answer went to every container of the network. The overlay
 * here is as the overlay driver builds it: a bridge (a cnm network) with VXLAN devices on the
 * uplink. Each attack has its controls (the underlay's VXLAN, DHCP's 0.0.0.0, DAD's ::), and the
 * rules are taken away once (the attacks then work: the test fails without them) and put back by
 * `repair`.
 */

const VXLAN = 4789

describeKernel('firewall: no VXLAN from a bridge, no broadcast or multicast source (kernel, real traffic)', () => {
  const host = useHostNetns()
  /** The namespace playing the host, for a child process (it inherits the main thread's). */
  const HOST_NETNS = '/proc/self/ns/net'

  beforeAll(() => {
    for (const tool of ['nft', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save', 'python3', 'nsenter']) {
      requireProgram(tool)
    }
    enableForwarding()
  })

  describe.each(BACKENDS)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    const net4 = (n: number, h: number): string => `10.${60 + k}.${n}.${h}`
    const net6 = (n: number, h: number): string => `fd6${k}:${n}::${h || ''}`
    const host4 = `198.51.100.${1 + 128 * k}`
    const host6 = `2001:db8:6${k}::1`
    const vni4 = 4096 + 2 * k
    const vni6 = vni4 + 1
    /** A table of the test's own, after anti-spoofing: counts what got through it. */
    const seen = `seen${k}`
    let fw: Firewall
    let a1: Node // network A: the attacker
    let a2: Node // network A: a bystander
    let o1: Node // the overlay network
    let ext: Node // another host, on the underlay
    let brA: string
    let ovb: string
    let o1Mac: string
    const vxlans: string[] = []
    const networks: NetworkRules[] = []
    const expected = (): { networks: NetworkRules[]; ports: [] } => ({ networks, ports: [] })

    beforeAll(async () => {
      fw = await createFirewall({ backend })
      brA = topo.bridge(`${net4(1, 1)}/24`, `${net6(1, 1)}/64`)
      ovb = topo.bridge(`${net4(8, 1)}/24`, `${net6(8, 1)}/64`)
      const on = (name: string, br: string, n: number, h: number): Promise<Node> =>
        topo.container(name, br, `${net4(n, h)}/24`, `${net6(n, h)}/64`, net4(n, 1), net6(n, 1))
      ;[a1, a2, o1, ext] = await Promise.all([
        on('a1', brA, 1, 2),
        on('a2', brA, 1, 3),
        on('o1', ovb, 8, 2),
        topo.machine('ext', `198.51.100.${2 + 128 * k}/25`, `2001:db8:6${k}::2/64`, `${host4}/25`, `${host6}/64`),
      ])
      o1Mac = macOf('eth0', o1.netns)
      // The overlay driver's devices: VXLAN (learning off) on the uplink, one per underlay family here.
      for (const [vni, local] of [
        [vni4, host4],
        [vni6, host6],
      ] as const) {
        const name = uniqueName('vx')
        run('ip', [
          'link',
          'add',
          name,
          'type',
          'vxlan',
          'id',
          `${vni}`,
          'local',
          local,
          'dev',
          ext.veth,
          'dstport',
          `${VXLAN}`,
          'nolearning',
        ])
        vxlans.push(name)
        run('ip', ['link', 'set', name, 'master', ovb, 'up'])
      }
      networks.push(
        { id: `vbA${k}`, bridge: brA, subnets: [`${net4(1, 0)}/24`, `${net6(1, 0)}/64`] },
        { id: `vbO${k}`, bridge: ovb, subnets: [`${net4(8, 0)}/24`, `${net6(8, 0)}/64`] },
      )
      for (const net of networks) await fw.addNetwork(net)
      run('nft', ['-f', '-'], {
        input: [
          `add table inet ${seen}`,
          `add chain inet ${seen} pre { type filter hook prerouting priority -250; policy accept; }`,
          `add rule inet ${seen} pre ip6 saddr ff00::/8 counter comment "multicast6"`,
          // Only the test's probe goes from :: to ff02::1 (DAD goes to a solicited-node group, MLD to ff02::16).
          `add rule inet ${seen} pre ip6 saddr :: ip6 daddr ff02::1 counter comment "unspecified6"`,
          `add rule inet ${seen} pre ip saddr ${net4(1, 255)} counter comment "broadcast4"`,
          '',
        ].join('\n'),
      })
    })

    afterAll(async () => {
      run('nft', ['delete', 'table', 'inet', seen], { check: false })
      await fw?.flush()
      for (const name of vxlans) run('ip', ['link', 'del', name], { check: false })
      await topo.remove()
    })

    /** The packets of {@link seen}'s rules so far, by comment (nft -j). */
    function counters(): Record<string, number> {
      const out = JSON.parse(run('nft', ['-j', 'list', 'table', 'inet', seen]).stdout) as {
        nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[]
      }
      const counts: Record<string, number> = {}
      for (const { rule } of out.nftables) {
        if (rule?.comment) counts[rule.comment] = rule.expr.find((e) => e.counter)?.counter?.packets ?? -1
      }
      return counts
    }

    /**
     * VXLAN with o1's VNI and MAC from the underlay (ext, to the host's uplink addresses: the
     * controls, which must arrive), then from containers: a1 (another network) to its gateway and
     * to the host's uplink addresses, and o1 to its own gateway. Returns what reached o1 from them.
     */
    async function injectVxlan(tag: string): Promise<string[]> {
      const at = await Listener.start(o1.netns, 5000)
      try {
        const frame = (dst: string, vni: number, text: string): VxlanDatagram => [
          dst,
          VXLAN,
          vni,
          o1Mac,
          net4(8, 77),
          o1.ip4,
          5000,
          `${tag} ${text}`,
        ]
        sendVxlan(a1.netns, [
          frame(net4(1, 1), vni4, 'a1-gw4'),
          frame(host4, vni4, 'a1-host4'),
          frame(net6(1, 1), vni6, 'a1-gw6'),
          frame(host6, vni6, 'a1-host6'),
        ])
        sendVxlan(o1.netns, [frame(net4(8, 1), vni4, 'o1-gw4'), frame(net6(8, 1), vni6, 'o1-gw6')])
        sendVxlan(ext.netns, [frame(host4, vni4, 'underlay4'), frame(host6, vni6, 'underlay6')])
        expect(await at.waitFor(`${tag} underlay4`)).toBe(true)
        expect(await at.waitFor(`${tag} underlay6`)).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 500))
        return at.received
          .filter((r) => r.from === net4(8, 77) && !r.text.includes('underlay'))
          .map((r) => r.text)
          .sort()
      } finally {
        await at.stop()
      }
    }

    /**
     * a1 sends an echo request to its gateway with the subnet's broadcast address as the source,
     * then a genuine echo request to that broadcast address (the control: a2 sees it). Returns the
     * echo replies a2 saw (the host's answer to the forged request would be one).
     */
    async function reflectBroadcast(tag: string): Promise<string[]> {
      const a2Sees = await IcmpListener.start(a2.netns)
      try {
        sendRaw(a1.netns, [
          { proto: 'icmp', src: net4(1, 255), dst: net4(1, 1), text: `${tag} forged` },
          { proto: 'icmp', src: a1.ip4, dst: net4(1, 255), text: `${tag} control`, dev: 'eth0' },
        ])
        expect(await a2Sees.waitFor(`${tag} control`)).toBe(true)
        await new Promise((resolve) => setTimeout(resolve, 500))
        return a2Sees.seen.filter((m) => m.type === 0).map((m) => `${m.from} > ${m.to} ${m.text}`)
      } finally {
        await a2Sees.stop()
      }
    }

    it('the kernel holds the rules (nft / iptables-save)', () => {
      if (backend === 'nftables') {
        const text = run('nft', ['list', 'table', 'inet', 'cnm']).stdout
        expect(text).toContain(`iifname @bridges udp dport ${VXLAN} drop`)
        expect(text).toContain('iifname @bridges ip saddr != 0.0.0.0 fib saddr type { broadcast, multicast } drop')
        expect(text).toContain('iifname @bridges ip6 saddr ff00::/8 drop')
      } else {
        for (const br of [brA, ovb]) {
          const input = iptablesLines('filter').filter((l) => l.includes(`--dport ${VXLAN}`))
          expect(
            input.filter((l) => l === `-A CNM-INPUT -i ${br} -p udp -m udp --dport ${VXLAN} -j DROP`),
          ).toHaveLength(2)
          expect(run('iptables-save', ['-t', 'raw']).stdout).toContain(
            `-A CNM-PREROUTING ! -s 0.0.0.0/32 -i ${br} -m addrtype --src-type BROADCAST,MULTICAST -j DROP`,
          )
          expect(run('ip6tables-save', ['-t', 'raw']).stdout).toContain(
            `-A CNM-PREROUTING -s ff00::/8 -i ${br} -j DROP`,
          )
        }
      }
    })

    it('a container cannot send a frame into an overlay network through the host; the underlay still can', async () => {
      expect(await injectVxlan('armed')).toEqual([])
    }, 60_000)

    it('a broadcast source is dropped (the host does not answer the whole network); 0.0.0.0 to a broadcast (DHCP) gets in', async () => {
      const server = await Listener.start(HOST_NETNS, 67)
      try {
        expect(await reflectBroadcast('armed')).toEqual([])
        sendRaw(a1.netns, [
          { proto: 'udp', src: '0.0.0.0', sport: 68, dst: '255.255.255.255', dport: 67, text: 'dhcp', dev: 'eth0' },
        ])
        expect(await server.waitFor('dhcp')).toBe(true)
        expect(server.matching('dhcp')[0]?.from).toBe('0.0.0.0')
      } finally {
        await server.stop()
      }
    }, 60_000)

    it('a multicast IPv6 source is dropped before anything sees it; :: (DAD) passes', async () => {
      const before = counters()
      sendRaw(a1.netns, [
        { proto: 'udp', src: 'ff02::1', sport: 5353, dst: net6(1, 1), dport: 7777, text: 'mc-link' },
        { proto: 'udp', src: 'ff0e::1', sport: 5353, dst: net6(1, 1), dport: 7777, text: 'mc-global' },
        { proto: 'icmp', src: '::', dst: 'ff02::1', text: '', target: net6(1, 9), dev: 'eth0' },
        { proto: 'icmp', src: net4(1, 255), dst: net4(1, 1), text: 'bcast' },
      ])
      await new Promise((resolve) => setTimeout(resolve, 300))
      const after = counters()
      const delta = (name: string): number => (after[name] ?? 0) - (before[name] ?? 0)
      expect({ multicast6: delta('multicast6'), broadcast4: delta('broadcast4') }).toEqual({
        multicast6: 0,
        broadcast4: 0,
      })
      expect(delta('unspecified6')).toBeGreaterThanOrEqual(1)
    }, 30_000)

    it('without the rules the attacks work; verify finds them missing and repair puts them back', async () => {
      if (backend === 'nftables') {
        for (const chain of ['input', 'antispoof']) {
          const listed = JSON.parse(run('nft', ['-j', '-a', 'list', 'chain', 'inet', 'cnm', chain]).stdout) as {
            nftables: { rule?: { handle: number; expr: unknown[] } }[]
          }
          for (const { rule } of listed.nftables) {
            const text = JSON.stringify(rule?.expr ?? [])
            if (rule && /4789|"broadcast"|"ff00::"/u.test(text)) {
              run('nft', ['delete', 'rule', 'inet', 'cnm', chain, 'handle', `${rule.handle}`])
            }
          }
        }
      } else {
        for (const [cmd, cast] of [
          ['iptables', ['!', '-s', '0.0.0.0/32', '-i', brA, '-m', 'addrtype', '--src-type', 'BROADCAST,MULTICAST']],
          ['ip6tables', ['-s', 'ff00::/8', '-i', brA]],
        ] as const) {
          run(cmd, ['-D', 'CNM-INPUT', '-i', brA, '-p', 'udp', '-m', 'udp', '--dport', `${VXLAN}`, '-j', 'DROP'])
          run(cmd, ['-t', 'raw', '-D', 'CNM-PREROUTING', ...cast, '-j', 'DROP'])
        }
      }
      // a1's frames land on the overlay network, through any host address, in IPv4 and IPv6.
      expect(await injectVxlan('disarmed')).toEqual(
        expect.arrayContaining(['disarmed a1-gw4', 'disarmed a1-gw6', 'disarmed a1-host4', 'disarmed a1-host6']),
      )
      // iptables: rpfilter takes a unicast route only, so it drops a broadcast source by itself.
      expect(await reflectBroadcast('disarmed')).toEqual(
        backend === 'nftables' ? [`${net4(1, 1)} > ${net4(1, 255)} disarmed forged`] : [],
      )

      const damage = JSON.stringify(await fw.verify(expected()))
      expect(damage).toMatch(backend === 'nftables' ? /chain input holds .*chain antispoof holds/u : /4789.*addrtype/u)
      await fw.repair(expected())
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
      expect(await injectVxlan('repaired')).toEqual([])
      expect(await reflectBroadcast('repaired')).toEqual([])
    }, 120_000)

    it("deleteNetwork takes the network's rules away, and the other network keeps its own", async () => {
      const [a, o] = networks
      if (!a || !o) throw new Error('no networks')
      await fw.deleteNetwork({ bridge: a.bridge })
      if (backend === 'iptables') {
        const all = [...iptablesLines('filter'), ...run('iptables-save', ['-t', 'raw']).stdout.split('\n')]
        expect(all.join('\n')).not.toContain(a.bridge)
        expect(run('ip6tables-save', ['-t', 'raw']).stdout).not.toContain(a.bridge)
        expect(run('ip6tables-save', ['-t', 'raw']).stdout).toContain(`-s ff00::/8 -i ${o.bridge} -j DROP`)
      }
      await fw.addNetwork(a)
      expect(await fw.verify(expected())).toEqual({ skeleton: [], networks: [], ports: [] })
    })
  })
})
