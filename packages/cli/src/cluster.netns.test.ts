// `cnm serve --cluster-store … --advertise …` on three "hosts" (namespaces on an underlay bridge,
// a 3-member etcd cluster on them, from @cnm/etcd-store/testing): one real daemon per host, driven
// through its REST API; what etcd holds is read with etcdctl.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { type CnmClient as Client, createClient } from '@cnm/client'
import { type EtcdTestCluster, startEtcdCluster } from '@cnm/etcd-store/testing'
import { MNT_DETACH, umount2 } from '@cnm/netlink'
import { boundNetnsPaths, describeKernel, pings, requireProgram, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN } from './test/cnm.js'

const TTL = 3

interface Attached {
  host: number
  sandbox: string
  key: string
  ip: string
}

/** A TCP transfer of `bytes` from a sandbox to `ip`:`port` in another (a Node server counting what arrives). */
function transfer(fromNetns: string, toNetns: string, ip: string, port: number, bytes: number): number {
  const server = `const n=require('node:net');let total=0;const s=n.createServer((c)=>{c.on('data',(d)=>{total+=d.length});c.on('end',()=>{c.end(String(total));s.close()})});s.listen(${port},'${ip}');setTimeout(()=>process.exit(2),90000).unref()`
  const client = `const n=require('node:net');const c=n.connect(${port},'${ip}',()=>{c.end(Buffer.alloc(${bytes},120))});let got='';c.on('data',(d)=>{got+=d});c.on('end',()=>{process.stdout.write(got);process.exit(0)});c.on('error',(e)=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(3),90000).unref()`
  const srv = spawn('nsenter', [`--net=${toNetns}`, '--', process.execPath, '-e', server], { stdio: 'ignore' })
  try {
    const deadline = Date.now() + 30_000
    while (run('ss', ['-Htln', `sport = :${port}`], { netns: toNetns }).stdout.trim() === '') {
      if (Date.now() > deadline) throw new Error('the transfer server did not start')
      run('sleep', ['0.05'])
    }
    return Number(run(process.execPath, ['-e', client], { netns: fromNetns, timeoutMs: 90_000 }).stdout)
  } finally {
    srv.kill()
  }
}

interface Daemon {
  child: ChildProcess
  client: Client
  logs: () => string
}

function etcdKeys(endpoints: readonly string[], prefix: string): string[] {
  const res = spawnSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, 'get', prefix, '--prefix', '--keys-only'], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 15_000,
  })
  if (res.status !== 0) throw new Error(`etcdctl get ${prefix}: ${res.stderr}`)
  return res.stdout.split('\n').filter((l) => l !== '')
}

const until = async (what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> => {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      if (await check()) return
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describeKernel('cnm serve on three hosts sharing an etcd cluster', () => {
  const root = useHostNetns()
  let etcd: EtcdTestCluster
  let tmp: string
  const daemons: (Daemon | undefined)[] = []

  const socket = (i: number): string => path.join(tmp, `h${i + 1}.sock`)

  /** Starts host i's daemon inside its namespace; resolves once it listens. */
  const serve = (i: number): Promise<Daemon> => {
    const h = etcd.hosts[i]
    if (!h) throw new Error(`no host ${i}`)
    const child = spawn(
      'nsenter',
      [
        `--net=${h.netns}`,
        '--',
        process.execPath,
        BIN,
        '--store',
        path.join(tmp, `h${i + 1}.db`),
        '--sandbox-dir',
        path.join(tmp, `h${i + 1}-sb`),
        'serve',
        '--socket',
        socket(i),
        '--no-dns',
        '--cluster-store',
        etcd.storeUrl,
        '--advertise',
        h.address,
        '--cluster-host',
        h.name,
        '--cluster-lease-ttl',
        String(TTL),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let err = ''
    child.stderr?.on('data', (d) => {
      err += d
    })
    return new Promise((resolve, reject) => {
      child.stdout?.once('data', () => {
        const d = { child, client: createClient({ host: `unix://${socket(i)}` }), logs: () => err }
        daemons[i] = d
        resolve(d)
      })
      child.once('exit', (code) => reject(new Error(`cnm serve on h${i + 1} exited ${code}: ${err}`)))
    })
  }

  const kill = async (i: number): Promise<void> => {
    const d = daemons[i]
    if (!d) return
    daemons[i] = undefined
    d.client.close()
    if (d.child.exitCode !== null) return
    const exited = new Promise((r) => d.child.once('exit', r))
    d.child.kill('SIGKILL')
    await exited
  }

  const daemon = (i: number): Daemon => {
    const d = daemons[i]
    if (!d) throw new Error(`no daemon on h${i + 1}`)
    return d
  }

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-cluster-'))
    etcd = await startEtcdCluster({ root })
    for (let i = 0; i < 3; i++) await serve(i)
  }, 180_000)

  afterAll(async () => {
    for (let i = 0; i < 3; i++) {
      const d = daemons[i]
      if (!d) continue
      // What a failed test left: sandboxes (with their endpoints), then the networks.
      for (const s of await d.client.listSandboxes().catch(() => []))
        await d.client.removeSandbox(s.id).catch(() => undefined)
    }
    for (const n of (await daemons[0]?.client.listNetworks().catch(() => [])) ?? []) {
      await daemons[0]?.client.removeNetwork(n.id).catch(() => undefined)
    }
    for (let i = 0; i < 3; i++) await kill(i)
    for (const p of boundNetnsPaths().filter((m) => m.startsWith(`${tmp}/`))) umount2(p, MNT_DETACH)
    await etcd?.remove()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  it('registers each daemon as a member of the cluster', () => {
    expect(etcdKeys(etcd.endpoints, '/cnm/hosts/').sort()).toEqual(['/cnm/hosts/h1', '/cnm/hosts/h2', '/cnm/hosts/h3'])
  })

  it('shows an overlay network created on host 1 on hosts 2 and 3 (ls and inspect)', async () => {
    const made = await daemon(0).client.createNetwork({ name: 'ov1', driver: 'overlay', subnet: '10.77.0.0/24' })
    expect(made.subnet).toBe('10.77.0.0/24')
    for (const i of [1, 2]) {
      await until(`ov1 on h${i + 1}`, async () => (await daemon(i).client.listNetworks()).some((n) => n.name === 'ov1'))
      expect(await daemon(i).client.inspectNetwork('ov1')).toMatchObject({ id: made.id, subnet: '10.77.0.0/24' })
    }
    // Its name and subnet are the cluster's.
    await expect(
      daemon(2).client.createNetwork({ name: 'ov1', driver: 'overlay', subnet: '10.78.0.0/24' }),
    ).rejects.toMatchObject({ code: 'ERR_NETWORK_NAME_EXISTS' })
  })

  /** A sandbox on host i connected to `network` (optionally asking for `ip`). */
  const attach = async (i: number, network: string, tag: string, ip?: string): Promise<Attached> => {
    const c = daemon(i).client
    const sb = await c.createSandbox({ containerID: tag })
    try {
      const ep = await c.connect(network, { sandbox: sb.id, ...(ip ? { ip } : {}) })
      return { host: i, sandbox: sb.id, key: sb.key, ip: ep.ipv4 ?? '' }
    } catch (err) {
      await c.removeSandbox(sb.id).catch(() => undefined)
      throw err
    }
  }
  const detach = async (a: Attached): Promise<void> => {
    await daemons[a.host]?.client.removeSandbox(a.sandbox)
  }
  /** The network on every host (a global network reaches the others through their watch). */
  const everywhere = async (name: string): Promise<void> => {
    for (const i of [1, 2])
      await until(`${name} on h${i + 1}`, async () =>
        (await daemon(i).client.listNetworks()).some((n) => n.name === name),
      )
  }

  it('carries ping and a 10 MB TCP transfer between containers on different hosts; another overlay network cannot reach them', async () => {
    requireProgram('ping')
    const c = daemon(0).client
    const ov = await c.createNetwork({ name: 'ov-e2e', driver: 'overlay', subnet: '10.81.0.0/24' })
    const other = await c.createNetwork({ name: 'ov-e2e-b', driver: 'overlay', subnet: '10.82.0.0/24' })
    const made: Attached[] = []
    try {
      await everywhere('ov-e2e')
      await everywhere('ov-e2e-b')
      const a1 = await attach(0, 'ov-e2e', 'e2e-a1')
      made.push(a1)
      const a1b = await attach(0, 'ov-e2e', 'e2e-a1b')
      made.push(a1b)
      const a2 = await attach(1, 'ov-e2e', 'e2e-a2')
      made.push(a2)
      const a3 = await attach(2, 'ov-e2e', 'e2e-a3')
      made.push(a3)
      const b2 = await attach(1, 'ov-e2e-b', 'e2e-b2')
      made.push(b2)
      expect(new Set([a1.ip, a1b.ip, a2.ip, a3.ip]).size).toBe(4)
      // Across hosts (each host programs the others' endpoints from its watch: poll until it has).
      await until('h1 → h2', () => pings(a2.ip, a1.key))
      await until('h2 → h3', () => pings(a3.ip, a2.key))
      await until('h3 → h1', () => pings(a1.ip, a3.key))
      // On one host, through the network's bridge.
      expect(pings(a1b.ip, a1.key)).toBe(true)
      // Full-size TCP over VXLAN (the overlay MTU): 10 MB from host 3 to host 1.
      expect(transfer(a3.key, a1.key, a1.ip, 5601, 10 * 1024 * 1024)).toBe(10 * 1024 * 1024)
      // Isolation: a container on another overlay network reaches its own gateway (control), not
      // this network's containers, on its host or another; and none of them reaches it.
      expect(pings(other.gateway ?? '10.82.0.1', b2.key)).toBe(true)
      expect(pings(a2.ip, b2.key)).toBe(false)
      expect(pings(a1.ip, b2.key)).toBe(false)
      expect(pings(b2.ip, a2.key)).toBe(false)
      expect(pings(b2.ip, a1.key)).toBe(false)
    } finally {
      for (const a of made.reverse()) await detach(a).catch(() => undefined)
      await c.removeNetwork('ov-e2e-b').catch(() => undefined)
      await c.removeNetwork('ov-e2e').catch(() => undefined)
    }
    // Nothing of either network stays in etcd.
    for (const id of [ov.id, other.id]) {
      expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${id}/`)).toEqual([])
      expect(etcdKeys(etcd.endpoints, `/cnm/overlay/endpoints/${id}/`)).toEqual([])
      expect(etcdKeys(etcd.endpoints, `/cnm/networks/${id}`)).toEqual([])
    }
  }, 180_000)

  it('runs a dual-stack overlay network across hosts: ping6 between containers, every address claimed once in etcd', async () => {
    const c = daemon(0).client
    const net = await c.createNetwork({
      name: 'ov-v6',
      driver: 'overlay',
      subnet: ['10.84.0.0/24', 'fd00:84::/64'],
      ipv6: true,
    })
    expect(net).toMatchObject({ subnet: '10.84.0.0/24', subnetIPv6: 'fd00:84::/64', gatewayIPv6: 'fd00:84::1' })
    const made: (Attached & { ip6: string })[] = []
    try {
      await everywhere('ov-v6')
      expect(await daemon(2).client.inspectNetwork('ov-v6')).toMatchObject({ subnetIPv6: 'fd00:84::/64' })
      for (const i of [0, 1, 2]) {
        const a = await attach(i, 'ov-v6', `v6-h${i + 1}`)
        const ep = (await daemon(i).client.listNetworkEndpoints('ov-v6')).find((e) => e.ipv4 === a.ip)
        made.push({ ...a, ip6: ep?.ipv6 ?? '' })
      }
      expect(made.map((m) => m.ip6)).toEqual(made.map(() => expect.stringMatching(/^fd00:84::/u)))
      await until('ping6 h1 → h2', () => pings(made[1]?.ip6 ?? '', made[0]?.key))
      await until('ping6 h3 → h1', () => pings(made[0]?.ip6 ?? '', made[2]?.key))
      expect(pings(made[2]?.ip6 ?? '', made[1]?.key)).toBe(true)
      // Both addresses of every endpoint are claims in etcd, one key each.
      const claims = etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`).map((k) => k.slice(`/cnm/ipam/${net.id}/`.length))
      expect(claims.sort()).toEqual(made.flatMap((m) => [m.ip, m.ip6]).sort())
      // The IPv6 subnet is the cluster's too: another network cannot take it.
      await expect(
        daemon(1).client.createNetwork({
          name: 'ov-v6b',
          driver: 'overlay',
          subnet: ['10.85.0.0/24', 'fd00:84::/80'],
          ipv6: true,
        }),
      ).rejects.toMatchObject({ code: 'ERR_NETWORK_OVERLAPS' })
    } finally {
      for (const a of made) await detach(a).catch(() => undefined)
      await c.removeNetwork('ov-v6').catch(() => undefined)
    }
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toEqual([])
    expect(etcdKeys(etcd.endpoints, '/cnm/subnets/').filter((k) => k.includes('fd00'))).toEqual([])
  }, 120_000)

  it('runs an IPv6-only overlay network across hosts (enableIPv4 false): ping6, no IPv4 address', async () => {
    const c = daemon(0).client
    const net = await c.createNetwork({
      name: 'ov-v6only',
      driver: 'overlay',
      subnet: 'fd00:86::/64',
      ipv6: true,
      options: { enableIPv4: false },
    })
    expect(net.subnet).toBeUndefined()
    expect(net.subnetIPv6).toBe('fd00:86::/64')
    const made: (Attached & { ip6: string })[] = []
    try {
      await everywhere('ov-v6only')
      for (const i of [0, 1]) {
        const a = await attach(i, 'ov-v6only', `v6only-h${i + 1}`)
        const ep = (await daemon(i).client.listNetworkEndpoints('ov-v6only')).find(
          (e) => e.joined?.sandboxId === a.sandbox,
        )
        expect(a.ip).toBe('')
        made.push({ ...a, ip6: ep?.ipv6 ?? '' })
      }
      await until('ping6 h1 → h2 (IPv6-only)', () => pings(made[1]?.ip6 ?? '', made[0]?.key))
      expect(pings(made[0]?.ip6 ?? '', made[1]?.key)).toBe(true)
      expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toHaveLength(2)
    } finally {
      for (const a of made) await detach(a).catch(() => undefined)
      await c.removeNetwork('ov-v6only').catch(() => undefined)
    }
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toEqual([])
    expect(etcdKeys(etcd.endpoints, `/cnm/networks/${net.id}`)).toEqual([])
  }, 120_000)

  it('gives an address two daemons ask for at once to exactly one; the other gets ERR_ADDRESS_IN_USE and no key leaks', async () => {
    const c = daemon(0).client
    const net = await c.createNetwork({ name: 'ov-race', driver: 'overlay', subnet: '10.83.0.0/24' })
    const won: Attached[] = []
    try {
      await everywhere('ov-race')
      for (let round = 0; round < 4; round++) {
        const ip = `10.83.0.${10 + round}`
        const tries = await Promise.allSettled([
          attach(round % 3, 'ov-race', `race-${round}-a`, ip),
          attach((round + 1) % 3, 'ov-race', `race-${round}-b`, ip),
        ])
        const ok = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []))
        const failed = tries.flatMap((t) =>
          t.status === 'rejected' ? [t.reason as { code?: string; status?: number }] : [],
        )
        won.push(...ok)
        expect(ok).toHaveLength(1)
        expect(ok[0]?.ip).toBe(ip)
        expect(failed).toMatchObject([{ code: 'ERR_ADDRESS_IN_USE', status: 409 }])
        // One claim and one endpoint record per winner, one owner each; the loser left nothing.
        expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toHaveLength(round + 1)
        expect(etcdKeys(etcd.endpoints, `/cnm/overlay/endpoints/${net.id}/`)).toHaveLength(round + 1)
        // The losing sandbox is gone with its (never made) endpoint.
        const sandboxes = (await Promise.all([0, 1, 2].map((i) => daemon(i).client.listSandboxes()))).flat()
        expect(sandboxes.filter((sb) => sb.containerID?.startsWith(`race-${round}-`))).toHaveLength(1)
      }
    } finally {
      for (const a of won) await detach(a).catch(() => undefined)
    }
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toEqual([])
    expect(etcdKeys(etcd.endpoints, `/cnm/overlay/endpoints/${net.id}/`)).toEqual([])
    await c.removeNetwork('ov-race')
    expect(etcdKeys(etcd.endpoints, `/cnm/networks/${net.id}`)).toEqual([])
    expect(etcdKeys(etcd.endpoints, `/cnm/overlay/networks/${net.id}`)).toEqual([])
  }, 120_000)

  it('hands out distinct addresses to connects on every host at once; SIGKILL and restart of a daemon keeps them', async () => {
    const net = await daemon(0).client.inspectNetwork('ov1')
    const connectAll = (tag: string, hosts: number[]) =>
      Promise.all(
        hosts.flatMap((i) =>
          [0, 1].map(async (j) => {
            const c = daemon(i).client
            const sb = await c.createSandbox({ containerID: `${tag}-h${i + 1}-${j}` })
            const ep = await c.connect('ov1', { sandbox: sb.id })
            return ep.ipv4 ?? JSON.stringify(ep)
          }),
        ),
      )
    const first = await connectAll('a', [0, 1, 2])
    expect(new Set(first).size).toBe(6)
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toHaveLength(6)
    // Host 2's daemon dies and comes back: its endpoints stay, their claims too (past the old lease).
    await kill(1)
    await serve(1)
    await new Promise((r) => setTimeout(r, (TTL + 1.5) * 1000))
    expect(etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`)).toHaveLength(6)
    const more = await connectAll('b', [0, 2])
    expect(new Set([...first, ...more]).size).toBe(10)
  })

  it('fails global operations fast with ERR_STORE_UNAVAILABLE while etcd is down; a bridge network still works; then resumes', async () => {
    const c = daemon(0).client
    const net = await c.inspectNetwork('ov1')
    const claims = etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`).length
    await etcd.stopAll()
    try {
      const sb = await c.createSandbox({ containerID: 'down-ov' })
      const t0 = Date.now()
      await expect(c.connect('ov1', { sandbox: sb.id })).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
        kind: 'unavailable',
      })
      expect(Date.now() - t0).toBeLessThan(5000)
      await expect(
        c.createNetwork({ name: 'ov-down', driver: 'overlay', subnet: '10.79.0.0/24' }),
      ).rejects.toMatchObject({
        code: 'ERR_STORE_UNAVAILABLE',
      })
      // Local scope: a bridge network, an endpoint in a sandbox, as if etcd did not exist.
      await c.createNetwork({ name: 'br-local', subnet: '10.88.0.0/24' })
      const ep = await c.connect('br-local', { sandbox: sb.id })
      expect(ep.ipv4).toMatch(/^10\.88\.0\./u)
      await c.removeSandbox(sb.id)
      await c.removeNetwork('br-local')
    } finally {
      await etcd.startAll()
    }
    // Back: global operations work again, and every host's claims are there (re-bound if a lease was lost).
    await until('an overlay connect after etcd is back', async () => {
      const sb = await c.createSandbox({ containerID: `back-${Date.now()}` })
      try {
        await c.connect('ov1', { sandbox: sb.id })
        return true
      } finally {
        await c.removeSandbox(sb.id)
      }
    })
    await until('every claim back', () => etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`).length === claims)
  })

  it('frees a host’s addresses within the lease TTL + 1 s when it dies for good', async () => {
    const net = await daemon(0).client.inspectNetwork('ov1')
    const before = etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`).length
    await kill(2)
    const t0 = Date.now()
    await until(
      'h3’s claims gone',
      () => etcdKeys(etcd.endpoints, `/cnm/ipam/${net.id}/`).length === before - 4,
      15_000,
    )
    expect(Date.now() - t0).toBeLessThan((TTL + 1) * 1000 + 500)
    expect(etcdKeys(etcd.endpoints, '/cnm/hosts/').sort()).toEqual(['/cnm/hosts/h1', '/cnm/hosts/h2'])
  })
})
