import { randomBytes } from 'node:crypto'
import type { Driver, SandboxInfo } from '@cnm/driverapi'
import { type Cluster, connectCluster } from '@cnm/etcd-store'
import { type EtcdTestCluster, startEtcdCluster } from '@cnm/etcd-store/testing'
import { describeKernel, pings, run, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createOverlayDriver } from './driver.js'
import { vxlanName } from './names.js'

const id = (): string => randomBytes(32).toString('hex')

interface Fdb {
  mac: string
  dst?: string
  flags?: string[]
}

/** The device's own FDB entries (what the driver programs), read with `bridge`. */
const fdb = (dev: string, netns?: string): Fdb[] =>
  (JSON.parse(run('bridge', ['-j', 'fdb', 'show', 'dev', dev], netns ? { netns } : {}).stdout || '[]') as Fdb[]).filter(
    (e) => e.flags?.includes('self'),
  )

/** What etcd holds under a prefix, read with etcdctl (not our client). */
function etcdKeys(endpoints: readonly string[], prefix: string): string[] {
  const out = run('etcdctl', [`--endpoints=${endpoints.join(',')}`, 'get', prefix, '--prefix', '--keys-only'], {
    timeoutMs: 15_000,
  }).stdout
  return out.split('\n').filter((l) => l.trim() !== '')
}

async function eventually(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (check()) return true
    if (Date.now() > end) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface HostUnderTest {
  name: string
  netns: string | undefined
  address: string
  cluster: Cluster
  driver: Driver
}

describeKernel('overlay driver across three hosts on a 3-member etcd cluster (kernel)', () => {
  const root = useHostNetns()
  let etcd: EtcdTestCluster
  const hosts: HostUnderTest[] = []
  const boxes: { host: HostUnderTest; nid: string; eid: string; sb: Sandbox; info: SandboxInfo }[] = []
  const LEASE_TTL = 2

  beforeAll(async () => {
    etcd = await startEtcdCluster({ root, members: 3, hosts: 3 })
    // Host A is this file's namespace (real firewall); B and C are two of the etcd hosts.
    const specs = [
      { name: 'hostA', netns: undefined, address: etcd.gateway },
      { name: 'hostB', netns: etcd.hosts[0]?.netns, address: etcd.hosts[0]?.address ?? '' },
      { name: 'hostC', netns: etcd.hosts[1]?.netns, address: etcd.hosts[1]?.address ?? '' },
    ]
    for (const s of specs) {
      const cluster = connectCluster({ store: etcd.endpoints, advertise: s.address, host: s.name, leaseTtl: LEASE_TTL })
      const driver = createOverlayDriver({
        owner: 'ovetcd',
        cluster,
        ...(s.netns ? { netns: s.netns, firewallBackend: 'none' as const } : {}),
      })
      await driver.config({})
      hosts.push({ ...s, cluster, driver })
    }
  }, 120_000)

  afterAll(async () => {
    for (const b of boxes.splice(0).reverse()) {
      await b.host.driver.deleteEndpoint(b.nid, b.eid).catch(() => undefined)
      await b.sb.destroy()
    }
    for (const h of hosts) {
      await h.driver.close()
      await h.cluster.close().catch(() => undefined)
    }
    await etcd?.remove()
  }, 120_000)

  async function attach(host: HostUnderTest, nid: string) {
    const sb = await newSandbox(root.netnsPath('sb'))
    const eid = id()
    const info = await host.driver.createEndpoint(nid, eid, sb.key, {}).catch(async (err: unknown) => {
      await sb.destroy() // a failed attach leaves no namespace behind
      throw err
    })
    boxes.push({ host, nid, eid, sb, info })
    for (const i of info.interfaces) await sb.addInterface(i)
    if (info.gateway) await sb.setGateway(info.gateway)
    return { sb, eid, info, ip: info.interfaces[0]?.address?.split('/')[0] ?? '', mac: info.interfaces[0]?.macAddress }
  }

  it('60 connects at once over the three hosts get 60 distinct addresses, and all clean up', async () => {
    const nid = id()
    for (const h of hosts) await h.driver.createNetwork(nid, { addressIPv4: '10.67.0.1/24' })
    // 20 per host, all at once: the local pools offer every host the same addresses first, and the
    // cluster's compare-and-swap makes the others skip each one a host took.
    const made = await Promise.all(Array.from({ length: 60 }, (_, i) => attach(hosts[i % 3] as HostUnderTest, nid)))
    expect(new Set(made.map((m) => m.ip)).size).toBe(60)
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${nid}/`)).toHaveLength(60)
    for (const m of made) {
      const i = boxes.findIndex((x) => x.eid === m.eid)
      const [box] = boxes.splice(i, 1)
      if (!box) continue
      await box.host.driver.deleteEndpoint(nid, box.eid)
      await box.sb.destroy()
    }
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${nid}/`)).toEqual([])
    expect(etcdKeys(etcd.endpoints, `/cnm/overlay/endpoints/${nid}/`)).toEqual([])
    // No endpoint anywhere: no devices on any host.
    for (const h of hosts) {
      expect(run('ip', ['-o', 'link', 'show'], h.netns ? { netns: h.netns } : {}).stdout).not.toContain(vxlanName(nid))
    }
    for (const h of hosts) await h.driver.deleteNetwork(nid)
    expect(etcdKeys(etcd.endpoints, `/cnm/overlay/networks/${nid}`)).toEqual([])
  }, 300_000)

  it('a network created on one host is used from all three; a dead host’s entries go within the lease TTL + 1 s', async () => {
    const nid = id()
    const [a, b, c] = hosts as [HostUnderTest, HostUnderTest, HostUnderTest]
    await a.driver.createNetwork(nid, { addressIPv4: '10.66.0.1/24' })
    // The other hosts learn the VNI from etcd (the same options, the record decides).
    await b.driver.createNetwork(nid, { addressIPv4: '10.66.0.1/24' })
    await c.driver.createNetwork(nid, { addressIPv4: '10.66.0.1/24' })
    const [ca, cb, cc] = await Promise.all([attach(a, nid), attach(b, nid), attach(c, nid)])
    expect(new Set([ca.ip, cb.ip, cc.ip]).size).toBe(3)
    expect(etcdKeys(etcd.endpoints, `/cnm/overlay/endpoints/${nid}/`)).toHaveLength(3)
    const vx = vxlanName(nid)
    expect(await eventually(() => fdb(vx).filter((e) => e.dst !== undefined).length === 2, 10_000)).toBe(true)
    for (const [from, to] of [
      [ca, cb],
      [cb, cc],
      [cc, ca],
    ] as const) {
      expect(await eventually(() => pings(to.ip, from.sb.key), 5000), `${from.ip} → ${to.ip}`).toBe(true)
    }
    // Host C dies for good: its store client stops without revoking; its lease expires.
    await c.cluster.close({ keepLease: true })
    const died = Date.now()
    expect(
      await eventually(
        () => !fdb(vx).some((e) => e.mac === cc.mac) && !fdb(vx, b.netns).some((e) => e.mac === cc.mac),
        (LEASE_TTL + 1) * 1000 + 2000,
      ),
    ).toBe(true)
    const took = Date.now() - died
    expect(took).toBeLessThanOrEqual((LEASE_TTL + 1) * 1000 + 500)
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${nid}/${cc.ip}`)).toEqual([])
    expect(pings(cb.ip, ca.sb.key)).toBe(true)
  }, 120_000)

  it('with every etcd member down an attach fails fast with ERR_STORE_UNAVAILABLE and leaves nothing', async () => {
    const a = hosts[0] as HostUnderTest
    const nid = id()
    await a.driver.createNetwork(nid, { addressIPv4: '10.68.0.1/24' })
    await etcd.stopAll()
    const sb = await newSandbox(root.netnsPath('sb'))
    try {
      const started = Date.now()
      await expect(a.driver.createEndpoint(nid, id(), sb.key, {})).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
        kind: 'unavailable',
      })
      expect(Date.now() - started).toBeLessThan(10_000)
      expect(run('ip', ['-o', 'link', 'show'], { netns: sb.key }).stdout.trim().split('\n')).toHaveLength(1) // lo
      expect(run('ip', ['-o', 'link', 'show']).stdout).not.toContain(vxlanName(nid))
    } finally {
      await sb.destroy()
      await etcd.startAll()
    }
    // etcd back: the same attach works once the client's per-member circuit breakers half-open
    // again (2 s after their last failure), so it is retried for a while, not forever.
    const deadline = Date.now() + 30_000
    let c: Awaited<ReturnType<typeof attach>> | undefined
    while (c === undefined) {
      try {
        c = await attach(a, nid)
      } catch (err) {
        if ((err as { code?: string }).code !== 'ERR_STORE_UNAVAILABLE' || Date.now() > deadline) throw err
        await new Promise((r) => setTimeout(r, 500))
      }
    }
    expect(c.ip).toMatch(/^10\.68\.0\./u)
  }, 120_000)
})
