import { mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ReconcileReport } from '@cnm/controller'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { formatError } from './errors.js'
import { createProgram } from './program.js'

// `cnm network …` as Docker users type it, run in process on a store of the test's own (the same
// commands and in-process API the binary runs), against the kernel of a namespace playing the host.

interface Ran {
  out: string
  err: string
  error: unknown
}

async function cnm(args: readonly string[]): Promise<Ran> {
  const ran: Ran = { out: '', err: '', error: undefined }
  const argv = ['node', 'cnm', ...args]
  const program = createProgram({
    argv,
    output: {
      out: (t) => {
        ran.out += t
      },
      err: (t) => {
        ran.err += t
      },
    },
  }).exitOverride()
  try {
    await program.parseAsync(argv)
  } catch (err) {
    ran.error = err
    ran.err += `${formatError(err)}\n`
  }
  return ran
}

async function ok(args: readonly string[]): Promise<string> {
  const r = await cnm(args)
  expect(r.err, `cnm ${args.join(' ')}`).toBe('')
  return r.out
}

const links = (): string[] => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
const kindOf = (name: string): string | undefined =>
  ipJson<{ linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show', name])[0]?.linkinfo?.info_kind

describeKernel('cnm network: the options and commands Docker users type (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let g: (...args: string[]) => string[]
  let sandboxDir: string

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-netcmd-'))
    const store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    g = (...args) => ['--store', store, '--sandbox-dir', sandboxDir, ...args]
  })
  afterEach(async () => {
    for (const s of JSON.parse((await cnm(g('sandbox', 'ls', '--json'))).out || '[]') as { id: string }[]) {
      await cnm(g('sandbox', 'rm', s.id))
    }
    const nets = JSON.parse((await cnm(g('network', 'ls', '--json'))).out || '[]') as { id: string }[]
    if (nets.length > 0) await cnm(g('network', 'rm', '-f', ...nets.map((n) => n.id)))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmdirSync(sandboxDir, { recursive: false }) // only when empty: anything left there is for the harness to report
  })

  it('-o com.docker.network.bridge.name and -o bridgeName create the named bridge; ls --filter/--format, inspect --format', async () => {
    const [docker, plain] = [uniqueName('dk'), uniqueName('pl')]
    await ok(
      g(
        'network',
        'create',
        '-o',
        `com.docker.network.bridge.name=${docker}`,
        '-o',
        'com.docker.network.driver.mtu=1400',
        '--subnet',
        '10.91.0.0/24',
        'dnet',
      ),
    )
    await ok(g('network', 'create', '-o', `bridgeName=${plain}`, '--subnet', '10.92.0.0/24', 'pnet'))
    expect(kindOf(docker)).toBe('bridge')
    expect(kindOf(plain)).toBe('bridge')
    expect(ipJson<{ mtu: number }[]>(['link', 'show', docker])[0]?.mtu).toBe(1400)

    expect(await ok(g('network', 'ls', '--filter', 'name=dne', '--format', '{{.Name}} {{.Driver}} {{.Scope}}'))).toBe(
      'dnet bridge local\n',
    )
    expect(await ok(g('network', 'ls', '--filter', 'driver=bridge', '--format', '{{.Name}}'))).toBe('dnet\npnet\n')
    expect(await ok(g('network', 'ls', '--filter', 'driver=macvlan', '-q'))).toBe('')
    expect(await ok(g('network', 'ls', '--format', 'table {{.Name}}\\t{{.Internal}}'))).toBe(
      'NAME\tINTERNAL\ndnet\tfalse\npnet\tfalse\n',
    )
    expect(JSON.parse(await ok(g('network', 'inspect', '--format', '{{json .IPAM}}', 'dnet')))).toEqual({
      Driver: 'default',
      Options: {},
      Config: [{ Subnet: '10.91.0.0/24', Gateway: '10.91.0.1' }],
    })
    // What a bad option or filter says.
    const bad = await cnm(g('network', 'create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'x'))
    expect(bad.err).toMatch(
      /^cnm: com\.docker\.network\.bridge\.enable_icc must be true or false, got "maybe" \(ERR_INVALID_CONFIG\)\n$/u,
    )
    const filter = await cnm(g('network', 'ls', '--filter', 'colour=red'))
    expect(filter.err).toContain('unknown filter "colour"')
    await ok(g('network', 'rm', 'dnet', 'pnet'))
    expect(links()).not.toContain(docker)
    expect(links()).not.toContain(plain)
  })

  it('--gateway that is already a host address is refused, naming it, before anything changes', async () => {
    const [up, peer] = [uniqueName('up'), uniqueName('p')]
    run('ip', ['link', 'add', up, 'type', 'veth', 'peer', 'name', peer])
    try {
      run('ip', ['addr', 'add', '10.93.0.5/24', 'dev', up])
      const before = links()
      const r = await cnm(g('network', 'create', '--subnet', '10.93.0.0/24', '--gateway', '10.93.0.5', 'gw'))
      expect(r.err).toBe(
        `cnm: gateway 10.93.0.5 is already an address of interface ${up} (10.93.0.5/24) on this host: choose another gateway (--gateway) or subnet (ERR_GATEWAY_IN_USE)\n`,
      )
      expect(links()).toEqual(before)
      expect(await ok(g('network', 'ls', '-q'))).toBe('')
      // The control: another gateway in that subnet.
      await ok(g('network', 'create', '--subnet', '10.93.0.0/24', '--gateway', '10.93.0.6', 'gw'))
    } finally {
      await cnm(g('network', 'rm', 'gw'))
      run('ip', ['link', 'del', up], { check: false })
    }
  })

  it('rm goes on past a failure and reports each; rm -f disconnects first; prune removes only idle networks', async () => {
    await ok(g('network', 'create', '--subnet', '10.94.0.0/24', 'busy'))
    await ok(g('network', 'create', '--subnet', '10.95.0.0/24', 'idle'))
    await ok(g('sandbox', 'create', 'box'))
    await ok(g('connect', 'busy', 'box'))

    const r = await cnm(g('network', 'rm', 'nosuch', 'busy', 'idle'))
    expect(r.out).toBe('idle\n') // tried after two failures
    expect(r.err.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^cnm: .*nosuch.* \(ERR_UNKNOWN_NETWORK\)$/u),
      expect.stringMatching(/^cnm: .*busy.* \(ERR_ACTIVE_ENDPOINTS\)$/u),
    ])
    expect(r.error).toBeDefined()

    await ok(g('network', 'create', '--subnet', '10.95.0.0/24', '--label', 'tier=idle', 'idle'))
    await ok(g('network', 'create', '--subnet', '10.96.0.0/24', 'other'))
    expect(await ok(g('network', 'prune', '-f', '--filter', 'label=tier=idle'))).toBe('Deleted Networks:\nidle\n')
    expect(await ok(g('network', 'prune', '-f', '--filter', 'until=1h'))).toBe('') // all are younger
    // Docker's prune takes until and label only.
    expect((await cnm(g('network', 'prune', '-f', '--filter', 'name=other'))).err).toMatch(/ERR_INVALID_ARGUMENT/u)
    expect(await ok(g('network', 'prune', '-f'))).toBe('Deleted Networks:\nother\n') // busy has an endpoint
    expect(await ok(g('network', 'ls', '--format', '{{.Name}}'))).toBe('busy\n')

    expect(await ok(g('network', 'rm', '-f', 'busy', 'nosuch'))).toBe('busy\n')
    expect(await ok(g('network', 'ls', '-q'))).toBe('')
    const sandboxes = JSON.parse(await ok(g('sandbox', 'ls', '--json'))) as { endpoints: unknown[] }[]
    expect(sandboxes.map((s) => s.endpoints)).toEqual([[]])
  })

  it('--label: stored, shown by inspect and ls --format, matched by --filter label=, kept across processes', async () => {
    const [a, b] = [uniqueName('la'), uniqueName('lb')]
    await ok(g('network', 'create', '--label', 'env=prod', '--label', 'com.example.team=net', '--label', 'flag', a))
    await ok(g('network', 'create', '--label', 'env=dev', b))
    // Each command is a new controller on the store: the labels come back from it.
    expect(JSON.parse(await ok(g('network', 'inspect', '--format', '{{json .Labels}}', a)))).toEqual({
      env: 'prod',
      'com.example.team': 'net',
      flag: '',
    })
    const [inspected] = JSON.parse(await ok(g('network', 'inspect', a))) as { labels: unknown; created: string }[]
    expect(inspected?.labels).toEqual({ env: 'prod', 'com.example.team': 'net', flag: '' })
    expect(Date.parse(inspected?.created ?? '')).toBeGreaterThan(Date.now() - 600_000)
    expect(await ok(g('network', 'ls', '--filter', 'label=env', '--format', '{{.Name}}'))).toBe(`${a}\n${b}\n`)
    expect(await ok(g('network', 'ls', '--filter', 'label=env=dev', '--format', '{{.Name}}'))).toBe(`${b}\n`)
    // ls prints Docker's list form of the labels; inspect the Go map form.
    expect(await ok(g('network', 'ls', '--filter', 'label=flag', '--format', '{{.Name}} {{.Labels}}'))).toBe(
      `${a} com.example.team=net,env=prod,flag=\n`,
    )
    expect(await ok(g('network', 'inspect', '--format', '{{.Labels}}', b))).toBe('map[env:dev]\n')
    const bad = await cnm(g('network', 'create', '--label', '=x', uniqueName('lc')))
    expect(bad.err).toMatch(/--label "=x" must be KEY=VALUE.*ERR_INVALID_ARGUMENT/u)
  })

  it('--aux-address: reserved, never handed out; --ip-range for IPv6', async () => {
    await ok(
      g(
        'network',
        'create',
        '--subnet',
        '10.99.0.0/29',
        '--aux-address',
        'r=10.99.0.2',
        '--aux-address',
        's=10.99.0.3',
        'aux',
      ),
    )
    expect(JSON.parse(await ok(g('network', 'inspect', 'aux')))[0].ipam.v4[0].auxAddresses).toEqual({
      r: '10.99.0.2',
      s: '10.99.0.3',
    })
    const ips: string[] = []
    for (const box of ['a1', 'a2', 'a3']) {
      await ok(g('sandbox', 'create', box))
      ips.push((JSON.parse(await ok(g('connect', 'aux', box, '--json'))) as { ipv4: string }).ipv4)
    }
    // A /29: the gateway .1, the aux addresses .2 and .3, so .4 to .6; then none is left.
    expect(ips.sort()).toEqual(['10.99.0.4', '10.99.0.5', '10.99.0.6'])
    await ok(g('sandbox', 'create', 'a4'))
    expect((await cnm(g('connect', 'aux', 'a4'))).err).toMatch(/\(ERR_NO_AVAILABLE_IPS\)\n$/u)
    // --ip-range for IPv6: addresses from that part of the subnet only.
    await ok(
      g(
        'network',
        'create',
        '--ipv6',
        '--subnet',
        '10.99.16.0/24',
        '--subnet',
        'fd99:2::/64',
        '--ip-range',
        'fd99:2::100/124',
        'r6',
      ),
    )
    await ok(g('sandbox', 'create', 'b6'))
    const v6 = JSON.parse(await ok(g('connect', 'r6', 'b6', '--json'))) as { ipv6: string }
    expect(v6.ipv6).toMatch(/^fd99:2::10[0-9a-f]$/u)
    const bad = await cnm(g('network', 'create', '--subnet', '10.99.8.0/29', '--aux-address', 'far=10.99.9.2', 'aux2'))
    expect(bad.err).toContain('--aux-address far=10.99.9.2: no matching --subnet holds it (10.99.8.0/29)')
  })

  it('--ipv4=false: an IPv6-only network, its containers reached over IPv6 only', async () => {
    const id = (await ok(g('network', 'create', '--ipv4=false', '--ipv6', '--subnet', 'fd99:4::/64', 'v6only'))).trim()
    const bridge = `br-${id.slice(0, 12)}`
    const families = (dev: string, netns?: string): string[] =>
      (
        ipJson<{ addr_info: { family: string; local: string; scope: string }[] }[]>(
          ['addr', 'show', dev],
          netns ? { netns } : {},
        )[0]?.addr_info ?? []
      )
        .filter((a) => a.scope === 'global')
        .map((a) => `${a.family} ${a.local}`)
    expect(families(bridge)).toEqual(['inet6 fd99:4::1'])
    await ok(g('sandbox', 'create', 'six'))
    const ep = JSON.parse(await ok(g('connect', 'v6only', 'six', '--json'))) as {
      ipv4?: string
      ipv6: string
      macAddress: string
      sandboxKey: string
    }
    expect(ep.ipv4).toBeUndefined()
    expect(ep.ipv6).toBe('fd99:4::2')
    expect(ep.macAddress).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u)
    const key = JSON.parse(await ok(g('sandbox', 'inspect', 'six')))[0].key as string
    expect(families('eth0', key)).toEqual(['inet6 fd99:4::2'])
    // Traffic: the host reaches the container over IPv6, and the container its gateway.
    expect(run('ping', ['-6', '-c', '1', '-W', '2', 'fd99:4::2'], { check: false }).status).toBe(0)
    expect(run('ping', ['-6', '-c', '1', '-W', '2', 'fd99:4::1'], { netns: key, check: false }).status).toBe(0)
    const bad = await cnm(g('network', 'create', '--ipv4=false', 'nov6'))
    expect(bad.err).toContain('--ipv4=false needs --ipv6')
  })

  it('beside iptables FORWARD DROP: accept rules for the bridge, put back by reconcile, gone with the network', async () => {
    run('iptables', ['-P', 'FORWARD', 'DROP'])
    try {
      const id = (await ok(g('network', 'create', '--subnet', '10.98.0.0/24', 'fw'))).trim()
      const bridge = `br-${id.slice(0, 12)}`
      const save = (): string[] => run('iptables-save', ['-t', 'filter']).stdout.split('\n')
      const accepts = [`-A CNM-ACCEPT -i ${bridge} -j ACCEPT`, `-A CNM-ACCEPT -o ${bridge} -j ACCEPT`]
      expect(save()).toEqual(expect.arrayContaining(['-A FORWARD -j CNM-ACCEPT', ...accepts]))

      // The host's firewall reloaded without them: reconcile notices and repairs.
      run('iptables', ['-D', 'FORWARD', '-j', 'CNM-ACCEPT'])
      expect(save()).not.toContain('-A FORWARD -j CNM-ACCEPT')
      const report = JSON.parse(await ok(g('reconcile', '--json'))) as ReconcileReport
      expect(report.rebuiltNetworks).toEqual(['fw'])
      expect(save()).toEqual(expect.arrayContaining(['-A FORWARD -j CNM-ACCEPT', ...accepts]))
      expect(await ok(g('reconcile'))).toBe('nothing to repair: the store and the kernel agree\n')

      await ok(g('network', 'rm', 'fw'))
      expect(save().filter((l) => l.includes('CNM-'))).toEqual([])
      expect(save().filter((l) => l.startsWith(':FORWARD DROP'))).toHaveLength(1)
    } finally {
      run('nft', ['flush', 'ruleset'])
    }
  })
})
