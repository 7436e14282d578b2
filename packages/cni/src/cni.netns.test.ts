import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController } from '@cnm/controller'
import { createNetns, deleteNetns, MNT_DETACH, umount2 } from '@cnm/netlink'
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
import { type Call, runPlugin } from './test/plugin.js'

/** Detaches every bind left in an attachment directory (after a failed test). */
function unbindAll(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch {}
  for (const n of names) {
    try {
      umount2(path.join(dir, n), MNT_DETACH)
    } catch {}
  }
}

interface Iface {
  ifname: string
  address?: string
  addr_info?: { local: string; prefixlen: number; family: string }[]
}

describeKernel('the cnm CNI executable, driven as a runtime drives it (in process: no daemon)', () => {
  const host = useHostNetns()
  let tmp: string
  let base: Record<string, string>
  const namespaces: string[] = []
  const servers: TestServer[] = []
  const holders: ChildProcess[] = []

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
  const cniDir = () => base.CNM_CNI_DIR as string
  const binds = () => readdirSync(cniDir()).filter((f) => !f.startsWith('.'))
  const links = () => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
  const ruleset = () => run('nft', ['list', 'ruleset']).stdout

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-cni-'))
    base = {
      CNM_STORE: path.join(tmp, 'cnm.db'),
      CNM_CNI_DIR: path.join(tmp, 'cni'),
      CNM_SANDBOX_DIR: path.join(tmp, 'sb'),
      CNM_HOST: `unix://${path.join(tmp, 'no-daemon.sock')}`,
    }
  })
  afterEach(() => {
    for (const s of servers.splice(0)) s.stop()
    for (const h of holders.splice(0)) h.kill('SIGKILL')
    for (const p of namespaces.splice(0)) deleteNetns(p)
  })
  afterAll(async () => {
    // The network ADD created stays (as the reference bridge does): removed here, with the store.
    try {
      const c = await createController({
        storePath: base.CNM_STORE as string,
        sandboxDir: base.CNM_SANDBOX_DIR as string,
      })
      try {
        for (const n of c.networks()) await n.delete()
      } finally {
        await c.close()
      }
    } finally {
      // A failed test may have left attachments bound: unbound first, or the directory cannot go.
      unbindAll(base.CNM_CNI_DIR as string)
      rmSync(tmp, { recursive: true, force: true })
    }
  })

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
    expectError(plugin('ADD', conf, { ...call, ifname: 'net1' }), 102, 'ERR_CNI_IFNAME')
    expectError(plugin('ADD', conf, { ...call, netns: '/proc/self/ns/net' }), 4, 'ERR_CNI_NETNS')
    expectError(plugin('CHECK', conf, call), 3, 'ERR_CNI_CHECK')
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
    // A second ADD of one attachment is refused; the first stays.
    expect(plugin('ADD', conf, call).status).toBe(0)
    expectError(plugin('ADD', conf, call), 100, 'ERR_CNI_ATTACHMENT_EXISTS')
    expect(ipJson<Iface[]>(['link', 'show', 'eth0'], { netns: ns })).toHaveLength(1)
    expect(plugin('DEL', conf, call).status).toBe(0)
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
    const c = await createController({
      storePath: base.CNM_STORE as string,
      sandboxDir: base.CNM_SANDBOX_DIR as string,
    })
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
    const holder = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' })
    holders.push(holder)
    // `unshare` execs sleep: its pid's namespace is the new one once it differs from ours.
    const nsPath = `/proc/${holder.pid}/ns/net`
    const deadline = Date.now() + 10_000
    while (run('readlink', [nsPath], { check: false }).stdout === run('readlink', ['/proc/self/ns/net']).stdout) {
      if (Date.now() > deadline) throw new Error('unshare did not start')
      await new Promise((r) => setTimeout(r, 20))
    }
    const prev = { cniVersion: '1.0.0', interfaces: [{ name: 'lo', sandbox: nsPath }], ips: [], routes: [], dns: {} }
    const call: Call = { containerId: 'proc1', netns: nsPath, ifname: 'eth0' }
    const add = plugin('ADD', confOf('1.0.0', { prevResult: prev }), call)
    expect(add.status, add.stdout).toBe(0)
    const result = add.json as { interfaces: { name: string; sandbox?: string }[]; ips: { interface: number }[] }
    expect(result.interfaces[0]).toEqual({ name: 'lo', sandbox: nsPath })
    expect(result.interfaces).toHaveLength(4)
    expect(result.ips[0]?.interface).toBe(3)
    // The process goes; cnm's bind keeps that very namespace, and DEL still removes the attachment.
    holder.kill('SIGKILL')
    expect(plugin('DEL', confOf('1.0.0'), call).status).toBe(0)
    expect(binds()).toEqual([])
    expect(links().filter((l) => l.startsWith('veth'))).toEqual([])
  })
})
