import { spawnSync } from 'node:child_process'
import { ERR_STORE_UNAVAILABLE, errorKind, hasErrorCode, type KVEvent } from '@cnm/driverapi'
import { describeKernel, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { connectCluster } from './connect-cluster.js'
import { createEtcdKV, type EtcdKV } from './etcd-kv.js'
import { type EtcdTestCluster, startEtcdCluster } from './testing/index.js'

/** What etcd itself holds, read with etcdctl (not our client) from the root test namespace. */
function etcdctlGet(endpoints: readonly string[], key: string): string | undefined {
  const res = spawnSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, 'get', key, '--print-value-only'], {
    encoding: 'utf8',
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 10_000,
  })
  if (res.status !== 0) throw new Error(`etcdctl get ${key}: ${res.stderr}`)
  const out = res.stdout.replace(/\n$/u, '')
  return out === '' ? undefined : out
}

const until = async (check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

describeKernel('etcd-store against a 3-member etcd cluster', () => {
  const root = useHostNetns()
  let cluster: EtcdTestCluster
  let a: EtcdKV
  let b: EtcdKV

  beforeAll(async () => {
    cluster = await startEtcdCluster({ root })
    a = createEtcdKV({ endpoints: cluster.endpoints, leaseTtl: 2 })
    b = createEtcdKV({ endpoints: cluster.endpoints, leaseTtl: 2 })
  }, 120_000)

  afterAll(async () => {
    await a?.close()
    await b?.close()
    await cluster?.remove()
  })

  it('refuses bad store URLs and addresses before connecting', () => {
    expect(() => connectCluster({ store: 'http://x', advertise: '10.0.0.1' })).toThrow(/etcd:\/\//u)
    expect(() => connectCluster({ store: 'etcd://a b:1', advertise: '10.0.0.1' })).toThrow(/bad member/u)
    expect(() => connectCluster({ store: 'etcd://h:70000', advertise: '10.0.0.1' })).toThrow(/bad member/u)
    expect(() => connectCluster({ store: 'etcd://h', advertise: 'h; rm' })).toThrow(/advertise/u)
    expect(() => connectCluster({ store: 'etcd://h', advertise: '10.0.0.1', host: '../x' })).toThrow(/host name/u)
  })

  it('puts only when absent, and compare-and-swap has exactly one winner', async () => {
    expect(await a.putIfAbsent('/t/k1', 'a')).toBe(true)
    expect(await b.putIfAbsent('/t/k1', 'b')).toBe(false)
    expect(etcdctlGet(cluster.endpoints, '/t/k1')).toBe('a')
    const got = await b.get('/t/k1')
    expect(got?.value).toBe('a')
    // 20 racers on one key: one wins.
    const wins = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).txn([{ key: '/t/race', absent: true }], [{ put: '/t/race', value: String(i) }]),
      ),
    )
    expect(wins.filter(Boolean)).toHaveLength(1)
    const cur = await a.get('/t/race')
    expect(await b.deleteIf('/t/race', '1')).toBe(false)
    expect(await b.deleteIf('/t/race', cur?.modRevision ?? '')).toBe(true)
    expect(etcdctlGet(cluster.endpoints, '/t/race')).toBeUndefined()
  })

  it('compares a key present and a prefix empty', async () => {
    expect(await a.txn([{ key: '/t/c/x', present: true }], [{ put: '/t/c/y', value: '1' }])).toBe(false)
    expect(await a.txn([{ prefix: '/t/c/', empty: true }], [{ put: '/t/c/x', value: '1' }])).toBe(true)
    expect(await a.txn([{ prefix: '/t/c/', empty: true }], [{ put: '/t/c/z', value: '1' }])).toBe(false)
    expect(await a.txn([{ key: '/t/c/x', present: true }], [{ deletePrefix: '/t/c/' }])).toBe(true)
    expect((await b.range('/t/c/')).entries).toEqual([])
  })

  it('compares a key’s value: a release deletes only the claim it made', async () => {
    const claim = JSON.stringify({ host: 'h1', endpoint: 'e1' })
    expect(await a.putIfAbsent('/t/v/10.0.0.2', claim)).toBe(true)
    // Another endpoint's release (a different value) changes nothing; a missing key compares false.
    const other = JSON.stringify({ host: 'h2', endpoint: 'e2' })
    expect(await b.txn([{ key: '/t/v/10.0.0.2', value: other }], [{ delete: '/t/v/10.0.0.2' }])).toBe(false)
    expect(await b.txn([{ key: '/t/v/none', value: claim }], [{ put: '/t/v/none', value: 'x' }])).toBe(false)
    expect(etcdctlGet(cluster.endpoints, '/t/v/10.0.0.2')).toBe(claim)
    expect(await b.txn([{ key: '/t/v/10.0.0.2', value: claim }], [{ delete: '/t/v/10.0.0.2' }])).toBe(true)
    expect(etcdctlGet(cluster.endpoints, '/t/v/10.0.0.2')).toBeUndefined()
    expect(etcdctlGet(cluster.endpoints, '/t/v/none')).toBeUndefined()
  })

  it('reads a prefix and watches from its revision without a gap', async () => {
    await a.txn(
      [],
      [
        { put: '/t/p/1', value: 'x' },
        { put: '/t/p/2', value: 'y' },
      ],
    )
    const r = await b.range('/t/p/')
    expect(r.entries.map((e) => e.key)).toEqual(['/t/p/1', '/t/p/2'])
    await a.txn([], [{ put: '/t/p/3', value: 'z' }])
    const seen: KVEvent[] = []
    const stop = await b.watch('/t/p/', (e) => seen.push(e), { fromRevision: String(BigInt(r.revision) + 1n) })
    await a.delete('/t/p/1')
    await until(() => seen.length >= 2)
    expect(seen.map((e) => `${e.type} ${e.key}`)).toEqual(['put /t/p/3', 'delete /t/p/1'])
    await stop()
  })

  it('binds keys to the host lease: they vanish when the host goes', async () => {
    const c = createEtcdKV({ endpoints: cluster.endpoints, leaseTtl: 2 })
    expect(await c.putIfAbsent('/t/lease/me', 'alive', { lease: 'host' })).toBe(true)
    expect((await a.get('/t/lease/me'))?.lease).toBe(await c.hostLease())
    // Kept alive well past the TTL.
    await new Promise((r) => setTimeout(r, 3000))
    expect(etcdctlGet(cluster.endpoints, '/t/lease/me')).toBe('alive')
    // A crash (no revoke): gone within TTL + 1 s.
    await c.close({ keepLease: true })
    const t0 = Date.now()
    await until(async () => (await a.get('/t/lease/me')) === undefined, 10_000)
    expect(Date.now() - t0).toBeLessThan(3000 + 500)
  })

  it('keeps working with one member killed', async () => {
    await cluster.kill(0)
    try {
      for (let i = 0; i < 10; i++) expect(await a.putIfAbsent(`/t/one-down/${i}`, 'v')).toBe(true)
      expect((await b.range('/t/one-down/')).entries).toHaveLength(10)
    } finally {
      await cluster.restart(0)
    }
  })

  it('fails fast with ERR_STORE_UNAVAILABLE when every member is down, and resumes after', async () => {
    await cluster.stopAll()
    try {
      const t0 = Date.now()
      const err = await a.putIfAbsent('/t/down', 'v').catch((e: unknown) => e)
      expect(hasErrorCode(err, ERR_STORE_UNAVAILABLE)).toBe(true)
      expect(errorKind(err)).toBe('unavailable')
      expect(Date.now() - t0).toBeLessThan(3500)
      const err2 = await b.range('/t/').catch((e: unknown) => e)
      expect(hasErrorCode(err2, ERR_STORE_UNAVAILABLE)).toBe(true)
    } finally {
      await cluster.startAll()
    }
    await until(
      async () =>
        a.putIfAbsent('/t/up', 'v').then(
          () => true,
          () => false,
        ),
      20_000,
    )
    expect(etcdctlGet(cluster.endpoints, '/t/up')).toBe('v')
  })
})
