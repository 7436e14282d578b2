import { readFileSync, writeFileSync } from 'node:fs'
import {
  Agent,
  describeKernel,
  enableForwarding,
  type Node,
  pings,
  pingsFrom,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BACKENDS, iptablesLines, kernelPorts, nftChains, snapshot } from '../test/kernel.js'
import { macOf, rawSyns } from '../test/raw-syn.js'
import { ERR_INVALID_CIDR, ERR_INVALID_INTERFACE_NAME, ERR_INVALID_PORT, ERR_NOT_SUPPORTED } from './errors.js'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/** `net.ipv4.conf.<bridge>.route_localnet`, read and written from the main thread (its namespace's). */
const routeLocalnet = (bridge: string): string =>
  readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim()
const setRouteLocalnet = (bridge: string, value: '0' | '1'): void =>
  writeFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, value)

describeKernel('firewall (kernel, real traffic)', () => {
  const host = useHostNetns()

  beforeAll(() => {
    for (const tool of ['nft', 'iptables-restore', 'ip6tables-restore', 'ping', 'sysctl', 'python3']) {
      requireProgram(tool)
    }
    enableForwarding()
  })

  describe.each(BACKENDS)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    // Each backend gets its own addresses and ports, so nothing of one run can answer for the other.
    const net4 = (n: number, h: number): string => `10.${10 + k}.${n}.${h}`
    const net6 = (n: number, h: number): string => `fd0${k}:${n}::${h || ''}`
    const host4 = `198.51.100.${1 + 128 * k}`
    const host6 = `2001:db8:${k + 1}::1`
    const port = (p: number): number => p + 100 * k
    let fw: Firewall
    let hostAgent: Agent
    let c1: Node // network A (ICC on), hairpin on
    let c2: Node // network A
    let c3: Node // network B (ICC off)
    let c5: Node // network B
    let c4: Node // network I (internal)
    let ext: Node // another machine
    const networks: NetworkRules[] = []
    let published: PortMapping[]

    beforeAll(async () => {
      fw = await createFirewall({ backend })
      const bridges: string[] = []
      for (const n of [1, 2, 3]) bridges.push(topo.bridge(`${net4(n, 1)}/24`, `${net6(n, 1)}/64`))
      const [brA = '', brB = '', brI = ''] = bridges
      const on = (name: string, br: string, n: number, h: number, hairpin = false): Promise<Node> =>
        topo.container(name, br, `${net4(n, h)}/24`, `${net6(n, h)}/64`, net4(n, 1), net6(n, 1), hairpin)
      ;[c1, c2, c3, c5, c4, ext, hostAgent] = await Promise.all([
        on('c1', brA, 1, 2, true),
        on('c2', brA, 1, 3),
        on('c3', brB, 2, 2),
        on('c5', brB, 2, 3),
        on('c4', brI, 3, 2),
        topo.machine('ext', `198.51.100.${2 + 128 * k}/25`, `2001:db8:${k + 1}::2/64`, `${host4}/25`, `${host6}/64`),
        Agent.start('host'),
      ])
      networks.push(
        { id: `netA${k}`, bridge: brA, subnets: [`${net4(1, 0)}/24`, `${net6(1, 0)}/64`], icc: true, masquerade: true },
        { id: `netB${k}`, bridge: brB, subnets: [`${net4(2, 0)}/24`, `${net6(2, 0)}/64`], icc: false },
        { id: `netI${k}`, bridge: brI, subnets: [`${net4(3, 0)}/24`, `${net6(3, 0)}/64`], internal: true },
      )
      for (const net of networks) await fw.addNetwork(net)
      // The host serves too: what a container may reach on its gateway, and ext on host4.
      for (const node of [c1, c2, c3, c5, c4, ext]) await node.agent.listen('tcp', 80)
      await hostAgent.listen('tcp', 80)
      await c1.agent.listen('udp', 53)
      for (const p of [7000, 7001, 7002]) await c1.agent.listen('tcp', p)
      published = [
        { proto: 'tcp', hostPort: port(8080), containerIP: c1.ip4, containerPort: 80, bridge: brA },
        { proto: 'udp', hostPort: port(5353), containerIP: c1.ip4, containerPort: 53, bridge: brA },
        { proto: 'tcp', hostPort: port(8081), containerIP: c1.ip6, containerPort: 80, bridge: brA },
        {
          proto: 'tcp',
          hostPort: port(9000),
          hostPortEnd: port(9002),
          containerIP: c1.ip4,
          containerPort: 7000,
          containerPortEnd: 7002,
          bridge: brA,
        },
        { proto: 'tcp', hostIP: host4, hostPort: port(8082), containerIP: c2.ip4, containerPort: 80 },
      ]
    })

    afterAll(async () => {
      await fw?.flush()
      await hostAgent?.stop() // it serves port 80 in the namespace both backends share
      await topo.remove()
    })

    it('reports its backend, and the kernel holds the networks it lists', async () => {
      expect(fw.backend).toBe(backend)
      expect(fw.name).toBe(backend)
      const inv = await fw.inventory()
      expect(inv.backend).toBe(backend)
      expect(inv.networks.map((n) => [n.id, n.bridge, n.subnets])).toEqual(
        networks
          .map((n) => [n.id, n.bridge, [...n.subnets].sort()])
          .sort((a, b) => String(a[1]).localeCompare(String(b[1]))),
      )
      expect(inv.ports).toEqual([])
      const [a] = networks
      if (backend === 'nftables') expect(nftChains()).toContain(`n-${a?.bridge}-fwd`)
      else expect(iptablesLines('filter')).toContain(`:CNM-FWD-${a?.bridge} - [0:0]`)
    })

    it('outgoing traffic is masqueraded; containers on one bridge talk (ICC on); other machines cannot reach them directly', async () => {
      expect(await c1.agent.connect('tcp', ext.ip4, 80)).toMatchObject({ ok: true, name: 'ext', peer: host4 })
      expect(await c3.agent.connect('tcp', ext.ip4, 80)).toMatchObject({ ok: true, name: 'ext', peer: host4 })
      expect(await c2.agent.connect('tcp', c1.ip4, 80)).toMatchObject({ ok: true, name: 'c1', peer: c2.ip4 })
      expect(await c2.agent.connect('tcp', c1.ip6, 80)).toMatchObject({ ok: true, name: 'c1', peer: c2.ip6 })
      expect(pingsFrom(c2.netns, c1.ip4)).toBe(true)
      expect(await ext.agent.connect('tcp', c1.ip4, 80, 400)).toMatchObject({ ok: false })
      // ext's own path through the host works: it is the firewall that stops it at c1.
      expect(await ext.agent.connect('tcp', host4, 80)).toMatchObject({ ok: true, name: 'host', peer: ext.ip4 })
    })

    it('isolates networks from each other, and ICC off blocks containers on that bridge', async () => {
      const blocked = await Promise.all([
        c1.agent.connect('tcp', c3.ip4, 80, 400),
        c3.agent.connect('tcp', c1.ip4, 80, 400),
        c1.agent.connect('tcp', c3.ip6, 80, 400),
        c5.agent.connect('tcp', c3.ip4, 80, 400),
        c5.agent.connect('tcp', c3.ip6, 80, 400),
      ])
      expect(blocked.map((r) => r.ok)).toEqual([false, false, false, false, false])
      expect(pingsFrom(c5.netns, c3.ip4)).toBe(false)
      // Controls: every target answers the same probe from the host, and every source reaches the
      // outside, so the probes above failed at the firewall, not at a target that was down.
      const allowed = await Promise.all([
        hostAgent.connect('tcp', c3.ip4, 80),
        hostAgent.connect('tcp', c1.ip4, 80),
        hostAgent.connect('tcp', c3.ip6, 80),
        c1.agent.connect('tcp', ext.ip4, 80),
        c3.agent.connect('tcp', ext.ip4, 80),
        c5.agent.connect('tcp', ext.ip4, 80),
        c5.agent.connect('tcp', ext.ip6, 80),
      ])
      expect(allowed.map((r) => (r.ok ? r.name : r.error))).toEqual(['c3', 'c1', 'c3', 'ext', 'ext', 'ext', 'ext'])
      expect(pings(c3.ip4)).toBe(true)
      expect(pingsFrom(c5.netns, ext.ip4)).toBe(true)
    })

    it('an internal network: nothing leaves or enters through the host', async () => {
      const blocked = await Promise.all([
        c4.agent.connect('tcp', ext.ip4, 80, 400),
        c4.agent.connect('tcp', ext.ip6, 80, 400),
        c4.agent.connect('tcp', c1.ip4, 80, 400),
        ext.agent.connect('tcp', c4.ip4, 80, 400),
        c1.agent.connect('tcp', c4.ip4, 80, 400),
      ])
      expect(blocked.map((r) => r.ok)).toEqual([false, false, false, false, false])
      expect(pingsFrom(c4.netns, ext.ip4)).toBe(false)
      // Controls: the same targets answer from where they may (ext and c1 from another network, c4
      // from the host), and c4 itself sends fine (to its gateway, the host).
      const allowed = await Promise.all([
        c1.agent.connect('tcp', ext.ip4, 80),
        c1.agent.connect('tcp', ext.ip6, 80),
        c2.agent.connect('tcp', c1.ip4, 80),
        hostAgent.connect('tcp', c4.ip4, 80),
        c4.agent.connect('tcp', net4(3, 1), 80),
      ])
      expect(allowed.map((r) => (r.ok ? r.name : r.error))).toEqual(['ext', 'ext', 'c1', 'c4', 'host'])
      expect(pingsFrom(c1.netns, ext.ip4)).toBe(true)
      expect(pingsFrom(c4.netns, net4(3, 1))).toBe(true)
    })

    it('a published port is reached from the host, 127.0.0.1, other containers, another machine and itself (hairpin)', async () => {
      await fw.addPorts(published)
      expect(kernelPorts(backend)).toEqual(
        [`tcp/${port(8080)}`, `udp/${port(5353)}`, `tcp/${port(8081)}`, `tcp/${port(8082)}`]
          .concat(
            backend === 'nftables'
              ? [`tcp/${port(9000)}`, `tcp/${port(9001)}`, `tcp/${port(9002)}`]
              : [`tcp/${port(9000)}:${port(9002)}`],
          )
          .sort(),
      )
      const p = port(8080)
      const [fromHost, fromLoopback, fromC2, fromOtherNet, fromExt, hairpin] = await Promise.all([
        hostAgent.connect('tcp', host4, p),
        hostAgent.connect('tcp', '127.0.0.1', p),
        c2.agent.connect('tcp', host4, p),
        c3.agent.connect('tcp', host4, p),
        ext.agent.connect('tcp', host4, p),
        c1.agent.connect('tcp', host4, p),
      ])
      for (const r of [fromHost, fromLoopback, fromC2, fromOtherNet, fromExt, hairpin]) {
        expect(r).toMatchObject({ ok: true, name: 'c1', port: 80 })
      }
      expect(fromExt).toMatchObject({ peer: ext.ip4 }) // the source of outside traffic is kept
      expect(fromLoopback).toMatchObject({ peer: net4(1, 1) }) // 127.0.0.1 masqueraded to the bridge
      expect(hairpin).toMatchObject({ peer: net4(1, 1) })
      // Through the bridge's own address too.
      expect(await c2.agent.connect('tcp', net4(1, 1), p)).toMatchObject({ ok: true, name: 'c1' })
    })

    it('udp, IPv6, a port range and a port on one host address are published too', async () => {
      const u = port(5353)
      const replies = await Promise.all([
        hostAgent.connect('udp', host4, u),
        hostAgent.connect('udp', '127.0.0.1', u),
        ext.agent.connect('udp', host4, u),
        c1.agent.connect('udp', host4, u),
        ext.agent.connect('tcp', host6, port(8081)),
        hostAgent.connect('tcp', host6, port(8081)),
        c2.agent.connect('tcp', host6, port(8081)),
      ])
      for (const r of replies) expect(r).toMatchObject({ ok: true, name: 'c1' })
      expect(replies[4]).toMatchObject({ peer: ext.ip6 })
      const range = await Promise.all([0, 1, 2].map((i) => ext.agent.connect('tcp', host4, port(9000) + i)))
      expect(range.map((r) => (r.ok ? r.port : r.error))).toEqual([7000, 7001, 7002])
      // Published on host4 only: reached there, not through the bridge's address.
      expect(await ext.agent.connect('tcp', host4, port(8082))).toMatchObject({ ok: true, name: 'c2' })
      expect(await c1.agent.connect('tcp', net4(1, 1), port(8082))).toMatchObject({ ok: false, error: 'ECONNREFUSED' })
    })

    it('a port published on 127.0.0.1 answers the host only: a raw SYN from a container to it gets nothing', async () => {
      const [brA, brB] = [networks[0]?.bridge ?? '', networks[1]?.bridge ?? '']
      const [toC1, toC3, anywhere] = [port(9100), port(9101), port(9102)]
      // Each container port published twice: on 127.0.0.1, and on host4 (the control); and one
      // published on every address (127.0.0.1 is one of the host's local addresses too).
      const pairs: PortMapping[] = [
        { proto: 'tcp', hostIP: '127.0.0.1', hostPort: toC1, containerIP: c1.ip4, containerPort: 80, bridge: brA },
        { proto: 'tcp', hostIP: host4, hostPort: toC1, containerIP: c1.ip4, containerPort: 80, bridge: brA },
        { proto: 'tcp', hostIP: '127.0.0.1', hostPort: toC3, containerIP: c3.ip4, containerPort: 80, bridge: brB },
        { proto: 'tcp', hostIP: host4, hostPort: toC3, containerIP: c3.ip4, containerPort: 80, bridge: brB },
        { proto: 'tcp', hostPort: anywhere, containerIP: c3.ip4, containerPort: 80, bridge: brB },
      ]
      await fw.addPorts(pairs)
      try {
        const gwB = macOf(brB) // c3 and c5 are on network B (ICC off); c1 on network A
        // The host itself reaches both through 127.0.0.1.
        expect(await hostAgent.connect('tcp', '127.0.0.1', toC1)).toMatchObject({ ok: true, name: 'c1' })
        expect(await hostAgent.connect('tcp', '127.0.0.1', toC3)).toMatchObject({ ok: true, name: 'c3' })
        expect(await hostAgent.connect('tcp', '127.0.0.1', anywhere)).toMatchObject({ ok: true, name: 'c3' })
        // Raw SYNs to the gateway's MAC, from another network (c3 → c1) and inside the ICC-off network
        // (c5 → c3). Controls in the same run: the same SYNs to host4 are answered (the sender works,
        // the containers serve, the ports are published), and so is one to the gateway's own service.
        // To 127.0.0.1 they must get nothing: never DNAT-ed from outside the host, then dropped by the
        // input guard, whether published on 127.0.0.1, on every address, or not at all (the host's own
        // loopback service, CVE-2020-8558).
        expect(
          rawSyns(c3, gwB, [
            [host4, toC1],
            [net4(2, 1), 80],
            ['127.0.0.1', toC1],
            ['127.0.0.1', 80],
          ]),
        ).toEqual(['syn-ack', 'syn-ack', 'none', 'none'])
        expect(
          rawSyns(c5, gwB, [
            [host4, toC3],
            [host4, anywhere],
            ['127.0.0.1', toC3],
            ['127.0.0.1', anywhere],
          ]),
        ).toEqual(['syn-ack', 'syn-ack', 'none', 'none'])
        // The host's 127.0.0.1 still works after all that.
        expect(await hostAgent.connect('tcp', '127.0.0.1', toC1)).toMatchObject({ ok: true, name: 'c1' })
      } finally {
        await fw.deletePorts(pairs)
      }
    })

    it('a transaction that fails changes nothing', async () => {
      const before = snapshot()
      // One new port and one already published elsewhere: neither is applied.
      await expect(
        fw.addPorts([
          { proto: 'tcp', hostPort: port(8090), containerIP: c2.ip4, containerPort: 80 },
          { proto: 'tcp', hostPort: port(8080), containerIP: c2.ip4, containerPort: 80 },
        ]),
      ).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringContaining(`:${port(8080)}`) })
      // A dual-stack network whose IPv6 subnet overlaps network A's: its IPv4 part is not left behind.
      const brX = topo.bridge(`${net4(4, 1)}/24`, `${net6(4, 1)}/64`)
      setRouteLocalnet(brX, '0') // the bridge's knob is its owner's: the firewall never writes it
      const withBridge = snapshot()
      await expect(
        fw.addNetwork({ id: 'clash', bridge: brX, subnets: [`${net4(4, 0)}/24`, `${net6(1, 0)}/64`] }),
      ).rejects.toMatchObject({ code: 'EEXIST' })
      expect(snapshot()).toEqual(withBridge)
      await fw.addNetwork({ id: 'x4', bridge: brX, subnets: [`${net4(4, 0)}/24`] })
      expect(routeLocalnet(brX)).toBe('0')
      await fw.deleteNetwork({ bridge: brX })
      expect(snapshot()).toEqual(withBridge)
      // The network that exists cannot be added again.
      await expect(fw.addNetwork(networks[0] as NetworkRules)).rejects.toMatchObject({ code: 'EEXIST' })
      run('ip', ['link', 'del', brX])
      expect(snapshot()).toEqual(before)
    })

    it('refuses bad input before anything reaches the kernel; sctp only where the kernel has it', async () => {
      const before = snapshot()
      const m = { proto: 'tcp', hostPort: 1, containerIP: c1.ip4, containerPort: 80 } as const
      await expect(fw.addNetwork({ id: 'x', bridge: 'br/0', subnets: ['10.99.0.0/24'] })).rejects.toMatchObject({
        code: ERR_INVALID_INTERFACE_NAME,
      })
      await expect(fw.addNetwork({ id: 'x', bridge: 'brx', subnets: ['10.99.0.0/33'] })).rejects.toMatchObject({
        code: ERR_INVALID_CIDR,
      })
      await expect(fw.addPorts([{ ...m, hostPort: 70000 }])).rejects.toMatchObject({ code: ERR_INVALID_PORT })
      const hasSctp = /^SCTP/mu.test(readFileSync('/proc/net/protocols', 'utf8'))
      const sctp = fw.addPorts([{ ...m, proto: 'sctp', hostPort: port(8099) }])
      if (hasSctp) await sctp
      else
        await expect(sctp).rejects.toMatchObject({ code: ERR_NOT_SUPPORTED, message: expect.stringContaining('sctp') })
      expect(fw.protocols.includes('sctp')).toBe(hasSctp)
      expect(snapshot()).toEqual(before)
    })

    it('after deletePorts connections are refused and the inventory lists no port', async () => {
      await fw.deletePorts(published)
      await fw.deletePorts(published) // deleting what is not there is a no-op
      expect(kernelPorts(backend)).toEqual([])
      expect((await fw.inventory()).ports).toEqual([])
      const p = port(8080)
      const refused = await Promise.all([
        hostAgent.connect('tcp', host4, p),
        hostAgent.connect('tcp', '127.0.0.1', p),
        ext.agent.connect('tcp', host4, p),
        c1.agent.connect('tcp', host4, p),
        ext.agent.connect('tcp', host6, port(8081)),
      ])
      expect(refused).toEqual(Array(5).fill({ ok: false, error: 'ECONNREFUSED' }))
      expect(await ext.agent.connect('udp', host4, port(5353), 400)).toMatchObject({ ok: false })
      // Controls: c1 still serves (so the refusals come from the host: nothing is published), and
      // ext still reaches the host.
      const allowed = await Promise.all([
        c2.agent.connect('tcp', c1.ip4, 80),
        c2.agent.connect('udp', c1.ip4, 53),
        c2.agent.connect('tcp', c1.ip6, 80),
        ext.agent.connect('tcp', host4, 80),
      ])
      expect(allowed.map((r) => (r.ok ? r.name : r.error))).toEqual(['c1', 'c1', 'c1', 'host'])
    })

    it('deleteNetwork and flush remove everything cnm owns, and nothing else', async () => {
      const [a] = networks
      await fw.deleteNetwork({ bridge: a?.bridge ?? '' })
      await fw.deleteNetwork({ bridge: a?.bridge ?? '' })
      expect((await fw.inventory()).networks.map((n) => n.bridge)).not.toContain(a?.bridge)
      expect(routeLocalnet(a?.bridge ?? '')).toBe('1') // as its owner set it: the firewall writes rules only
      await fw.flush()
      expect(await fw.inventory()).toEqual({ backend, objects: [], networks: [], ports: [] })
      expect(nftChains()).toEqual([])
      expect(
        iptablesLines('nat')
          .concat(iptablesLines('filter'))
          .filter((l) => l.includes('CNM')),
      ).toEqual([])
    })
  })

  describe('iptables backend, from nothing', () => {
    const topo = new Topology(host)
    afterAll(() => topo.remove())

    it('a dual-stack network whose IPv6 half fails leaves nothing behind, its skeleton included', async () => {
      const fw = await createFirewall({ backend: 'iptables' })
      const br = topo.bridge('10.50.0.1/24', 'fd50::1/64')
      run('ip6tables', ['-N', `CNM-FWD-${br}`]) // in the way of the IPv6 half only
      const before = snapshot()
      await expect(
        fw.addNetwork({ id: 'half', bridge: br, subnets: ['10.50.0.0/24', 'fd50::/64'] }),
      ).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringContaining('IPv6') })
      expect(snapshot()).toEqual(before)
      expect(
        iptablesLines('filter')
          .concat(iptablesLines('nat'))
          .filter((l) => l.includes('CNM')),
      ).toEqual([`:CNM-FWD-${br} - [0:0]`])
      run('ip6tables', ['-X', `CNM-FWD-${br}`])
    })
  })
})
