import { once } from 'node:events'
import { createServer } from 'node:net'
import { createFirewall, type Firewall } from '@cnm/firewall'
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
import { ERR_PORT_ALREADY_ALLOCATED, PortAllocator, type PortRequestOptions } from '@cnm/portallocator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ERR_PORT_MAPPED_FOR_IP, ERR_PORT_NOT_MAPPED } from './errors.js'
import { PortMapper } from './port-mapper.js'

const BACKENDS = [
  ['nftables', 0],
  ['iptables', 1],
] as const

/** The published host ports the kernel holds (`proto/port`), read with nft or iptables-save. */
function kernelPorts(backend: 'nftables' | 'iptables'): string[] {
  if (backend === 'nftables') {
    const text = run('nft', ['list', 'ruleset']).stdout
    return [...text.matchAll(/\b(tcp|udp) \. (?:[0-9a-f.:]+ \. )?(\d+)(?: comment "[^"]*")? :/gu)]
      .map((m) => `${m[1]}/${m[2]}`)
      .sort()
  }
  return ['iptables-save', 'ip6tables-save']
    .flatMap((cmd) => run(cmd, ['-t', 'nat']).stdout.split('\n'))
    .filter((l) => l.startsWith('-A CNM-DNAT '))
    .map((l) => `${/-p (\w+)/u.exec(l)?.[1]}/${/--dport (\S+)/u.exec(l)?.[1]}`)
    .sort()
}

describeKernel('PortMapper (kernel, real traffic)', () => {
  const host = useHostNetns()

  beforeAll(() => {
    for (const tool of ['nft', 'iptables-restore', 'ip6tables-restore', 'sysctl']) requireProgram(tool)
    enableForwarding()
  })

  it('without a firewall given, it makes the default one (nftables when nft works) on first use', async () => {
    const mapper = new PortMapper({ allocator: new PortAllocator({ begin: 40000, end: 40009 }) })
    const fw = await mapper.firewall()
    expect(fw.backend).toBe('nftables')
    expect(await mapper.firewall()).toBe(fw)
    expect(mapper.published()).toEqual([])
  })

  describe.each(BACKENDS)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    const host4 = `198.51.100.${1 + 128 * k}`
    const host6 = `2001:db8:${k + 1}::1`
    const gw4 = `10.${20 + k}.0.1`
    const gw6 = `fd1${k}::1`
    // Each backend its own allocator range, inside the kernel's ephemeral range of the namespace.
    const begin = 41000 + 1000 * k
    let fw: Firewall
    let allocator: PortAllocator
    let mapper: PortMapper
    let hostAgent: Agent
    let c1: Node
    let c2: Node
    let ext: Node
    let bridge: string

    beforeAll(async () => {
      bridge = topo.bridge(`${gw4}/24`, `${gw6}/64`)
      ;[c1, c2, ext, hostAgent] = await Promise.all([
        topo.container('c1', bridge, `10.${20 + k}.0.2/24`, `fd1${k}::2/64`, gw4, gw6, true),
        topo.container('c2', bridge, `10.${20 + k}.0.3/24`, `fd1${k}::3/64`, gw4, gw6),
        topo.machine('ext', `198.51.100.${2 + 128 * k}/25`, `2001:db8:${k + 1}::2/64`, `${host4}/25`, `${host6}/64`),
        Agent.start('host'),
      ])
      fw = await createFirewall({ backend })
      await fw.addNetwork({ id: `pm${k}`, bridge, subnets: [`${gw4}/24`, `${gw6}/64`] })
      allocator = new PortAllocator({ begin, end: begin + 99 })
      mapper = new PortMapper({ allocator, firewall: fw, bridge })
      await c1.agent.listen('tcp', 80)
      await c1.agent.listen('udp', 53)
      for (const p of [7000, 7001, 7002]) await c1.agent.listen('tcp', p)
    })

    afterAll(async () => {
      await fw?.flush()
      await topo.remove()
    })

    it('publish: any free port, reached from the host, 127.0.0.1, a second container, another machine and itself', async () => {
      const t = await mapper.publish(c1.ip4, { proto: 'tcp', containerPort: 80 })
      const u = await mapper.publish(c1.ip4, { proto: 'udp', containerPort: 53 })
      expect(t).toMatchObject({ proto: 'tcp', hostIP: '0.0.0.0', hostPort: begin, hostPortEnd: begin })
      expect(u).toMatchObject({ proto: 'udp', hostIP: '0.0.0.0', hostPort: begin }) // per-protocol port spaces
      const tcp = { port: t.hostPort }
      const udp = { port: u.hostPort }
      expect(kernelPorts(backend)).toEqual([`tcp/${begin}`, `udp/${begin}`])
      const replies = await Promise.all([
        hostAgent.connect('tcp', host4, tcp.port),
        hostAgent.connect('tcp', '127.0.0.1', tcp.port),
        c2.agent.connect('tcp', host4, tcp.port),
        ext.agent.connect('tcp', host4, tcp.port),
        c1.agent.connect('tcp', host4, tcp.port), // hairpin
        hostAgent.connect('udp', '127.0.0.1', udp.port),
        ext.agent.connect('udp', host4, udp.port),
        c1.agent.connect('udp', host4, udp.port),
      ])
      for (const r of replies) expect(r).toMatchObject({ ok: true, name: 'c1' })
      expect(replies[3]).toMatchObject({ peer: ext.ip4 })
    })

    it('a host port a host process already listens on cannot be published (and is not hijacked)', async () => {
      const taken = begin + 50
      await hostAgent.listen('tcp', taken)
      await expect(mapper.publish(c1.ip4, { proto: 'tcp', containerPort: 80, hostPort: taken })).rejects.toMatchObject({
        code: ERR_PORT_ALREADY_ALLOCATED,
        message: expect.stringContaining(`:${taken} failed: port is already allocated`),
      })
      expect(kernelPorts(backend)).not.toContain(`tcp/${taken}`)
      expect(await ext.agent.connect('tcp', host4, taken)).toMatchObject({ ok: true, name: 'host' })
    })

    it('ports asked for by number and held: the allocator is told the sockets were just checked (it reads no table of its own)', async () => {
      const told: (boolean | undefined)[] = []
      class Recording extends PortAllocator {
        override requestPort(ip: string | null | undefined, proto: 'tcp', port?: number, o?: PortRequestOptions) {
          if (port) told.push(o?.osChecked)
          return super.requestPort(ip, proto, port, o)
        }
        override requestPortRange(
          ip: string | null | undefined,
          proto: 'tcp',
          start: number,
          end: number,
          count?: number,
          o?: PortRequestOptions,
        ): [number, number] {
          if (start) told.push(o?.osChecked)
          return super.requestPortRange(ip, proto, start, end, count, o)
        }
      }
      const own = new PortMapper({ allocator: new Recording({ begin, end: begin + 99 }), firewall: fw, bridge })
      const one = await own.publish(c1.ip4, { proto: 'tcp', containerPort: 80, hostPort: begin + 60 })
      const block = await own.publish(c1.ip4, {
        proto: 'tcp',
        containerPort: 7000,
        containerPortEnd: 7001,
        hostPort: begin + 61,
        hostPortEnd: begin + 62,
      })
      expect(told).toEqual([true, true])
      expect(await ext.agent.connect('tcp', host4, begin + 60)).toMatchObject({ ok: true, name: 'c1' })
      expect(await ext.agent.connect('tcp', host4, begin + 62)).toMatchObject({ ok: true, name: 'c1' })
      // A foreign socket on a port asked for by number is still refused (the mapper's own check).
      await hostAgent.listen('tcp', begin + 63)
      await expect(
        own.publish(c1.ip4, { proto: 'tcp', containerPort: 80, hostPort: begin + 63 }),
      ).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED })
      // Not held (hold: false, as the CNI plugin publishes): nothing binds the port next, so the
      // allocator keeps its own check of the socket tables.
      const loose = await own.publish(
        c1.ip4,
        { proto: 'tcp', containerPort: 80, hostPort: begin + 64 },
        { hold: false },
      )
      expect(told).toEqual([true, true, false])
      await own.unpublish(loose)
      // An IPv6 socket on the IPv4-mapped host address holds that IPv4 port as much as an IPv4 one:
      // refused, held or not.
      const mapped = createServer()
      mapped.listen({ host: `::ffff:${host4}`, port: begin + 65, ipv6Only: false })
      await once(mapped, 'listening')
      try {
        for (const hold of [true, false]) {
          await expect(
            own.publish(c1.ip4, { proto: 'tcp', containerPort: 80, hostIP: host4, hostPort: begin + 65 }, { hold }),
          ).rejects.toMatchObject({ code: ERR_PORT_ALREADY_ALLOCATED, message: expect.stringContaining('the OS') })
        }
      } finally {
        mapped.close()
      }
      await own.unpublish(one)
      await own.unpublish(block)
      await own.close()
    })

    it('the same host address twice is ERR_PORT_MAPPED_FOR_IP; an unknown one ERR_PORT_NOT_MAPPED', async () => {
      await expect(
        mapper.publish(c2.ip4, { proto: 'tcp', containerPort: 80, hostIP: '0.0.0.0', hostPort: begin }),
      ).rejects.toMatchObject({
        code: ERR_PORT_MAPPED_FOR_IP,
      })
      await expect(mapper.unpublish({ proto: 'tcp', hostIP: '0.0.0.0', hostPort: begin + 98 })).rejects.toMatchObject({
        code: ERR_PORT_NOT_MAPPED,
        message: expect.stringContaining('port is not mapped'),
      })
    })

    it('a block is published one to one; IPv6 on a given host address', async () => {
      const block = await mapper.publish(c1.ip4, { proto: 'tcp', containerPort: 7000, containerPortEnd: 7002 })
      expect(block).toMatchObject({ hostIP: '0.0.0.0', hostPort: begin + 1, hostPortEnd: begin + 3 })
      const replies = await Promise.all([0, 1, 2].map((i) => ext.agent.connect('tcp', host4, block.hostPort + i)))
      expect(replies.map((r) => (r.ok ? r.port : r.error))).toEqual([7000, 7001, 7002])
      const v6 = await mapper.publish(c1.ip6, { proto: 'tcp', containerPort: 80, hostIP: host6, hostPort: begin + 10 })
      expect(v6).toMatchObject({ proto: 'tcp', hostIP: host6, hostPort: begin + 10 })
      expect(await ext.agent.connect('tcp', host6, v6.hostPort)).toMatchObject({ ok: true, name: 'c1', peer: ext.ip6 })
      expect(await hostAgent.connect('tcp', host6, v6.hostPort)).toMatchObject({ ok: true, name: 'c1' })
    })

    it('a firewall failure after allocation releases the port and programs nothing', async () => {
      const port = begin + 20
      // Someone else publishes that host port to another destination, behind the allocator's back.
      const other = { proto: 'tcp', hostPort: port, containerIP: c2.ip4, containerPort: 80 } as const
      await fw.addPorts([other])
      await expect(mapper.publish(c1.ip4, { proto: 'tcp', containerPort: 80, hostPort: port })).rejects.toMatchObject({
        code: 'EEXIST',
      })
      expect(mapper.published().some((p) => p.hostPort === port)).toBe(false)
      expect(allocator.requestPort('0.0.0.0', 'tcp', port)).toBe(port) // it was released
      allocator.releasePort('0.0.0.0', 'tcp', port)
      expect((await fw.inventory()).ports.filter((p) => p.hostPort === port)).toEqual([
        { proto: 'tcp', hostPort: port, containerIP: c2.ip4, containerPort: 80 },
      ])
      await fw.deletePorts([other])
    })

    it('after unpublish connections are refused, and nothing is left', async () => {
      const all = mapper.published()
      expect(all).toHaveLength(4)
      for (const p of all) await mapper.unpublish(p)
      expect(mapper.published()).toEqual([])
      expect(kernelPorts(backend)).toEqual([])
      expect((await fw.inventory()).ports).toEqual([])
      const refused = await Promise.all([
        hostAgent.connect('tcp', host4, begin),
        hostAgent.connect('tcp', '127.0.0.1', begin),
        ext.agent.connect('tcp', host4, begin),
        c1.agent.connect('tcp', host4, begin),
        ext.agent.connect('tcp', host6, begin + 10),
      ])
      expect(refused).toEqual(Array(5).fill({ ok: false, error: 'ECONNREFUSED' }))
      // Controls: c1 still serves on both families (so the refusals are the host's own: nothing is
      // published any more, not a container that went away).
      const served = await Promise.all([c2.agent.connect('tcp', c1.ip4, 80), c2.agent.connect('tcp', c1.ip6, 80)])
      expect(served.map((r) => (r.ok ? r.name : r.error))).toEqual(['c1', 'c1'])
      // Every port went back to the allocator.
      expect(allocator.requestPortRange('0.0.0.0', 'tcp', begin, begin + 3)).toEqual([begin, begin + 3])
      await fw.flush()
      expect(await fw.inventory()).toEqual({ backend, objects: [], networks: [], ports: [] })
    })
  })
})
