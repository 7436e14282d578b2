import { readdirSync } from 'node:fs'
import path from 'node:path'
import { createController } from '@cnm/controller'
import { createNetns, deleteNetns } from '@cnm/netlink'
import {
  describeKernel,
  ipJson,
  pings,
  request,
  run,
  startServer,
  type TestServer,
  uniqueName,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  type Call,
  type CniTestState,
  createCniTestState,
  type NamespaceHolder,
  runPlugin,
  startNamespaceHolder,
} from './testing/index.js'

interface Iface {
  ifname: string
  address?: string
  addr_info?: { local: string; prefixlen: number; family: string }[]
}

describeKernel('the cnm CNI executable, driven as a runtime drives it (in process: no daemon)', () => {
  const host = useHostNetns()
  let state: CniTestState
  let base: Record<string, string>
  const namespaces: string[] = []
  const servers: TestServer[] = []
  const holders: NamespaceHolder[] = []

  const netns = async (): Promise<string> => {
    const p = host.netnsPath('c')
    await createNetns(p)
    namespaces.push(p)
    return p
  }
  const plugin = (command: string, conf: unknown, call: Call = {}) => runPlugin(command, conf, call, base)
  const confOf = (version: string, extra: Record<string, unknown> = {}) => ({
    cniVersion: version,
    name: 'cnmtest',
    type: 'cnm',
    network: 'cnmtest',
    subnet: '10.213.0.0/24',
    ...extra,
  })
  const binds = () => readdirSync(state.cniDir).filter((f) => !f.startsWith('.'))
  const sandboxRecords = async (): Promise<string[]> => {
    const c = await createController({ storePath: state.store, sandboxDir: state.sandboxDir })
    try {
      return c.sandboxes().map((sb) => sb.key)
    } finally {
      await c.close()
    }
  }
  const links = () => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
  const ruleset = () => run('nft', ['list', 'ruleset']).stdout

  beforeAll(() => {
    state = createCniTestState('cnm-cni-')
    base = state.env
  })
  afterEach(() => {
    for (const s of servers.splice(0)) s.stop()
    for (const h of holders.splice(0)) h.stop()
    for (const p of namespaces.splice(0)) deleteNetns(p)
  })
  afterAll(() => state.cleanup())

  for (const version of ['0.4.0', '1.0.0', '1.1.0']) {
    describe(`cniVersion ${version}`, () => {
      it('VERSION lists 0.4.0, 1.0.0 and 1.1.0', () => {
        const r = plugin('VERSION', { cniVersion: version })
        expect(r.status).toBe(0)
        expect(r.json).toEqual({ cniVersion: version, supportedVersions: ['0.3.1', '0.4.0', '1.0.0', '1.1.0'] })
      })

      it('ADD attaches (result, kernel, traffic, published port), CHECK verifies, DEL removes everything and is idempotent', async () => {
        const ns = await netns()
        const call: Call = {
          containerId: uniqueName('ctr'),
          netns: ns,
          ifname: 'eth0',
          args: 'IgnoreUnknown=1;K8S_POD_NAME=web',
        }
        const conf = confOf(version, {
          dns: { nameservers: ['10.213.0.1'] },
          runtimeConfig: { portMappings: [{ hostPort: 18080, containerPort: 80, protocol: 'tcp' }] },
        })
        const add = plugin('ADD', conf, call)
        expect(add.status, add.stdout + add.stderr).toBe(0)
        const result = add.json as {
          cniVersion: string
          interfaces: { name: string; mac?: string; sandbox?: string }[]
          ips: { address: string; gateway?: string; interface?: number; version?: string }[]
          routes: { dst: string; gw?: string }[]
          dns: unknown
        }
        expect(result.cniVersion).toBe(version)
        expect(result.interfaces).toHaveLength(3)
        const inside = result.interfaces[2]
        expect(inside).toEqual({
          name: 'eth0',
          mac: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/u),
          sandbox: ns,
        })
        expect(result.interfaces[0]?.sandbox).toBeUndefined()
        expect(result.ips).toEqual([
          {
            ...(version === '0.4.0' ? { version: '4' } : {}),
            address: expect.stringMatching(/^10\.213\.0\.\d+\/24$/u),
            gateway: '10.213.0.1',
            interface: 2,
          },
        ])
        expect(result.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.213.0.1' }])
        expect(result.dns).toEqual({ nameservers: ['10.213.0.1'] })
        const address = (result.ips[0]?.address ?? '').split('/')[0] as string

        // What the kernel holds, seen by tools that are not cnm's.
        const eth0 = ipJson<Iface[]>(['addr', 'show', 'eth0'], { netns: ns })[0]
        expect(eth0?.address).toBe(inside?.mac)
        expect(eth0?.addr_info?.some((a) => a.local === address && a.prefixlen === 24)).toBe(true)
        const routes = ipJson<{ dst: string; gateway?: string }[]>(['route', 'show'], { netns: ns })
        expect(routes).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.213.0.1' }))
        expect(links()).toEqual(expect.arrayContaining([result.interfaces[0]?.name, result.interfaces[1]?.name]))
        expect(pings('10.213.0.1', ns)).toBe(true)
        servers.push(await startServer(80, 'web', ns))
        expect(request('tcp', '10.213.0.1', 18080)).toBe('web 10.213.0.1')
        expect(ruleset()).toContain('18080')

        // CHECK with the cached result passes; with the address gone from the kernel it fails.
        const cached = { ...conf, prevResult: result }
        const check = plugin('CHECK', cached, call)
        expect(check.status, check.stdout).toBe(0)
        expect(check.stdout).toBe('')
        run('ip', ['addr', 'del', `${address}/24`, 'dev', 'eth0'], { netns: ns })
        const broken = plugin('CHECK', cached, call)
        expect(broken.status).toBe(1)
        expect(broken.json).toEqual({
          cniVersion: version,
          code: 103,
          msg: expect.stringContaining(`lacks address ${address}/24`),
          details: 'ERR_CNI_CHECK (not-found)',
        })

        const del = plugin('DEL', cached, call)
        expect(del.status, del.stdout).toBe(0)
        expect(del.stdout).toBe('')
        expect(ipJson<Iface[]>(['link', 'show'], { netns: ns }).map((l) => l.ifname)).toEqual(['lo'])
        expect(links()).not.toContain(result.interfaces[1]?.name)
        expect(ruleset()).not.toContain('18080')
        expect(binds()).toEqual([])
        expect(await sandboxRecords()).toEqual([]) // at once, not at the next reconcile
        // Again, and once the namespace is gone: still success.
        expect(plugin('DEL', cached, call).status).toBe(0)
        deleteNetns(ns)
        namespaces.splice(namespaces.indexOf(ns), 1)
        expect(plugin('DEL', cached, call).status).toBe(0)
        expect(plugin('DEL', cached, { ...call, netns: undefined }).status).toBe(0)
      })
    })
  }

  it('errors are the spec JSON with its codes, cnm’s code in details, and change nothing', async () => {
    const ns = await netns()
    const call: Call = { containerId: 'err1', netns: ns, ifname: 'eth0' }
    const conf = confOf('1.0.0')
    const expectError = (r: ReturnType<typeof plugin>, code: number, cnm: string): void => {
      expect(r.status, r.stdout + r.stderr).toBe(1)
      expect(r.json).toEqual({
        cniVersion: expect.any(String),
        code,
        msg: expect.any(String),
        details: expect.stringContaining(cnm),
      })
    }
    expectError(plugin('ADD', conf, { ...call, env: { CNI_COMMAND: undefined } }), 4, 'ERR_CNI_ENV')
    expectError(plugin('FROB', conf, call), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', conf, { ...call, containerId: 'a/b' }), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', conf, { ...call, ifname: 'x'.repeat(16) }), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', conf, { ...call, netns: 'relative/ns' }), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', conf, { ...call, netns: undefined }), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', conf, { ...call, args: 'FOO=bar' }), 4, 'ERR_CNI_ENV')
    expectError(plugin('ADD', '{"cniVersion":', call), 6, 'ERR_CNI_DECODE')
    expectError(plugin('ADD', { ...conf, cniVersion: '0.2.0' }, call), 1, 'ERR_CNI_VERSION')
    expectError(plugin('ADD', { ...conf, network: 'bad/name' }, call), 7, 'ERR_CNI_CONFIG')
    const badPort = { ...conf, runtimeConfig: { portMappings: [{ hostPort: 70000, containerPort: 80 }] } }
    expectError(plugin('ADD', badPort, call), 7, 'ERR_CNI_CONFIG')
    expectError(plugin('ADD', conf, { ...call, netns: path.join(host.dir, 'missing') }), 3, 'ERR_CNI_NETNS')
    expectError(plugin('ADD', conf, { ...call, netns: '/proc/self/ns/net' }), 4, 'ERR_CNI_NETNS')
    // The namespace is checked before anything is made: a first ADD with a bad one creates no network.
    const fresh = { ...conf, name: 'cnmnsfirst', network: 'cnmnsfirst', subnet: '10.214.0.0/24' }
    expectError(plugin('ADD', fresh, { ...call, netns: path.join(host.dir, 'missing') }), 3, 'ERR_CNI_NETNS')
    expectError(plugin('ADD', fresh, { ...call, netns: '/proc/self/ns/net' }), 4, 'ERR_CNI_NETNS')
    const probe = await createController({ storePath: state.store, sandboxDir: state.sandboxDir })
    try {
      expect(probe.networks().map((n) => n.name)).not.toContain('cnmnsfirst')
    } finally {
      await probe.close()
    }
    expectError(plugin('GC', conf, {}), 7, 'ERR_CNI_CONFIG')
    // A port a host process listens on is refused (not taken over), and the failed ADD leaves nothing.
    servers.push(await startServer(18081, 'host'))
    const taken = { ...conf, runtimeConfig: { portMappings: [{ hostPort: 18081, containerPort: 80 }] } }
    const refused = plugin('ADD', taken, call)
    expectError(refused, 100, '(conflict)')
    expect(refused.json?.msg).toContain('18081')
    expect(ipJson<Iface[]>(['link', 'show'], { netns: ns }).map((l) => l.ifname)).toEqual(['lo'])
    expect(links().filter((l) => l.startsWith('veth'))).toEqual([])
    expect(binds()).toEqual([])
    // The network exists now (the refused ADD made it): a CHECK of an attachment never added fails.
    expectError(plugin('CHECK', conf, call), 3, 'ERR_CNI_CHECK')
    // A second ADD of one attachment is refused; the first stays.
    expect(plugin('ADD', conf, call).status).toBe(0)
    expectError(plugin('ADD', conf, call), 100, 'ERR_CNI_ATTACHMENT_EXISTS')
    expect(ipJson<Iface[]>(['link', 'show', 'eth0'], { netns: ns })).toHaveLength(1)
    expect(plugin('DEL', conf, call).status).toBe(0)
  })

  it('CNI_IFNAME exactly: two networks in one namespace as eth0 and net1; a name the namespace has is a conflict that changes nothing; DEL leaves no record', async () => {
    const ns = await netns()
    const netA = confOf('1.0.0', { name: 'cnmifa', network: 'cnmifa', subnet: '10.213.10.0/24' })
    const netB = confOf('1.0.0', { name: 'cnmifb', network: 'cnmifb', subnet: '10.213.11.0/24' })
    const netC = confOf('1.0.0', { name: 'cnmifc', network: 'cnmifc', subnet: '10.213.12.0/24' })
    const first: Call = { containerId: 'multus1', netns: ns, ifname: 'eth0' }
    const second: Call = { containerId: 'multus1', netns: ns, ifname: 'net1' }
    const a = plugin('ADD', netA, first)
    expect(a.status, a.stdout).toBe(0)
    const b = plugin('ADD', netB, second)
    expect(b.status, b.stdout).toBe(0)
    expect((b.json as { interfaces: { name: string; sandbox?: string }[] }).interfaces[2]).toMatchObject({
      name: 'net1',
      sandbox: ns,
    })
    const inside = () =>
      ipJson<Iface[]>(['addr', 'show'], { netns: ns }).map((l) => ({
        ifname: l.ifname,
        v4: l.addr_info?.filter((x) => x.family === 'inet').map((x) => `${x.local}/${x.prefixlen}`),
      }))
    expect(inside()).toEqual([
      { ifname: 'lo', v4: ['127.0.0.1/8'] },
      { ifname: 'eth0', v4: [expect.stringMatching(/^10\.213\.10\.\d+\/24$/u)] },
      { ifname: 'net1', v4: [expect.stringMatching(/^10\.213\.11\.\d+\/24$/u)] },
    ])
    // The default route is the first network's (its gateway), as a runtime's first interface.
    const routes = ipJson<{ dst: string; gateway?: string; dev: string }[]>(['route', 'show', 'default'], { netns: ns })
    expect(routes).toEqual([expect.objectContaining({ gateway: '10.213.10.1', dev: 'eth0' })])
    expect(pings('10.213.11.1', ns)).toBe(true)

    // net1 again, for another container id on a third network: refused before anything changes.
    const vethsBefore = links().filter((l) => l.startsWith('veth'))
    const clash = plugin('ADD', netC, { containerId: 'multus2', netns: ns, ifname: 'net1' })
    expect(clash.status).toBe(1)
    expect(clash.json).toMatchObject({ code: 100, details: 'ERR_INTERFACE_EXISTS (conflict)' })
    expect(String(clash.json?.msg)).toContain('net1')
    expect(links().filter((l) => l.startsWith('veth'))).toEqual(vethsBefore)
    expect(inside().map((l) => l.ifname)).toEqual(['lo', 'eth0', 'net1'])
    expect(binds()).toHaveLength(1) // one bind per container, shared by its attachments
    // An invalid name is the environment's error (code 4), as before.
    const bad = plugin('ADD', netC, { containerId: 'multus2', netns: ns, ifname: 'net:1' })
    expect(bad.json).toMatchObject({ code: 4, details: expect.stringContaining('ERR_CNI_ENV') })

    expect(plugin('DEL', netB, second).status).toBe(0)
    expect(inside().map((l) => l.ifname)).toEqual(['lo', 'eth0'])
    expect(binds()).toHaveLength(1)
    expect(await sandboxRecords()).toHaveLength(1) // eth0 is still attached
    expect(plugin('DEL', netA, first).status).toBe(0)
    expect(inside().map((l) => l.ifname)).toEqual(['lo'])
    expect(binds()).toEqual([])
    expect(await sandboxRecords()).toEqual([])
    // A DEL of a container cnm never saw still succeeds.
    expect(plugin('DEL', netA, { containerId: 'never-added', netns: ns, ifname: 'eth0' }).status).toBe(0)
    expect(plugin('DEL', netC, { containerId: 'multus2', netns: ns, ifname: 'net1' }).status).toBe(0)
  })

  it('STATUS answers; GC removes every attachment valid-attachments does not list (links, rules, binds, records)', async () => {
    const [a, b] = [await netns(), await netns()]
    const conf = confOf('1.1.0', { runtimeConfig: { portMappings: [{ hostPort: 18090, containerPort: 80 }] } })
    expect(plugin('STATUS', confOf('1.1.0')).status).toBe(0)
    const keep = plugin('ADD', confOf('1.1.0'), { containerId: 'keep', netns: a, ifname: 'eth0' })
    const drop = plugin('ADD', conf, { containerId: 'drop', netns: b, ifname: 'eth0' })
    expect([keep.status, drop.status]).toEqual([0, 0])
    expect(binds()).toHaveLength(2)
    expect(ruleset()).toContain('18090')
    const gc = plugin('GC', {
      ...confOf('1.1.0'),
      'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }],
    })
    expect(gc.status, gc.stdout).toBe(0)
    expect(gc.stdout).toBe('')
    expect(ipJson<Iface[]>(['link', 'show'], { netns: b }).map((l) => l.ifname)).toEqual(['lo'])
    expect(ipJson<Iface[]>(['link', 'show'], { netns: a }).map((l) => l.ifname)).toEqual(['lo', 'eth0'])
    expect(ruleset()).not.toContain('18090')
    expect(binds()).toHaveLength(1)
    const c = await createController({ storePath: state.store, sandboxDir: state.sandboxDir })
    expect(
      c
        .networkByName('cnmtest')
        ?.endpoints()
        .map((e) => e.name),
    ).toHaveLength(1)
    await c.close()
    expect(plugin('DEL', confOf('1.1.0'), { containerId: 'keep', netns: a, ifname: 'eth0' }).status).toBe(0)
    expect(binds()).toEqual([])
  })

  it('chains: a prevResult is passed on with its interfaces first; a /proc/<pid>/ns/net namespace is pinned, not followed', async () => {
    const holder = await startNamespaceHolder()
    holders.push(holder)
    const nsPath = holder.netnsPath
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'lo', sandbox: nsPath }], ips: [], routes: [], dns: {} }
    const call: Call = { containerId: 'proc1', netns: nsPath, ifname: 'eth0' }
    const add = plugin('ADD', confOf('1.0.0', { prevResult: prev }), call)
    expect(add.status, add.stdout).toBe(0)
    const result = add.json as { interfaces: { name: string; sandbox?: string }[]; ips: { interface: number }[] }
    expect(result.interfaces[0]).toEqual({ name: 'lo', sandbox: nsPath })
    expect(result.interfaces).toHaveLength(4)
    expect(result.ips[0]?.interface).toBe(3)
    // The process goes; cnm's bind keeps that very namespace, and DEL still removes the attachment.
    holder.stop()
    expect(plugin('DEL', confOf('1.0.0'), call).status).toBe(0)
    expect(binds()).toEqual([])
    expect(links().filter((l) => l.startsWith('veth'))).toEqual([])
  })
})
