import {
  Agent,
  describeKernel,
  enableForwarding,
  type Node,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { beforeAll, expect, it } from 'vitest'
import { createFirewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

// cnm beside a host firewall that drops forwarded traffic: iptables' FORWARD policy DROP (what
// Docker sets; iptables here is iptables-nft), or a hand-written nftables `inet filter` forward
// chain with policy drop. Each case in a fresh namespace playing the host, with real traffic, a
// negative control (the host's policy really drops), the user's CNM-USER chain, and the kernel
// read back with iptables-save and nft -j.

type HostKind = 'iptables FORWARD DROP' | 'nft inet filter policy drop'

const CASES: [backend: 'nftables' | 'iptables', host: HostKind, k: number][] = [
  ['nftables', 'iptables FORWARD DROP', 0],
  ['nftables', 'nft inet filter policy drop', 1],
  ['iptables', 'iptables FORWARD DROP', 2],
  ['iptables', 'nft inet filter policy drop', 3],
]

function installHostFirewall(kind: HostKind): void {
  if (kind === 'iptables FORWARD DROP') {
    run('iptables', ['-P', 'FORWARD', 'DROP'])
    run('ip6tables', ['-P', 'FORWARD', 'DROP'])
  } else {
    run('nft', ['add table inet filter'])
    run('nft', ['add chain inet filter forward { type filter hook forward priority 0; policy drop; }'])
  }
}

/** The rules of a chain as nft -j prints them (expressions only). */
function nftRules(family: string, table: string, chain: string): { handle: number; expr: unknown[] }[] {
  const out = JSON.parse(run('nft', ['-j', 'list', 'chain', family, table, chain]).stdout) as {
    nftables: { rule?: { handle: number; expr: unknown[] } }[]
  }
  return out.nftables.flatMap((i) => (i.rule ? [i.rule] : []))
}

const iptablesSave = (cmd = 'iptables-save'): string[] =>
  run(cmd, ['-t', 'filter'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('-A ') || l.startsWith(':'))

/** Adds a rule to the user's chain, as a user would with the backend's own tool. */
function userDrop(backend: 'nftables' | 'iptables', src: string, dst: string): void {
  if (backend === 'nftables') {
    run('nft', [`add rule inet cnm CNM-USER ip saddr ${src} ip daddr ${dst} tcp dport 80 drop`])
  } else {
    run('iptables', ['-A', 'CNM-USER', '-s', src, '-d', dst, '-p', 'tcp', '--dport', '80', '-j', 'DROP'])
  }
}

function userFlush(backend: 'nftables' | 'iptables'): void {
  if (backend === 'nftables') run('nft', ['flush chain inet cnm CNM-USER'])
  else run('iptables', ['-F', 'CNM-USER'])
}

describeKernel('firewall beside a host firewall that drops forwarded traffic (kernel, real traffic)', () => {
  const host = useHostNetns({ per: 'test' })

  beforeAll(() => {
    for (const tool of ['nft', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save']) requireProgram(tool)
  })

  it.each(CASES)(
    '%s backend, %s: egress, container to container and published ports pass; CNM-USER is obeyed; nothing is left',
    async (backend, hostKind, k) => {
      enableForwarding()
      const topo = new Topology(host)
      const hostAgent = await Agent.start('host')
      try {
        const br = topo.bridge(`10.${40 + k}.1.1/24`, `fd4${k}:1::1/64`)
        const host4 = `198.51.100.${1 + 16 * k}`
        const host6 = `2001:db8:4${k}::1`
        const on = (name: string, h: number): Promise<Node> =>
          topo.container(name, br, `10.${40 + k}.1.${h}/24`, `fd4${k}:1::${h}/64`, `10.${40 + k}.1.1`, `fd4${k}:1::1`)
        const [c1, c2, ext] = await Promise.all([
          on('c1', 2),
          on('c2', 3),
          topo.machine('ext', `198.51.100.${2 + 16 * k}/28`, `2001:db8:4${k}::2/64`, `${host4}/28`, `${host6}/64`),
        ])
        for (const node of [c1, c2, ext]) await node.agent.listen('tcp', 80)
        installHostFirewall(hostKind)

        // Negative control: with nothing of cnm's, the host's policy drops the containers' traffic.
        expect(await c1.agent.connect('tcp', ext.ip4, 80, 400)).toMatchObject({ ok: false })

        const fw = await createFirewall({ backend })
        const net: NetworkRules = { id: `host-fw-${k}`, bridge: br, subnets: [`10.${40 + k}.1.0/24`, `fd4${k}:1::/64`] }
        const ports: PortMapping[] = [
          { proto: 'tcp', hostPort: 8080, containerIP: c2.ip4, containerPort: 80, bridge: br },
          { proto: 'tcp', hostPort: 8080, containerIP: c2.ip6, containerPort: 80, bridge: br },
        ]
        await fw.addNetwork(net)
        await fw.addPorts(ports)

        const passes = await Promise.all([
          c1.agent.connect('tcp', ext.ip4, 80),
          c1.agent.connect('tcp', ext.ip6, 80),
          c1.agent.connect('tcp', c2.ip4, 80),
          ext.agent.connect('tcp', host4, 8080),
          ext.agent.connect('tcp', host6, 8080),
        ])
        expect(passes.map((r) => (r.ok ? r.name : r.error))).toEqual(['ext', 'ext', 'c2', 'c2', 'c2'])

        // The kernel, read with tools that are not cnm's.
        if (hostKind === 'iptables FORWARD DROP') {
          const forward = iptablesSave().filter((l) => l.startsWith('-A FORWARD'))
          if (backend === 'nftables') {
            expect(forward[0]).toBe('-A FORWARD -j CNM-ACCEPT')
            expect(iptablesSave()).toEqual(
              expect.arrayContaining([`-A CNM-ACCEPT -i ${br} -j ACCEPT`, `-A CNM-ACCEPT -o ${br} -j ACCEPT`]),
            )
            expect(iptablesSave('ip6tables-save')).toContain(`-A CNM-ACCEPT -o ${br} -j ACCEPT`)
          } else {
            // The user's chain first, then cnm's.
            expect(forward.slice(0, 2)).toEqual(['-A FORWARD -j CNM-USER', '-A FORWARD -j CNM-FORWARD'])
          }
          expect(iptablesSave().filter((l) => l.startsWith(':FORWARD DROP'))).toHaveLength(1)
        } else {
          const [first] = nftRules('inet', 'filter', 'forward')
          expect(first?.expr).toEqual([{ jump: { target: 'CNM-ACCEPT' } }])
          expect(nftRules('inet', 'filter', 'CNM-ACCEPT').map((r) => r.expr)).toEqual([
            [{ match: { op: '==', left: { meta: { key: 'iifname' } }, right: br } }, { accept: null }],
            [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: br } }, { accept: null }],
          ])
        }
        const inv = await fw.inventory()
        expect(inv.networks.map((n) => [n.bridge, n.hostForwardMissing])).toEqual([[br, undefined]])

        // CNM-USER: the user's drops come before cnm's accepts, for outgoing traffic and published
        // ports alike; the same traffic from c2 (and to c2 from c1) still passes (the controls).
        userDrop(backend, c1.ip4, ext.ip4)
        userDrop(backend, ext.ip4, c2.ip4)
        const withPolicy = await Promise.all([
          c1.agent.connect('tcp', ext.ip4, 80, 400),
          ext.agent.connect('tcp', host4, 8080, 400),
          c2.agent.connect('tcp', ext.ip4, 80),
          ext.agent.connect('tcp', host6, 8080),
        ])
        expect(withPolicy.map((r) => (r.ok ? r.name : 'blocked'))).toEqual(['blocked', 'blocked', 'ext', 'c2'])
        userFlush(backend)
        expect(await ext.agent.connect('tcp', host4, 8080)).toMatchObject({ ok: true, name: 'c2' })

        if (backend === 'nftables' || hostKind === 'nft inet filter policy drop') {
          // The host's firewall reloaded without cnm's jump: the traffic stops, verify and the
          // inventory say what is missing, and repair puts it back.
          const [family, table, chain] =
            hostKind === 'iptables FORWARD DROP' ? ['ip', 'filter', 'FORWARD'] : ['inet', 'filter', 'forward']
          const jump = nftRules(family, table, chain).find(
            (r) => JSON.stringify(r.expr) === JSON.stringify([{ jump: { target: 'CNM-ACCEPT' } }]),
          )
          run('nft', [`delete rule ${family} ${table} ${chain} handle ${jump?.handle}`])
          expect(await c1.agent.connect('tcp', ext.ip4, 80, 400)).toMatchObject({ ok: false })
          const missing = `accept in ${family} ${table} ${chain} (policy drop)`
          expect((await fw.inventory()).networks[0]?.hostForwardMissing).toEqual([missing])
          expect((await fw.verify({ networks: [net] })).networks).toEqual([{ bridge: br, missing: [missing] }])
          await fw.repair({ networks: [net], ports })
          expect(await c1.agent.connect('tcp', ext.ip4, 80)).toMatchObject({ ok: true, name: 'ext' })
          expect((await fw.verify({ networks: [net], ports })).networks).toEqual([])
        }

        // The last network gone: cnm's rules leave the host's tables, the host's own policy stays.
        await fw.deletePorts(ports)
        await fw.deleteNetwork(net)
        expect(await fw.inventory()).toEqual({ backend, objects: [], networks: [], ports: [] })
        const left = JSON.stringify(JSON.parse(run('nft', ['-j', 'list', 'ruleset']).stdout))
        expect(left).not.toContain('CNM-')
        expect(left).toContain('"policy":"drop"')
        expect(await c1.agent.connect('tcp', ext.ip4, 80, 400)).toMatchObject({ ok: false })
      } finally {
        run('nft', ['flush', 'ruleset'])
        await hostAgent.stop()
        await topo.remove()
      }
    },
    60_000,
  )
})
