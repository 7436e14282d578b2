import {
  describeKernel,
  enableForwarding,
  type Node,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { beforeAll, expect, it } from 'vitest'
import { BACKENDS } from '../test/kernel.js'
import { createFirewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'

// cnm beside a regular dockerd (iptables on): Docker sets `iptables -P FORWARD DROP` and protects
// its bridges from other interfaces only through that policy, marking each with `-o <bridge> -j
// DOCKER`. cnm's accepts for its own bridges must not let a cnm container reach a Docker container's
// unpublished port (they return traffic to a Docker bridge to Docker's rules), while Docker's
// published ports, the uplink and everything else of cnm's keep working. Real packets, both backends,
// Docker's rules written with iptables (iptables-nft here), a negative control (the return deleted
// by hand: the bypass is real), verify and repair, and a Docker bridge created after cnm's network.

const DB = 5432 // unpublished on the Docker container
const WEB = 80 // published by "Docker" on the host's port 8081

/** Docker 20.10's filter rules for one of its bridges, in one family (`-o br -j DOCKER` first). */
function dockerBridgeRules(cmd: 'iptables' | 'ip6tables', br: string): void {
  run(cmd, ['-A', 'FORWARD', '-o', br, '-j', 'DOCKER'])
  run(cmd, ['-A', 'FORWARD', '-o', br, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'])
  run(cmd, ['-A', 'FORWARD', '-i', br, '!', '-o', br, '-j', 'ACCEPT'])
  run(cmd, ['-A', 'FORWARD', '-i', br, '-o', br, '-j', 'ACCEPT'])
}

/** What dockerd does at start (`ip_forward` was 0): policy DROP, its chain DOCKER, in both families. */
function dockerDaemon(): void {
  for (const cmd of ['iptables', 'ip6tables'] as const) {
    run(cmd, ['-P', 'FORWARD', 'DROP'])
    run(cmd, ['-N', 'DOCKER'])
  }
  run('iptables', ['-t', 'nat', '-N', 'DOCKER'])
  run('iptables', ['-t', 'nat', '-A', 'PREROUTING', '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'DOCKER'])
}

/** `docker run -p 8081:80` on `br`: the DNAT and the DOCKER chain's accept (IPv4). */
function dockerPublish(br: string, ctr: string): void {
  run(
    'iptables',
    ['-t', 'nat', '-A', 'DOCKER', '!', '-i', br, '-p', 'tcp', '--dport', '8081', '-j', 'DNAT'].concat([
      '--to-destination',
      `${ctr}:${WEB}`,
    ]),
  )
  run('iptables', [
    '-A',
    'DOCKER',
    '-d',
    `${ctr}/32`,
    '!',
    '-i',
    br,
    '-o',
    br,
    '-p',
    'tcp',
    '--dport',
    `${WEB}`,
    '-j',
    'ACCEPT',
  ])
}

const saved = (cmd: 'iptables-save' | 'ip6tables-save'): string[] =>
  run(cmd, ['-t', 'filter'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('-A '))

const outcome = (r: { ok: boolean; name?: string }): string => (r.ok ? (r.name ?? '?') : 'blocked')

describeKernel(
  'firewall beside Docker: cnm containers do not reach Docker bridges past Docker (kernel, real traffic)',
  () => {
    const host = useHostNetns({ per: 'test' })

    beforeAll(() => {
      for (const tool of ['nft', 'iptables', 'ip6tables', 'iptables-save', 'ip6tables-save']) requireProgram(tool)
      // Docker's rules and cnm's must share iptables-nft's tables (what cnm lives beside).
      expect(run('iptables', ['-V']).stdout).toContain('nf_tables')
    })

    it.each(BACKENDS)(
      '%s backend: unpublished Docker ports unreachable, published ones, the uplink and isolation unchanged; verify and repair; a later Docker bridge',
      async (backend, k) => {
        enableForwarding()
        const topo = new Topology(host)
        try {
          const n = 70 + k
          const cnmBr = topo.bridge(`10.${n}.1.1/24`, `fd${n}:1::1/64`)
          const dk = topo.bridge(`10.${n}.2.1/24`, `fd${n}:2::1/64`)
          const host4 = `198.51.100.${1 + 16 * k}`
          const [c, d, ext] = await Promise.all([
            topo.container('c', cnmBr, `10.${n}.1.2/24`, `fd${n}:1::2/64`, `10.${n}.1.1`, `fd${n}:1::1`),
            topo.container('d', dk, `10.${n}.2.2/24`, `fd${n}:2::2/64`, `10.${n}.2.1`, `fd${n}:2::1`),
            topo.machine(
              'ext',
              `198.51.100.${2 + 16 * k}/28`,
              `2001:db8:7${k}::2/64`,
              `${host4}/28`,
              `2001:db8:7${k}::1/64`,
            ),
          ])
          for (const node of [c, ext]) await node.agent.listen('tcp', 80)
          await d.agent.listen('tcp', DB)
          await d.agent.listen('tcp', WEB)
          dockerDaemon()
          for (const cmd of ['iptables', 'ip6tables'] as const) dockerBridgeRules(cmd, dk)
          dockerPublish(dk, d.ip4)

          const fw = await createFirewall({ backend })
          const net: NetworkRules = { id: `dk-iso-${k}`, bridge: cnmBr, subnets: [`10.${n}.1.0/24`, `fd${n}:1::/64`] }
          await fw.addNetwork(net)

          const check = async (target: Node): Promise<string[]> =>
            (
              await Promise.all([
                c.agent.connect('tcp', target.ip4, DB, 400),
                c.agent.connect('tcp', target.ip6, DB, 400),
                c.agent.connect('tcp', ext.ip4, 80),
                c.agent.connect('tcp', ext.ip6, 80),
                c.agent.connect('tcp', host4, 8081),
                ext.agent.connect('tcp', host4, 8081),
                d.agent.connect('tcp', c.ip4, 80, 400),
                d.agent.connect('tcp', c.ip6, 80, 400),
              ])
            ).map(outcome)
          // Docker's unpublished port: blocked (both families); the uplink: reached; Docker's published
          // port: reached from the cnm container as from outside; Docker's container to cnm's: blocked.
          const wanted = ['blocked', 'blocked', 'ext', 'ext', 'd', 'd', 'blocked', 'blocked']
          expect(await check(d)).toEqual(wanted)

          // The kernel, read with iptables-save: the returns come before cnm's accepts.
          const returnsFirst = (docker: string[]): void => {
            for (const cmd of ['iptables-save', 'ip6tables-save'] as const) {
              const rules = saved(cmd)
              if (backend === 'nftables') {
                const accept = rules.filter((l) => l.startsWith('-A CNM-ACCEPT'))
                expect(accept.slice(-2)).toEqual([
                  `-A CNM-ACCEPT -i ${cnmBr} -j ACCEPT`,
                  `-A CNM-ACCEPT -o ${cnmBr} -j ACCEPT`,
                ])
                expect(accept.slice(0, -2).sort()).toEqual(docker.map((x) => `-A CNM-ACCEPT -o ${x} -j RETURN`).sort())
                expect(rules.find((l) => l.startsWith('-A FORWARD'))).toBe('-A FORWARD -j CNM-ACCEPT')
              } else {
                const fwd = rules.filter((l) => l.startsWith(`-A CNM-FWD-${cnmBr} `))
                const accept = fwd.indexOf(`-A CNM-FWD-${cnmBr} -m conntrack --ctstate DNAT -j ACCEPT`)
                expect(fwd.filter((l) => l.endsWith('-j RETURN')).sort()).toEqual(
                  docker.map((x) => `-A CNM-FWD-${cnmBr} -o ${x} -j RETURN`).sort(),
                )
                for (const x of docker) {
                  const ret = fwd.indexOf(`-A CNM-FWD-${cnmBr} -o ${x} -j RETURN`)
                  expect(ret).toBeGreaterThanOrEqual(0)
                  expect(ret).toBeLessThan(accept)
                }
              }
            }
          }
          returnsFirst([dk])
          expect((await fw.verify({ networks: [net] })).networks).toEqual([])
          expect((await fw.inventory()).networks.map((x) => x.hostForwardMissing)).toEqual([undefined])

          // Negative control: the IPv4 return deleted by hand, the bypass is real; verify names the
          // missing rule, repair puts it back, and the port is closed again.
          const [chain, missing] =
            backend === 'nftables'
              ? ['CNM-ACCEPT', `return to Docker bridge ${dk} in ip filter CNM-ACCEPT`]
              : [`CNM-FWD-${cnmBr}`, `iptables filter rule CNM-FWD-${cnmBr} -o ${dk} -j RETURN missing`]
          run('iptables', ['-D', chain, '-o', dk, '-j', 'RETURN'])
          expect(outcome(await c.agent.connect('tcp', d.ip4, DB))).toBe('d')
          expect((await fw.verify({ networks: [net] })).networks).toEqual([{ bridge: cnmBr, missing: [missing] }])
          expect((await fw.repair({ networks: [net] })).networks).toEqual([{ bridge: cnmBr, missing: [missing] }])
          expect(await check(d)).toEqual(wanted)
          expect((await fw.verify({ networks: [net] })).networks).toEqual([])

          // A Docker network created after cnm's (`docker network create`): reached past Docker until
          // a repair covers it (what the firewall watch or reconcile runs), then closed.
          const dk2 = topo.bridge(`10.${n}.3.1/24`, `fd${n}:3::1/64`)
          const d2 = await topo.container('d2', dk2, `10.${n}.3.2/24`, `fd${n}:3::2/64`, `10.${n}.3.1`, `fd${n}:3::1`)
          await d2.agent.listen('tcp', DB)
          for (const cmd of ['iptables', 'ip6tables'] as const) dockerBridgeRules(cmd, dk2)
          expect(outcome(await c.agent.connect('tcp', d2.ip4, DB))).toBe('d2')
          const later =
            backend === 'nftables'
              ? ['ip', 'ip6'].map((f) => `return to Docker bridge ${dk2} in ${f} filter CNM-ACCEPT`)
              : ['iptables', 'ip6tables'].map((p) => `${p} filter rule CNM-FWD-${cnmBr} -o ${dk2} -j RETURN missing`)
          expect((await fw.verify({ networks: [net] })).networks).toEqual([{ bridge: cnmBr, missing: later }])
          await fw.repair({ networks: [net] })
          expect((await fw.verify({ networks: [net] })).networks).toEqual([])
          returnsFirst([dk, dk2])
          expect(await check(d2)).toEqual(wanted)
          expect(outcome(await c.agent.connect('tcp', d.ip4, DB, 400))).toBe('blocked')

          // A Docker `--internal` network (20.10: no `-j DOCKER`, only its isolation drops, in a chain
          // jumped to after cnm's): reached past them until a repair covers it, then closed.
          const dk3 = topo.bridge(`10.${n}.4.1/24`, `fd${n}:4::1/64`)
          const d3 = await topo.container('d3', dk3, `10.${n}.4.2/24`, `fd${n}:4::2/64`, `10.${n}.4.1`, `fd${n}:4::1`)
          await d3.agent.listen('tcp', DB)
          for (const [cmd, subnet] of [
            ['iptables', `10.${n}.4.0/24`],
            ['ip6tables', `fd${n}:4::/64`],
          ] as const) {
            run(cmd, ['-N', 'DOCKER-ISOLATION-STAGE-1'])
            run(cmd, ['-A', 'DOCKER-ISOLATION-STAGE-1', '!', '-s', subnet, '-o', dk3, '-j', 'DROP'])
            run(cmd, ['-A', 'DOCKER-ISOLATION-STAGE-1', '!', '-d', subnet, '-i', dk3, '-j', 'DROP'])
            run(cmd, ['-A', 'FORWARD', '-j', 'DOCKER-ISOLATION-STAGE-1'])
          }
          expect(outcome(await c.agent.connect('tcp', d3.ip4, DB))).toBe('d3')
          expect((await fw.verify({ networks: [net] })).networks).not.toEqual([])
          await fw.repair({ networks: [net] })
          expect((await fw.verify({ networks: [net] })).networks).toEqual([])
          returnsFirst([dk, dk2, dk3])
          expect(await check(d3)).toEqual(wanted)

          // cnm's last network gone: its rules leave iptables-nft's tables, Docker's stay.
          await fw.deleteNetwork(net)
          expect(await fw.inventory()).toEqual({ backend, objects: [], networks: [], ports: [] })
          const left = [...saved('iptables-save'), ...saved('ip6tables-save')]
          expect(left.filter((l) => l.includes('CNM-'))).toEqual([])
          expect(left).toContain(`-A FORWARD -o ${dk2} -j DOCKER`)
        } finally {
          run('nft', ['flush', 'ruleset'])
          await topo.remove()
        }
      },
      60_000,
    )
  },
)
