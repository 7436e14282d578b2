import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createClient } from '@cnm/client'
import type { EndpointInspect, NetworkInspect, ReconcileReport } from '@cnm/controller'
import { describeKernel, ipJson, pings, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { cnm, fails, ok, okJSON, type Started, start, stop } from './test/cnm.js'
import { api } from './test/daemon.js'

/**
 * Several subnets per family on one bridge network (issue 19), as Docker users type it: `cnm network
 * create --subnet A --subnet B --gateway … n1` through the real binary (in process) and `cnm serve`'s
 * REST API; inspect and `--format '{{json .IPAM}}'` list every subnet with its gateway; `--ip` in
 * either subnet, refused outside both; a restart of the daemon keeps both pools; `cnm reconcile`
 * puts back the second gateway address and the second subnet's masquerade deleted behind its back.
 */
describeKernel('cnm network create with several subnets per family (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let socketPath: string
  const daemons: Started[] = []
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-multi-subnet-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    socketPath = path.join(tmp, 'cnm.sock')
  })
  afterEach(async () => {
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGTERM')
    const list = <T>(what: string): T[] => JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as T[]
    for (const s of list<{ id: string }>('sandbox')) cnm(g('sandbox', 'rm', s.id))
    for (const e of list<EndpointInspect>('endpoint')) cnm(g('endpoint', 'rm', e.network.id, e.id))
    for (const n of list<{ id: string }>('network')) cnm(g('network', 'rm', n.id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmSync(sandboxDir, { recursive: true, force: true })
  })

  const addresses = (dev: string): string[] =>
    (
      ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(['addr', 'show', 'dev', dev])[0]?.addr_info ?? []
    ).map((a) => `${a.local}/${a.prefixlen}`)
  const defaultGateway = (netns: string): string | undefined =>
    ipJson<{ gateway?: string }[]>(['-4', 'route', 'show', 'default'], { netns })[0]?.gateway

  it('cnm network create --subnet A --subnet B --gateway …: every gateway on the bridge, inspect/--format, --ip in either subnet', () => {
    ok(
      g(
        'network',
        'create',
        '--subnet',
        '10.151.0.0/24',
        '--subnet',
        '10.152.0.0/24',
        '--gateway',
        '10.151.0.1',
        '--gateway',
        '10.152.0.254',
        '--ipv6',
        '--subnet',
        'fd51::/64',
        '--subnet',
        'fd52::/64',
        'n1',
      ),
    )
    const net = okJSON<NetworkInspect[]>(g('network', 'inspect', 'n1'))[0] as NetworkInspect
    const bridge = net.device ?? ''
    expect(addresses(bridge)).toEqual(
      expect.arrayContaining(['10.151.0.1/24', '10.152.0.254/24', 'fd51::1/64', 'fd52::1/64']),
    )
    const config = [
      { Subnet: '10.151.0.0/24', Gateway: '10.151.0.1' },
      { Subnet: '10.152.0.0/24', Gateway: '10.152.0.254' },
      { Subnet: 'fd51::/64', Gateway: 'fd51::1' },
      { Subnet: 'fd52::/64', Gateway: 'fd52::1' },
    ]
    expect(JSON.parse(ok(g('network', 'inspect', '--format', '{{json .IPAM}}', 'n1')))).toEqual({
      Driver: 'default',
      Options: {},
      Config: config,
    })
    expect(net.subnets).toEqual(config.map((c) => ({ subnet: c.Subnet, gateway: c.Gateway })))
    // A network overlapping the second subnet is refused, naming n1.
    expect(fails(g('network', 'create', '--subnet', '10.152.0.128/25', 'n2'), 'ERR_NETWORK_OVERLAPS')).toContain(
      'network n1 (10.152.0.0/24)',
    )

    // --ip in the second subnet: that address, and that subnet's gateway as the default route.
    ok(g('sandbox', 'create', 's1'))
    ok(g('sandbox', 'create', 's2'))
    const e1 = okJSON<EndpointInspect>(g('connect', 'n1', 's1', '--ip', '10.152.0.9', '--json'))
    const e2 = okJSON<EndpointInspect>(g('connect', 'n1', 's2', '--json'))
    expect([e1.ipv4, e1.sandboxInfo.gateway, e2.ipv4, e2.sandboxInfo.gateway]).toEqual([
      '10.152.0.9',
      '10.152.0.254',
      '10.151.0.2',
      '10.151.0.1',
    ])
    const [k1, k2] = [path.join(sandboxDir, 's1'), path.join(sandboxDir, 's2')]
    expect([defaultGateway(k1), defaultGateway(k2)]).toEqual(['10.152.0.254', '10.151.0.1'])
    expect(pings('10.152.0.254', k1) || pings('10.152.0.254', k1)).toBe(true)
    expect(pings('10.151.0.2', k1) || pings('10.151.0.2', k1)).toBe(true)
    // --ip in neither subnet: refused, typed, naming the network; nothing is made.
    ok(g('sandbox', 'create', 's3'))
    expect(fails(g('connect', 'n1', 's3', '--ip', '10.153.0.5'), 'ERR_IP_OUT_OF_RANGE')).toContain(`network ${net.id}`)
    expect(okJSON<EndpointInspect[]>(g('endpoint', 'ls', '--json'))).toHaveLength(2)
  })

  it('REST: subnets in the body and the answer; a daemon restart keeps both pools; reconcile repairs the second gateway and masquerade', async () => {
    const serve = async (): Promise<void> => {
      daemons.push(await start(g('serve', '--socket', socketPath, '--log-level', 'warn'), 1))
    }
    await serve()
    const client = createClient({ host: `unix://${socketPath}` })
    const created = await client.createNetwork({
      name: 'n3',
      subnet: ['10.161.0.0/24', '10.162.0.0/24'],
      gateway: ['10.162.0.254'],
    })
    const subnets = [
      { subnet: '10.161.0.0/24', gateway: '10.161.0.1' },
      { subnet: '10.162.0.0/24', gateway: '10.162.0.254' },
    ]
    expect(created.subnets).toEqual(subnets)
    expect((await api({ socketPath }, 'GET', '/v1/networks/n3')).body).toMatchObject({
      subnet: '10.161.0.0/24',
      gateway: '10.161.0.1',
      subnets,
    })
    const bridge = created.device ?? ''
    for (const name of ['a', 'b', 'c']) await client.createSandbox({ containerID: name })
    expect((await client.connect('n3', { sandbox: 'a', ip: '10.162.0.9' })).ipv4).toBe('10.162.0.9')
    expect((await client.connect('n3', { sandbox: 'b' })).ipv4).toBe('10.161.0.2')

    // A restart: the network, its two pools and what they hold come back from the store.
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGTERM')
    await serve()
    expect((await client.inspectNetwork('n3')).subnets).toEqual(subnets)
    expect((await client.connect('n3', { sandbox: 'c' })).ipv4).toBe('10.161.0.3')
    await expect(client.createEndpoint('n3', { name: 'dup', ip: '10.162.0.9' })).rejects.toMatchObject({
      code: 'ERR_IP_ALREADY_ALLOCATED',
    })
    for (const d of daemons.splice(0)) await stop(d.child, 'SIGTERM')

    // Behind cnm's back: the second gateway address and the second subnet's masquerade go.
    const post4 = (): string[] =>
      (
        JSON.parse(run('nft', ['-j', 'list', 'map', 'inet', 'cnm', 'post4']).stdout) as {
          nftables: { map?: { elem?: { prefix?: { addr: string; len: number } }[][] } }[]
        }
      ).nftables
        .flatMap((i) => i.map?.elem ?? [])
        .map((e) => e[0]?.prefix)
        .map((p) => (p ? `${p.addr}/${p.len}` : ''))
    expect(post4()).toContain('10.162.0.0/24')
    run('ip', ['addr', 'del', '10.162.0.254/24', 'dev', bridge])
    run('nft', ['delete', 'element', 'inet', 'cnm', 'post4', '{ 10.162.0.0/24 }'])
    expect(addresses(bridge)).not.toContain('10.162.0.254/24')
    const report = okJSON<ReconcileReport>(g('reconcile', '--json'))
    expect(report).toMatchObject({ rebuiltNetworks: ['n3'], errors: [] })
    expect(addresses(bridge)).toContain('10.162.0.254/24')
    expect(post4()).toContain('10.162.0.0/24')
    const keyA = JSON.parse(ok(g('sandbox', 'inspect', 'a'))).key as string
    expect(pings('10.162.0.254', keyA) || pings('10.162.0.254', keyA)).toBe(true)
    expect(ok(g('reconcile'))).toBe('nothing to repair: the store and the kernel agree\n')
  }, 60_000)
})
