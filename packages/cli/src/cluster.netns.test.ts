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
import { boundNetnsPaths, describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN } from './test/cnm.js'

const TTL = 3

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
