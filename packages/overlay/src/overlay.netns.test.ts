import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { Driver, SandboxInfo } from '@cnm/driverapi'
import { describeDriver } from '@cnm/driverapi/testing'
import { createNetns, deleteNetns } from '@cnm/netlink'
import { describeKernel, ipJson, pings, requireProgram, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createOverlayDriver } from './driver.js'
import { bridgeName, vxlanName } from './names.js'
import { createMemoryCluster, type MemoryCluster } from './testing/memory-cluster.js'

const id = (): string => randomBytes(32).toString('hex')

interface IpLink {
  ifname: string
  mtu: number
  master?: string
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean } }
}
interface Fdb {
  mac: string
  dst?: string
  flags?: string[]
  state?: string
}
interface Neigh {
  dst: string
  lladdr?: string
  state?: string[]
}

const links = (netns?: string): IpLink[] => ipJson<IpLink[]>(['-d', 'link', 'show'], netns ? { netns } : {})
const link = (name: string, netns?: string): IpLink | undefined => links(netns).find((l) => l.ifname === name)
/** The device's own FDB entries (`self`: what the driver programs), not those its bridge learned. */
const fdb = (dev: string, netns?: string): Fdb[] =>
  (JSON.parse(run('bridge', ['-j', 'fdb', 'show', 'dev', dev], netns ? { netns } : {}).stdout || '[]') as Fdb[]).filter(
    (e) => e.flags?.includes('self'),
  )
const neigh = (dev: string, netns?: string): Neigh[] =>
  ipJson<Neigh[]>(['neigh', 'show', 'dev', dev], netns ? { netns } : {})

/** Polls `check` until it holds (the cluster's watch is asynchronous), for up to `ms`. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (check()) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A TCP transfer of `bytes` from `from` to `to`:`port` (a Node server counting what arrives). */
function transfer(fromNetns: string, toNetns: string, ip: string, port: number, bytes: number): number {
  const server = `const n=require('node:net');let total=0;const s=n.createServer((c)=>{c.on('data',(d)=>{total+=d.length});c.on('end',()=>{c.end(String(total));s.close()})});s.listen(${port},'${ip}');setTimeout(()=>process.exit(2),60000).unref()`
  const client = `const n=require('node:net');const c=n.connect(${port},'${ip}',()=>{c.end(Buffer.alloc(${bytes},120))});let got='';c.on('data',(d)=>{got+=d});c.on('end',()=>{process.stdout.write(got);process.exit(0)});c.on('error',(e)=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(3),60000).unref()`
  const srv = spawn('nsenter', [`--net=${toNetns}`, '--', process.execPath, '-e', server], { stdio: 'ignore' })
  try {
    // Wait until the server listens (polling its namespace's sockets).
    const deadline = Date.now() + 20_000
    while (run('nsenter', [`--net=${toNetns}`, '--', 'ss', '-Htln', `sport = :${port}`]).stdout.trim() === '') {
      if (Date.now() > deadline) throw new Error('the transfer server did not start')
      run('sleep', ['0.05'])
    }
    const out = run(process.execPath, ['-e', client], { netns: fromNetns, timeoutMs: 60_000 }).stdout
    return Number(out)
  } finally {
    srv.kill()
  }
}

describeKernel('overlay driver (kernel)', () => {
  const host = useHostNetns()
  const underlay = uniqueName('ul')
  /** Host 2: a namespace on the underlay bridge; host 1 is this file's namespace itself. */
  let h2 = ''
  const h2Port = uniqueName('ulp')

  beforeAll(async () => {
    requireProgram('ping')
    run('ip', ['link', 'add', underlay, 'type', 'bridge'])
    run('ip', ['address', 'add', '192.0.2.1/24', 'dev', underlay])
    run('ip', ['link', 'set', underlay, 'up'])
    h2 = host.netnsPath('h2')
    await createNetns(h2)
    run('ip', ['link', 'add', h2Port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h2])
    run('ip', ['link', 'set', h2Port, 'master', underlay, 'up'])
    run('ip', ['address', 'add', '192.0.2.2/24', 'dev', 'eth0'], { netns: h2 })
    run('ip', ['link', 'set', 'eth0', 'up'], { netns: h2 })
    run('ip', ['link', 'set', 'lo', 'up'], { netns: h2 })
    run('sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  })

  afterAll(() => {
    if (h2) deleteNetns(h2)
    run('ip', ['link', 'del', h2Port], { check: false })
    run('ip', ['link', 'del', underlay], { check: false })
  })

  describe('two hosts, peers from the cluster', () => {
    let cluster: MemoryCluster
    let d1: Driver
    let d2: Driver
    const made: { driver: Driver; nid: string; eid: string; sb: Sandbox }[] = []
    const nets: { driver: Driver; nid: string }[] = []

    beforeAll(async () => {
      cluster = createMemoryCluster()
      d1 = createOverlayDriver({ owner: 'ovt', cluster: cluster.connect('h1', '192.0.2.1') })
      d2 = createOverlayDriver({
        owner: 'ovt',
        cluster: cluster.connect('h2', '192.0.2.2'),
        netns: h2,
        firewallBackend: 'none',
      })
      await d1.config({})
      await d2.config({})
    })

    afterEach(async () => {
      for (const m of made.splice(0).reverse()) {
        await m.driver.deleteEndpoint(m.nid, m.eid).catch(() => undefined)
        await m.sb.destroy()
      }
      for (const n of nets.splice(0)) if (n.driver.networkInfo(n.nid)) await n.driver.deleteNetwork(n.nid)
    })

    afterAll(async () => {
      await d1?.close()
      await d2?.close()
    })

    async function network(options: unknown): Promise<string> {
      const nid = id()
      for (const driver of [d1, d2]) {
        nets.push({ driver, nid })
        await driver.createNetwork(nid, options)
      }
      return nid
    }

    async function attach(
      driver: Driver,
      nid: string,
    ): Promise<{ sb: Sandbox; eid: string; info: SandboxInfo; ip: string }> {
      const sb = await newSandbox(host.netnsPath('sb'))
      const eid = id()
      made.push({ driver, nid, eid, sb })
      const info = await driver.createEndpoint(nid, eid, sb.key, {})
      for (const i of info.interfaces) await sb.addInterface(i)
      if (info.gateway) await sb.setGateway(info.gateway)
      return { sb, eid, info, ip: (info.interfaces[0]?.address ?? '').split('/')[0] ?? '' }
    }

    it('carries ping and a 10 MB TCP transfer across VXLAN, with static FDB and neighbour entries', async () => {
      const nid = await network({ addressIPv4: '10.77.0.1/24' })
      // No endpoint on a host: no devices there.
      expect(link(bridgeName(nid))).toBeUndefined()
      expect(link(vxlanName(nid), h2)).toBeUndefined()
      const c1 = await attach(d1, nid)
      const c2 = await attach(d2, nid)
      expect(c1.ip).not.toBe(c2.ip)
      const vx = vxlanName(nid)
      expect(link(vx)?.linkinfo).toMatchObject({
        info_kind: 'vxlan',
        info_data: { local: '192.0.2.1', port: 4789, learning: false },
      })
      expect(link(vx)?.master).toBe(bridgeName(nid))
      expect(link(vx)?.mtu).toBe(1450)
      expect(link('eth0', c1.sb.key)?.mtu).toBe(1450)
      // The bridges take no IPv6 router advertisement (a container's: CVE-2020-13401).
      const acceptRA = `/proc/sys/net/ipv6/conf/${bridgeName(nid)}/accept_ra`
      expect(run('cat', [acceptRA]).stdout.trim()).toBe('0')
      expect(run('cat', [acceptRA], { netns: h2 }).stdout.trim()).toBe('0')
      // Each host programs the other's endpoint: MAC → VTEP, IP → MAC.
      const mac2 = c2.info.interfaces[0]?.macAddress ?? ''
      const mac1 = c1.info.interfaces[0]?.macAddress ?? ''
      expect(await eventually(() => fdb(vx).some((e) => e.mac === mac2 && e.dst === '192.0.2.2'))).toBe(true)
      expect(fdb(vx).find((e) => e.mac === mac2)).toMatchObject({ flags: ['self'], state: 'permanent' })
      expect(neigh(vx).find((n) => n.dst === c2.ip)).toMatchObject({ lladdr: mac2, state: ['PERMANENT'] })
      expect(await eventually(() => fdb(vx, h2).some((e) => e.mac === mac1 && e.dst === '192.0.2.1'))).toBe(true)
      expect(neigh(vx, h2).find((n) => n.dst === c1.ip)).toMatchObject({ lladdr: mac1 })
      // No flooding entry (00:00:00:00:00:00) and nothing learned.
      expect(fdb(vx).filter((e) => e.mac === '00:00:00:00:00:00')).toEqual([])
      expect(pings(c2.ip, c1.sb.key)).toBe(true)
      expect(pings(c1.ip, c2.sb.key)).toBe(true)
      expect(transfer(c1.sb.key, c2.sb.key, c2.ip, 5001, 10 * 1024 * 1024)).toBe(10 * 1024 * 1024)
      // The remote endpoint leaves: host 1 drops its entries; host 2 has no devices any more.
      await d2.deleteEndpoint(nid, c2.eid)
      made.splice(
        made.findIndex((m) => m.eid === c2.eid),
        1,
      )
      await c2.sb.destroy()
      expect(await eventually(() => !fdb(vx).some((e) => e.mac === mac2))).toBe(true)
      expect(neigh(vx).find((n) => n.dst === c2.ip)).toBeUndefined()
      expect(link(vx, h2)).toBeUndefined()
      expect(link(bridgeName(nid), h2)).toBeUndefined()
    })

    it('carries IPv6 on a dual-stack network: addresses from the prefix and the MAC, neighbour entries, ping6 across hosts', async () => {
      const nid = await network({ addressIPv4: '10.76.0.1/24', enableIPv6: true, fixedCIDRv6: 'fd00:76::/64' })
      expect(d1.networkInfo(nid)).toMatchObject({ subnetV6: 'fd00:76::/64', gatewayV6: 'fd00:76::1' })
      const c1 = await attach(d1, nid)
      const c2 = await attach(d2, nid)
      const v6 = (c: { info: SandboxInfo }): string => (c.info.interfaces[0]?.addressIPv6 ?? '').split('/')[0] ?? ''
      const mac1 = c1.info.interfaces[0]?.macAddress ?? ''
      const mac2 = c2.info.interfaces[0]?.macAddress ?? ''
      // 10.76.x.y → MAC 02:42:0a:4c:xx:yy → fd00:76::242:a4c:xxyy (Docker's derivation).
      const [, , x, y] = c1.ip.split('.').map(Number)
      expect(c1.info.interfaces[0]?.addressIPv6).toBe(
        `fd00:76::242:a4c:${(((x ?? 0) << 8) | (y ?? 0)).toString(16)}/64`,
      )
      expect(c1.info.gatewayIPv6).toBe('fd00:76::1')
      expect(d2.endpointInfo(nid, c2.eid).ipv6).toBe(v6(c2))
      // The gateway on each host's bridge; the addresses in the sandboxes (the kernel's view).
      const addrs = (dev: string, netns?: string): string[] =>
        ipJson<{ addr_info: { local: string; family: string }[] }[]>(
          ['addr', 'show', 'dev', dev],
          netns ? { netns } : {},
        )
          .flatMap((l) => l.addr_info)
          .filter((a) => a.family === 'inet6')
          .map((a) => a.local)
      expect(addrs(bridgeName(nid))).toContain('fd00:76::1')
      expect(addrs('eth0', c2.sb.key)).toContain(v6(c2))
      // Each host programs the other's IPv6 address too (IP → MAC), so neighbour discovery is answered locally.
      const vx = vxlanName(nid)
      expect(await eventually(() => neigh(vx).some((n) => n.dst === v6(c2) && n.lladdr === mac2))).toBe(true)
      expect(await eventually(() => neigh(vx, h2).some((n) => n.dst === v6(c1) && n.lladdr === mac1))).toBe(true)
      expect(await eventually(() => pings(v6(c2), c1.sb.key), 10_000)).toBe(true)
      expect(pings(v6(c1), c2.sb.key)).toBe(true)
      expect(pings(c2.ip, c1.sb.key)).toBe(true)
      // An IPv6 address asked for that another endpoint holds is refused; one outside the subnet too.
      const sb = await newSandbox(host.netnsPath('sb'))
      try {
        await expect(d1.createEndpoint(nid, id(), sb.key, { ipv6Address: v6(c2) })).rejects.toMatchObject({
          code: 'ERR_ADDRESS_IN_USE',
        })
        await expect(d1.createEndpoint(nid, id(), sb.key, { ipv6Address: 'fd00:99::5' })).rejects.toMatchObject({
          code: 'ERR_INVALID_CONFIG',
        })
      } finally {
        await sb.destroy()
      }
      // The remote endpoint leaves: its IPv6 neighbour entry goes with the rest.
      await d2.deleteEndpoint(nid, c2.eid)
      made.splice(
        made.findIndex((m) => m.eid === c2.eid),
        1,
      )
      await c2.sb.destroy()
      expect(await eventually(() => !neigh(vx).some((n) => n.dst === v6(c2)))).toBe(true)
    })

    it('carries an IPv6-only network (enableIPv4 false) across hosts: ping6, no IPv4 anywhere', async () => {
      const nid = await network({ enableIPv4: false, enableIPv6: true, fixedCIDRv6: 'fd00:75::/64' })
      expect(d1.networkInfo(nid)).toMatchObject({ subnetV4: undefined, subnetV6: 'fd00:75::/64' })
      const c1 = await attach(d1, nid)
      const c2 = await attach(d2, nid)
      for (const c of [c1, c2]) {
        expect(c.info.interfaces[0]?.address).toBeUndefined()
        expect(c.info.interfaces[0]?.addressIPv6).toMatch(/^fd00:75::.*\/64$/u)
        expect(c.info.gateway).toBeUndefined()
        expect(c.info.gatewayIPv6).toBe('fd00:75::1')
      }
      const v6 = (c: { info: SandboxInfo }): string => (c.info.interfaces[0]?.addressIPv6 ?? '').split('/')[0] ?? ''
      expect(v6(c1)).not.toBe(v6(c2))
      expect(await eventually(() => pings(v6(c2), c1.sb.key), 10_000)).toBe(true)
      expect(pings(v6(c1), c2.sb.key)).toBe(true)
      const inet = ipJson<{ addr_info: { family: string }[] }[]>(['addr', 'show', 'dev', bridgeName(nid)])
      expect(inet.flatMap((l) => l.addr_info).filter((a) => a.family === 'inet')).toEqual([])
      await expect(d1.createEndpoint(nid, id(), '', { ipv4Address: '10.1.0.5' })).rejects.toMatchObject({
        code: 'ERR_INVALID_CONFIG',
      })
    })

    it('isolates overlay networks from each other (positive controls: same network, the underlay)', async () => {
      const a = await network({ addressIPv4: '10.78.0.1/24' })
      const b = await network({ addressIPv4: '10.79.0.1/24' })
      const a1 = await attach(d1, a)
      const a2 = await attach(d2, a)
      const b1 = await attach(d1, b)
      expect(await eventually(() => pings(a2.ip, a1.sb.key), 5000)).toBe(true)
      // b1 is routed through host 1 (forwarding on, NAT out): it reaches the underlay...
      expect(pings('192.0.2.2', b1.sb.key)).toBe(true)
      // ...but not network a, on this host or across VXLAN.
      expect(pings(a1.ip, b1.sb.key)).toBe(false)
      expect(pings(a2.ip, b1.sb.key)).toBe(false)
      expect(pings(b1.ip, a1.sb.key)).toBe(false)
    })

    it('drops a host whose lease expired, and programs it again once it wrote its records anew', async () => {
      const nid = await network({ addressIPv4: '10.80.0.1/24' })
      const c1 = await attach(d1, nid)
      const c2 = await attach(d2, nid)
      const vx = vxlanName(nid)
      const mac2 = c2.info.interfaces[0]?.macAddress ?? ''
      expect(await eventually(() => fdb(vx).some((e) => e.mac === mac2))).toBe(true)
      cluster.expire('h2', { regrant: false }) // the store drops h2's records: host 1 drops h2's entries
      expect(await eventually(() => !fdb(vx).some((e) => e.mac === mac2))).toBe(true)
      expect(neigh(vx).find((n) => n.dst === c2.ip)).toBeUndefined()
      expect(pings(c2.ip, c1.sb.key)).toBe(false)
      cluster.grant('h2') // h2's driver writes its records again under a new lease: host 1 programs them
      expect(await eventually(() => fdb(vx).some((e) => e.mac === mac2))).toBe(true)
      expect(await eventually(() => pings(c2.ip, c1.sb.key), 5000)).toBe(true)
      expect([...cluster.dump().keys()].filter((k) => k.includes(c2.eid))).toHaveLength(1)
    })

    it('reads the records again when its watch is compacted away, and drops the peers it missed leaving', async () => {
      const nid = await network({ addressIPv4: '10.84.0.1/24' })
      const c1 = await attach(d1, nid)
      const c2 = await attach(d2, nid)
      const c3 = await attach(d2, nid)
      const vx = vxlanName(nid)
      const mac = (c: typeof c2): string => c.info.interfaces[0]?.macAddress ?? ''
      expect(await eventually(() => fdb(vx).filter((e) => [mac(c2), mac(c3)].includes(e.mac)).length === 2)).toBe(true)
      cluster.dropEvents() // host 1's watch falls behind: it does not see c2 leave
      await d2.deleteEndpoint(nid, c2.eid)
      made.splice(
        made.findIndex((m) => m.eid === c2.eid),
        1,
      )
      await c2.sb.destroy()
      await new Promise((r) => setTimeout(r, 200))
      expect(fdb(vx).some((e) => e.mac === mac(c2))).toBe(true) // stale, as expected
      cluster.compact() // the watch ends with an error: host 1 reads again and watches anew
      expect(await eventually(() => !fdb(vx).some((e) => e.mac === mac(c2)))).toBe(true)
      expect(fdb(vx).some((e) => e.mac === mac(c3))).toBe(true)
      expect(pings(c3.ip, c1.sb.key)).toBe(true)
    })

    it('refuses an address another host holds, and a VNI another network has', async () => {
      const nid = await network({ addressIPv4: '10.81.0.1/24' })
      const c1 = await attach(d1, nid)
      const sb = await newSandbox(host.netnsPath('sb'))
      try {
        await expect(d2.createEndpoint(nid, id(), sb.key, { ipv4Address: c1.ip })).rejects.toMatchObject({
          code: 'ERR_ADDRESS_IN_USE',
          kind: 'conflict',
        })
        expect(links(sb.key).map((l) => l.ifname)).toEqual(['lo'])
        expect(link(vxlanName(nid), h2)).toBeUndefined() // nothing left behind on host 2
      } finally {
        await sb.destroy()
      }
      const vni = (link(vxlanName(nid))?.linkinfo?.info_data?.id ?? 0) as number
      await expect(d1.createNetwork(id(), { addressIPv4: '10.82.0.1/24', vni })).rejects.toMatchObject({
        code: 'ERR_VNI_UNAVAILABLE',
      })
    })
  })

  describe('without a cluster', () => {
    it('refuses networks with ERR_NO_CLUSTER', async () => {
      const d = createOverlayDriver({ owner: 'ovnc' })
      await d.config({})
      await expect(d.createNetwork(id(), { addressIPv4: '10.83.0.1/24' })).rejects.toMatchObject({
        code: 'ERR_NO_CLUSTER',
        kind: 'unavailable',
      })
      await d.close()
    })
  })

  let conformanceNet = 0
  const conformanceCluster = createMemoryCluster()
  describeDriver('overlay', {
    create: async () => {
      const d = createOverlayDriver({ owner: 'ovconf', cluster: conformanceCluster.connect('hc', '192.0.2.1') })
      await d.config({})
      return d
    },
    networkOptions: () => ({ addressIPv4: `10.${90 + conformanceNet++}.0.1/24` }),
    invalidNetworkOptions: [
      {},
      'nope',
      { addressIPv4: 'nope' },
      { addressIPv4: '10.99.0.0/24' },
      { addressIPv4: 'fd00::1/64' },
      { addressIPv4: '10.99.0.1/24', vni: 0 },
      { addressIPv4: '10.99.0.1/24', vni: 2 ** 24 },
      { addressIPv4: '10.99.0.1/24', fixedCIDR: '10.98.0.0/25' },
      { addressIPv4: '10.99.0.1/24', mtu: 10 },
      { addressIPv4: '10.99.0.1/24', enableIPv6: true },
    ],
    invalidEndpointOptions: [
      'not an object',
      { noSuchOption: 1 },
      { ipv4Address: 'x' },
      { macAddress: '01:00:5e:00:00:01' },
    ],
    sandboxKey: async () => {
      const key = host.netnsPath('cf')
      await createNetns(key)
      return key
    },
    releaseSandboxKey: async (key) => deleteNetns(key),
    dispose: (d) => d.close(),
  })
})
