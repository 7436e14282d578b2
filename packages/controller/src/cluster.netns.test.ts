// Global scope against a real 3-member etcd cluster (in throwaway namespaces: the test needs root
// for them, not for the controllers). Three controllers play three hosts' daemons: each has its own
// SQLite store, in-memory "kernel" and sandboxes, and its own etcd client and lease.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { ERR_STORE_UNAVAILABLE, errorKind, hasErrorCode } from '@cnm/driverapi'
import { createMemoryDriver, createMemoryKernel, type MemoryKernel } from '@cnm/driverapi/testing'
import { type Cluster, connectCluster } from '@cnm/etcd-store'
import { type EtcdTestCluster, startEtcdCluster } from '@cnm/etcd-store/testing'
import { describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from './controller.js'
import { createMemorySandboxes } from './testing/memory-sandboxes.js'

type Controller = Awaited<ReturnType<typeof createController>>

interface Host {
  name: string
  kernel: MemoryKernel
  storePath: string
  cluster: Cluster
  controller: Controller
}

const LEASE_TTL = 2

/** Runs etcdctl (API v3) against `endpoints`; its output, or an error naming what was asked. */
function etcdctl(endpoints: readonly string[], args: readonly string[]): string {
  const res = spawnSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 15_000,
  })
  if (res.status !== 0) throw new Error(`etcdctl ${args.join(' ')}: ${res.stderr}`)
  return res.stdout
}

/** Address claims as etcd itself holds them, read with etcdctl (not our client). */
function etcdKeys(endpoints: readonly string[], prefix: string): string[] {
  return etcdctl(endpoints, ['get', prefix, '--prefix', '--keys-only'])
    .split('\n')
    .filter((l) => l !== '')
}

/** The index (in `endpoints`) of the member etcd says is the leader, as etcdctl reports it. */
function leaderIndex(endpoints: readonly string[]): number {
  const out = etcdctl(endpoints, ['endpoint', 'status', '-w', 'json'])
  const status = JSON.parse(out) as {
    Endpoint: string
    Status: { header: { member_id: number }; leader: number }
  }[]
  const at = status.findIndex((s) => s.Status.header.member_id === s.Status.leader)
  const i = endpoints.indexOf(status[at]?.Endpoint ?? '')
  if (i < 0) throw new Error(`etcdctl endpoint status: no leader among ${out}`)
  return i
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describeKernel('controllers on three hosts sharing an etcd cluster (global scope)', () => {
  const root = useHostNetns()
  let etcd: EtcdTestCluster
  let dir: string
  const hosts: Host[] = []

  async function startHost(name: string, kernel = createMemoryKernel(), storePath?: string): Promise<Host> {
    const cluster = connectCluster({ store: etcd.storeUrl, advertise: '10.99.0.254', host: name, leaseTtl: LEASE_TTL })
    const file = storePath ?? path.join(dir, `${name}.db`)
    const controller = await createController({
      storePath: file,
      sandboxBackend: createMemorySandboxes(path.join(dir, `${name}-netns`)),
      drivers: {
        gmem: ({ owner }) => createMemoryDriver({ kernel, owner, name: 'gmem', scope: 'global' }),
        lmem: ({ owner }) => createMemoryDriver({ kernel, owner, name: 'lmem' }),
      },
      cluster,
    })
    return { name, kernel, storePath: file, cluster, controller }
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'cnm-cluster-'))
    etcd = await startEtcdCluster({ root })
    for (const name of ['host1', 'host2', 'host3']) hosts.push(await startHost(name))
  }, 120_000)

  afterAll(async () => {
    for (const h of hosts) {
      await h.controller.close().catch(() => undefined)
      await h.cluster.close().catch(() => undefined)
    }
    await etcd?.remove()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const host = (i: number): Host => {
    const h = hosts[i]
    if (!h) throw new Error(`no host ${i}`)
    return h
  }

  it('registers every host under its lease', async () => {
    const members = await host(0).controller.cluster.members()
    expect(members.map((m) => m.host).sort()).toEqual(['host1', 'host2', 'host3'])
  })

  it('shows a global network created on host 1 on hosts 2 and 3, with one subnet cluster-wide', async () => {
    const c1 = host(0).controller
    const net = await c1.newNetwork(await c1.newNetworkDriver('gmem'), 'g1', {})
    for (const i of [1, 2]) {
      await until(`g1 on host ${i + 1}`, () => host(i).controller.networkByName('g1') !== undefined)
      expect(host(i).controller.networkByName('g1')?.id).toBe(net.id)
      expect(host(i).controller.networkByName('g1')?.inspect().subnet).toBe(net.inspect().subnet)
    }
    // The name is the cluster's: host 2 cannot take it, even before host 3 has seen anything.
    const c2 = host(1).controller
    await expect(c2.newNetwork(await c2.newNetworkDriver('gmem'), 'g1', {})).rejects.toMatchObject({
      code: 'ERR_NETWORK_NAME_EXISTS',
    })
  })

  it('never gives two networks one subnet, whatever the timing', async () => {
    const made = await Promise.all(
      hosts.map(async (h, i) => h.controller.newNetwork(await h.controller.newNetworkDriver('gmem'), `race${i}`, {})),
    )
    const subnets = made.map((n) => n.inspect().subnet)
    expect(new Set(subnets).size).toBe(3)
    // Asking for a taken subnet explicitly is refused.
    const c3 = host(2).controller
    await expect(
      c3.newNetwork(await c3.newNetworkDriver('gmem'), 'clash', { addressIPv4: `${made[0]?.inspect().gateway}/24` }),
    ).rejects.toMatchObject({ code: 'ERR_NETWORK_OVERLAPS', kind: 'conflict' })
    for (const [i, n] of made.entries()) {
      await until(`race${i} everywhere`, () => hosts.every((h) => h.controller.networkByName(`race${i}`)))
      await n.delete()
    }
    await until('race networks gone everywhere', () =>
      hosts.every((h) => made.every((_, i) => !h.controller.networkByName(`race${i}`))),
    )
  })

  it('refuses a global subnet overlapping a local network of its host, and a local one overlapping a global network (ERR_NETWORK_OVERLAPS)', async () => {
    const c1 = host(0).controller
    const c3 = host(2).controller
    // A global subnet asked for over a local network of this host: refused, naming it; nothing claimed.
    const local = await c1.newNetwork(await c1.newNetworkDriver('lmem'), 'loc-ov', { index: 200 * 256 + 5 })
    expect(local.inspect().subnet).toBe('10.200.5.0/24')
    const asked = await c1
      .newNetwork(await c1.newNetworkDriver('gmem'), 'glob-ov', { addressIPv4: '10.200.5.1/24' })
      .catch((e: unknown) => e)
    expect(asked).toMatchObject({ code: 'ERR_NETWORK_OVERLAPS', kind: 'conflict' })
    expect((asked as Error).message).toContain('loc-ov')
    expect(etcdKeys(etcd.endpoints, '/cnm/names/glob-ov')).toEqual([])
    // A subnet picked by the cluster skips this host's local subnets: take the next free /24 locally.
    const taken = etcdKeys(etcd.endpoints, '/cnm/subnets/').map((k) => k.slice('/cnm/subnets/'.length))
    let next = 0
    while (taken.includes(`10.128.${next}.0_24`)) next++
    const blocker = await c1.newNetwork(await c1.newNetworkDriver('lmem'), 'loc-next', { index: 128 * 256 + next })
    const picked = await c1.newNetwork(await c1.newNetworkDriver('gmem'), 'glob-picked', {})
    expect(picked.inspect().subnet).not.toBe(blocker.inspect().subnet)
    // The reverse: a local network over a global network's subnet, on another host, is refused too.
    await until('glob-picked on host 3', () => c3.networkByName('glob-picked') !== undefined)
    const [, second, third] = (picked.inspect().subnet ?? '').split('.').map(Number)
    const links = host(2).kernel.links.size
    const rev = await c3
      .newNetwork(await c3.newNetworkDriver('lmem'), 'loc-clash', { index: (second ?? 0) * 256 + (third ?? 0) })
      .catch((e: unknown) => e)
    expect(rev).toMatchObject({ code: 'ERR_NETWORK_OVERLAPS', kind: 'conflict' })
    expect((rev as Error).message).toContain('glob-picked')
    expect(c3.networkByName('loc-clash')).toBeUndefined()
    expect(host(2).kernel.links.size).toBe(links)
    // A host whose local network came first takes the global one in all the same, and reports the clash.
    const early = await c3.newNetwork(await c3.newNetworkDriver('lmem'), 'loc-early', { index: 202 * 256 + 9 })
    const late = await c1.newNetwork(await c1.newNetworkDriver('gmem'), 'glob-late', { addressIPv4: '10.202.9.1/24' })
    await until('glob-late on host 3', () => c3.networkByName('glob-late') !== undefined)
    expect(c3.cluster.errors.join('\n')).toContain('glob-late: subnet 10.202.9.0/24 overlaps local network loc-early')
    await late.delete()
    await early.delete()
    await picked.delete()
    await blocker.delete()
    await local.delete()
  })

  it('hands out 60 distinct addresses for 60 connects at once over three hosts, and frees them all', async () => {
    const nets = hosts.map((h) => h.controller.networkByName('g1'))
    const made = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const n = nets[i % 3]
        if (!n) throw new Error('g1 missing')
        return n.createEndpoint(`ep${i}`, undefined, {})
      }),
    )
    const ips = made.map((m) => m.sandboxInfo.interfaces[0]?.address)
    expect(new Set(ips).size).toBe(60)
    const id = nets[0]?.id ?? ''
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(60)
    await Promise.all(made.map((m) => m.endpoint.delete()))
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(0)
  })

  it('refuses to delete a global network while another host has endpoints on it', async () => {
    const n2 = host(1).controller.networkByName('g1')
    const ep = await n2?.createEndpoint('held', undefined, {})
    await expect(host(0).controller.networkByName('g1')?.delete()).rejects.toMatchObject({
      code: 'ERR_ACTIVE_ENDPOINTS',
    })
    await ep?.endpoint.delete()
  })

  it('rejoins after its lease is lost: registers again and claims its endpoints’ addresses again', async () => {
    const h1 = host(0)
    const n = h1.controller.networkByName('g1')
    const eps = []
    for (let i = 0; i < 3; i++) eps.push(await n?.createEndpoint(`lease${i}`, undefined, {}))
    const id = n?.id ?? ''
    const lease = await h1.cluster.kv.hostLease()
    // etcd drops the lease (as after a partition longer than its TTL): the host's keys vanish.
    const res = spawnSync(
      'etcdctl',
      [`--endpoints=${etcd.endpoints.join(',')}`, 'lease', 'revoke', BigInt(lease).toString(16)],
      {
        encoding: 'utf8',
        env: { ...process.env, ETCDCTL_API: '3' },
      },
    )
    expect(res.status, res.stderr).toBe(0)
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(0)
    expect(etcdKeys(etcd.endpoints, '/cnm/hosts/')).not.toContain('/cnm/hosts/host1')
    // The host notices at its next keepalive, gets a new lease, and its records come back.
    await until('host1 back in the cluster', () => {
      const keys = etcdKeys(etcd.endpoints, '/cnm/')
      return keys.includes('/cnm/hosts/host1') && keys.filter((k) => k.startsWith(`/cnm/ipam/${id}/`)).length === 3
    })
    expect(await h1.cluster.kv.hostLease()).not.toBe(lease)
    for (const e of eps) await e?.endpoint.delete()
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(0)
  })

  it('keeps working with one etcd member killed (the leader: the others elect another meanwhile)', async () => {
    const leader = leaderIndex(etcd.endpoints)
    await etcd.kill(leader)
    try {
      const n = host(2).controller.networkByName('g1')
      const eps = []
      for (let i = 0; i < 5; i++) eps.push(await n?.createEndpoint(`one-down${i}`, undefined, {}))
      for (const e of eps) await e?.endpoint.delete()
    } finally {
      await etcd.restart(leader)
    }
  })

  it('fails global operations fast with ERR_STORE_UNAVAILABLE when etcd is down; local networks still work', async () => {
    const c = host(0).controller
    const local = await c.newNetwork(await c.newNetworkDriver('lmem'), 'local1', {})
    await etcd.stopAll()
    try {
      const t0 = Date.now()
      const err = await c
        .networkByName('g1')
        ?.createEndpoint('down', undefined, {})
        .catch((e: unknown) => e)
      expect(hasErrorCode(err, ERR_STORE_UNAVAILABLE)).toBe(true)
      expect(errorKind(err)).toBe('unavailable')
      expect(Date.now() - t0).toBeLessThan(4000)
      const err2 = await c.newNetwork(await c.newNetworkDriver('gmem'), 'g-down', {}).catch((e: unknown) => e)
      expect(hasErrorCode(err2, ERR_STORE_UNAVAILABLE)).toBe(true)
      // Local scope: untouched by etcd's absence.
      const ep = await local.createEndpoint('works', undefined, {})
      expect(ep.sandboxInfo.interfaces[0]?.address).toMatch(/^10\./u)
      await ep.endpoint.delete()
    } finally {
      await etcd.startAll()
    }
    // Resumes once etcd is back.
    await until(
      'a global endpoint after etcd is back',
      () =>
        c
          .networkByName('g1')
          ?.createEndpoint('back', undefined, {})
          .then(
            async (m) => {
              await m.endpoint.delete()
              return true
            },
            () => false,
          ) ?? false,
    )
    await local.delete()
  })

  it('keeps addresses across a crash and restart of one host (no duplicates), and reclaims them under the new lease', async () => {
    const h3 = host(2)
    const n = h3.controller.networkByName('g1')
    const mine = []
    for (let i = 0; i < 5; i++) mine.push(await n?.createEndpoint(`kept${i}`, undefined, {}))
    const ips = mine.map((m) => m?.sandboxInfo.interfaces[0]?.address?.split('/')[0])
    // "SIGKILL": nothing is revoked; the old lease lives on until its TTL runs out.
    await h3.controller.close()
    await h3.cluster.close({ keepLease: true })
    const restarted = await startHost('host3', h3.kernel, h3.storePath)
    hosts[2] = restarted
    // Past the old lease's TTL: the claims are the new lease's, so nobody else got them.
    await new Promise((r) => setTimeout(r, (LEASE_TTL + 1.5) * 1000))
    const others = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        host(i % 2)
          .controller.networkByName('g1')
          ?.createEndpoint(`other${i}`, undefined, {}),
      ),
    )
    const otherIps = others.map((m) => m?.sandboxInfo.interfaces[0]?.address?.split('/')[0])
    expect(otherIps.filter((ip) => ips.includes(ip))).toEqual([])
    const id = n?.id ?? ''
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(25)
    expect(
      restarted.controller
        .networkByName('g1')
        ?.endpoints()
        .map((e) => e.name)
        .sort(),
    ).toEqual(['kept0', 'kept1', 'kept2', 'kept3', 'kept4'])
    for (const m of others) await m?.endpoint.delete()
    for (const e of restarted.controller.networkByName('g1')?.endpoints() ?? []) await e.delete()
  })

  it('frees a dead host’s addresses when its lease expires', async () => {
    const h2 = host(1)
    const n = h2.controller.networkByName('g1')
    for (let i = 0; i < 5; i++) await n?.createEndpoint(`doomed${i}`, undefined, {})
    const id = n?.id ?? ''
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toHaveLength(5)
    // The host dies for good: its daemon stops without a word to etcd.
    const lease = await h2.cluster.kv.hostLease()
    await h2.controller.close()
    await h2.cluster.close({ keepLease: true })
    await until(
      'the dead host’s addresses freed',
      () => etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`).length === 0,
      10_000,
    ).catch((err) => {
      const ctl = (...a: string[]) =>
        spawnSync('etcdctl', [`--endpoints=${etcd.endpoints.join(',')}`, ...a], {
          encoding: 'utf8',
          env: { ...process.env, ETCDCTL_API: '3' },
        }).stdout
      throw new Error(
        `${err.message}: lease ${lease}; ${ctl('get', '/cnm/ipam/', '--prefix', '-w', 'json')}; ${ctl('lease', 'list')}; ${ctl('lease', 'timetolive', BigInt(lease).toString(16))}`,
      )
    })
    // Freed by the lease's expiry (etcd's, not a cleanup of cnm's): the lease is gone too. Not a
    // stopwatch: under load (the whole suite on two cores) etcd's leader revokes an expired lease
    // seconds late (8.6 s once for a 2 s TTL); alone it is TTL + ~0.5 s.
    const ttl = spawnSync(
      'etcdctl',
      [`--endpoints=${etcd.endpoints.join(',')}`, 'lease', 'timetolive', BigInt(lease).toString(16)],
      { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } },
    ).stdout
    expect(ttl).toMatch(/already expired|not found|TTL\(-1s\)/u)
    await until(
      'host2 gone from the members',
      async () => !(await host(0).controller.cluster.members()).some((m) => m.host === 'host2'),
    )
    hosts.splice(1, 1)
  })
})
