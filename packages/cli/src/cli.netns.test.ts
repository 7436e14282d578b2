import { mkdtempSync, readdirSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { EndpointInspect, NetworkInspect, PortInfo, ReconcileReport } from '@cnm/controller'
import {
  describeKernel,
  ipJson,
  pings,
  request,
  run,
  startServer,
  type TestServer,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest'
import { cnm, fails, ok, okJSON } from './test/cnm.js'
import type { SandboxJSON } from './views.js'

const ID = /^[0-9a-f]{64}\n$/u

function waitForLinkGone(name: string): boolean {
  for (let i = 0; i < 150; i++) {
    if (run('ip', ['link', 'show', name], { check: false }).status !== 0) return true
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
  }
  return false
}

describeKernel('cnm commands (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-cli-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
  })
  // Whatever a failed test left, through the binary too: sandboxes (with their endpoints), the
  // remaining endpoints, then networks.
  afterEach(() => {
    const list = (what: string): string[] =>
      (JSON.parse(cnm(g(what, 'ls', '--json')).stdout || '[]') as { id: string }[]).map((x) => x.id)
    for (const id of list('sandbox')) cnm(g('sandbox', 'rm', id))
    for (const e of JSON.parse(cnm(g('endpoint', 'ls', '--json')).stdout || '[]') as EndpointInspect[]) {
      cnm(g('endpoint', 'rm', e.network.id, e.id))
    }
    for (const id of list('network')) cnm(g('network', 'rm', id))
  })
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true })
    rmdirSync(sandboxDir) // only when empty: anything left there is for the harness to report
  })

  it('network create|ls|inspect|rm with Docker-style options; --json shapes; errors', () => {
    const id = ok(g('network', 'create', 'front', '--subnet', '10.201.0.0/24', '--gateway', '10.201.0.254'))
    expect(id).toMatch(ID)
    const bridge = `br-${id.slice(0, 12)}`
    const addrs = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(['addr', 'show', 'dev', bridge])
    expect(addrs[0]?.addr_info).toContainEqual(expect.objectContaining({ local: '10.201.0.254', prefixlen: 24 }))
    expect(
      ok(
        g(
          'network',
          'create',
          'back',
          '--ipv6',
          '--subnet',
          '10.202.0.0/24',
          '--subnet',
          'fd00:cafe::/64',
          '--internal',
        ),
      ),
    ).toMatch(ID)
    const made = okJSON<NetworkInspect>(
      g('network', 'create', 'side', '--icc=false', '--mtu', '1400', '-o', 'enableIPMasquerade=false', '--json'),
    )
    expect(made).toMatchObject({
      name: 'side',
      driver: 'bridge',
      icc: false,
      internal: false,
      options: { enableICC: false, mtu: 1400, enableIPMasquerade: false },
      endpoints: [],
    })
    expect(made.id).toMatch(/^[0-9a-f]{64}$/u)
    expect(ipJson<{ mtu: number }[]>(['link', 'show', made.device ?? ''])[0]?.mtu).toBe(1400)

    const table = ok(g('network', 'ls'))
    expect(table.split('\n')[0]).toMatch(/^NETWORK ID +NAME +DRIVER +DEVICE +SUBNET +GATEWAY +ENDPOINTS$/u)
    expect(table).toMatch(
      new RegExp(`^${id.slice(0, 12)} +front +bridge +${bridge} +10\\.201\\.0\\.0/24 +10\\.201\\.0\\.254 +0$`, 'mu'),
    )
    const list = okJSON<NetworkInspect[]>(g('network', 'ls', '--json'))
    expect(list.map((n) => n.name).sort()).toEqual(['back', 'front', 'side'])
    expect(Object.keys(list[0] ?? {}).sort()).toEqual(
      [
        'created',
        'device',
        'driver',
        'endpoints',
        'gateway',
        'gatewayIPv6',
        'icc',
        'id',
        'internal',
        'ipam',
        'labels',
        'name',
        'options',
        'subnet',
        'subnetIPv6',
        'subnets',
      ]
        .filter((k) => k in (list[0] ?? {}))
        .sort(),
    )
    expect(
      ok(g('network', 'ls', '-q'))
        .trim()
        .split('\n')
        .sort(),
    ).toEqual(list.map((n) => n.id).sort())
    const [backInfo, frontInfo] = okJSON<NetworkInspect[]>(g('network', 'inspect', 'back', id.slice(0, 6)))
    expect(backInfo).toMatchObject({
      name: 'back',
      subnet: '10.202.0.0/24',
      gateway: '10.202.0.1',
      subnetIPv6: 'fd00:cafe::/64',
      gatewayIPv6: 'fd00:cafe::1',
      internal: true,
    })
    expect(frontInfo).toMatchObject({ name: 'front', gateway: '10.201.0.254', icc: true })

    expect(fails(g('network', 'create', 'front'), 'ERR_NETWORK_NAME_EXISTS')).toBe(
      'cnm: network with name front already exists (ERR_NETWORK_NAME_EXISTS)\n',
    )
    fails(g('network', 'create', 'bad/name'), 'ERR_INVALID_NAME')
    fails(g('network', 'create', 'x', '-d', 'frobnicate'), 'ERR_UNKNOWN_DRIVER')
    fails(g('network', 'create', 'x', '-o', 'frobnicate=1'), 'ERR_INVALID_CONFIG')
    expect(fails(g('network', 'create', 'x', '--subnet', '10.201.0.0/25'), 'ERR_NETWORK_OVERLAPS')).toBe(
      'cnm: network x: subnet 10.201.0.0/25 overlaps network front (10.201.0.0/24) (ERR_NETWORK_OVERLAPS)\n',
    )
    expect(fails(g('network', 'inspect', 'nope'), 'ERR_UNKNOWN_NETWORK')).toBe(
      'cnm: unknown network nope (ERR_UNKNOWN_NETWORK)\n',
    )
    expect(ok(g('network', 'rm', 'front', 'back', 'side'))).toBe('front\nback\nside\n')
    expect(okJSON(g('network', 'ls', '--json'))).toEqual([])
    expect(run('ip', ['link', 'show', bridge], { check: false }).status).not.toBe(0)
    fails(g('network', 'rm', 'front'), 'ERR_UNKNOWN_NETWORK')
  })

  it('sandbox and endpoint verbs; --publish ranges; traffic through the published port', async () => {
    ok(g('network', 'create', 'web', '--subnet', '10.203.0.0/24'))
    expect(ok(g('sandbox', 'create', 'c1'))).toMatch(ID)
    const customKey = path.join(sandboxDir, 'custom-key')
    const c2 = okJSON<SandboxJSON>(g('sandbox', 'create', 'c2', '--key', customKey, '--json'))
    expect(c2).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{64}$/u),
      containerID: 'c2',
      key: customKey,
      endpoints: [],
    })
    fails(g('sandbox', 'create', 'c1'), 'ERR_SANDBOX_EXISTS')
    fails(g('sandbox', 'create', 'c3', '--key', 'relative/key'), 'ERR_INVALID_SANDBOX_KEY')

    const e1 = okJSON<EndpointInspect>(
      g(
        'endpoint',
        'create',
        'web',
        'e1',
        '--sandbox',
        'c1',
        '-p',
        '127.0.0.1::80',
        '-p',
        '18081-18082:81-82/udp',
        '--json',
      ),
    )
    const c1Key = path.join(sandboxDir, 'c1')
    expect(e1).toMatchObject({
      name: 'e1',
      network: { name: 'web' },
      sandboxKey: c1Key,
      joined: { key: c1Key, interface: 'eth0' },
      ipv4: '10.203.0.2',
      ports: [
        { proto: 'tcp', hostIP: '127.0.0.1', containerPort: 80, containerIP: '10.203.0.2' },
        {
          proto: 'udp',
          hostIP: '0.0.0.0',
          hostPort: 18081,
          hostPortEnd: 18082,
          containerPort: 81,
          containerPortEnd: 82,
        },
      ],
    })
    const hostPort = e1.ports[0]?.hostPort ?? 0
    expect(hostPort).toBeGreaterThan(0)
    expect(
      ok(g('endpoint', 'create', 'web', 'e2', '--ip', '10.203.0.50', '--mac-address', '02:42:0A:CB:00:32')),
    ).toMatch(ID)

    const table = ok(g('endpoint', 'ls'))
    expect(table.split('\n')[0]).toMatch(/^ENDPOINT ID +NAME +NETWORK +IPV4 +IPV6 +SANDBOX +PORTS$/u)
    expect(table).toMatch(
      new RegExp(
        `e1 +web +10\\.203\\.0\\.2 +c1 +127\\.0\\.0\\.1:${hostPort}->80/tcp,0\\.0\\.0\\.0:18081-18082->81-82/udp$`,
        'mu',
      ),
    )
    const list = okJSON<EndpointInspect[]>(g('endpoint', 'ls', 'web', '--json'))
    expect(list.map((e) => e.name).sort()).toEqual(['e1', 'e2'])
    const [e2] = okJSON<EndpointInspect[]>(g('endpoint', 'inspect', 'web', 'e2'))
    expect(e2).toMatchObject({ ipv4: '10.203.0.50', macAddress: '02:42:0a:cb:00:32', sandboxKey: '', ports: [] })
    expect(e2).not.toHaveProperty('joined') // JSON leaves out what is unset
    expect(okJSON<SandboxJSON[]>(g('sandbox', 'inspect', 'c1'))[0]?.endpoints).toEqual([
      { id: e1.id, name: 'e1', network: 'web' },
    ])
    expect(
      okJSON<SandboxJSON[]>(g('sandbox', 'ls', '--json'))
        .map((s) => s.containerID)
        .sort(),
    ).toEqual(['c1', 'c2'])
    expect(ok(g('sandbox', 'ls'))).toMatch(/^[0-9a-f]{12} +c1 +\S+\/c1 +web\/e1$/mu)

    let server: TestServer | undefined
    try {
      server = await startServer(80, 'web', c1Key)
      expect(request('tcp', '127.0.0.1', hostPort)).toMatch(/^web /u)
    } finally {
      server?.stop()
    }
    const ports = okJSON<PortInfo[]>(g('port', 'ls', '--json'))
    expect(ports).toHaveLength(2)
    expect(ports[0]).toEqual({
      network: 'web',
      endpoint: 'e1',
      proto: 'tcp',
      hostIP: '127.0.0.1',
      hostPort,
      hostPortEnd: hostPort,
      containerIP: '10.203.0.2',
      containerPort: 80,
      containerPortEnd: 80,
    })
    expect(ok(g('port', 'ls', '--network', 'web'))).toContain(`127.0.0.1:${hostPort}->80/tcp`)

    fails(g('endpoint', 'create', 'web', 'e1'), 'ERR_ENDPOINT_NAME_EXISTS')
    expect(
      fails(g('endpoint', 'create', 'web', 'e3', '-p', `127.0.0.1:${hostPort}:80`), 'ERR_PORT_MAPPED_FOR_IP'),
    ).toContain(`127.0.0.1:${hostPort}`)
    fails(g('endpoint', 'create', 'web', 'e3', '--ip', '10.203.0.50'), 'ERR_IP_ALREADY_ALLOCATED')
    fails(g('endpoint', 'create', 'web', 'e3', '--sandbox', 'nope'), 'ERR_UNKNOWN_SANDBOX')
    expect(fails(g('endpoint', 'inspect', 'web', 'nope'), 'ERR_UNKNOWN_ENDPOINT')).toContain('in network web')
    fails(g('network', 'rm', 'web'), 'ERR_ACTIVE_ENDPOINTS')
    expect(okJSON<EndpointInspect[]>(g('endpoint', 'ls', '--json'))).toHaveLength(2) // the failures left nothing

    expect(ok(g('endpoint', 'rm', 'web', 'e2'))).toBe('e2\n')
    expect(ok(g('sandbox', 'rm', 'c1', customKey))).toBe('c1\nc2\n') // c1's endpoint goes with it
    expect(okJSON(g('endpoint', 'ls', '--json'))).toEqual([])
    expect(okJSON(g('sandbox', 'ls', '--json'))).toEqual([])
    expect(okJSON(g('port', 'ls', '--json'))).toEqual([])
    ok(g('network', 'rm', 'web'))
    expect(readdirSync(sandboxDir)).toEqual([])
  })

  it('connect and disconnect join sandboxes to networks (pings prove it)', () => {
    ok(g('network', 'create', 'a', '--subnet', '10.204.0.0/24'))
    ok(g('network', 'create', 'b', '--subnet', '10.205.0.0/24'))
    ok(g('sandbox', 'create', 's1'))
    ok(g('sandbox', 'create', 's2'))
    const [k1, k2] = [path.join(sandboxDir, 's1'), path.join(sandboxDir, 's2')]
    expect(ok(g('connect', 'a', 's1'))).toMatch(ID)
    const s2a = okJSON<EndpointInspect>(g('connect', 'a', 's2', '--json'))
    expect(s2a).toMatchObject({ name: 's2', joined: { key: k2, interface: 'eth0' }, ipv4: '10.204.0.3' })
    expect(pings('10.204.0.3', k1)).toBe(true)
    ok(g('connect', 'b', 's1', '--endpoint', 's1-b'))
    const links = ipJson<{ ifname: string }[]>(['link', 'show'], { netns: k1 }).map((l) => l.ifname)
    expect(links.sort()).toEqual(['eth0', 'eth1', 'lo'])
    fails(g('connect', 'a', 's1'), 'ERR_ENDPOINT_NAME_EXISTS')

    expect(ok(g('disconnect', 'a', 's2'))).toBe('s2\n')
    expect(pings('10.204.0.3', k1)).toBe(false)
    expect(okJSON<EndpointInspect[]>(g('endpoint', 'ls', 'a', '--json')).map((e) => e.name)).toEqual(['s1'])
    fails(g('disconnect', 'a', 's2'), 'ERR_NOT_JOINED')
    // An endpoint made beforehand (parked on the host) joins on connect --endpoint.
    ok(g('endpoint', 'create', 'a', 'spare', '--ip', '10.204.0.99'))
    fails(g('connect', 'a', 's2', '--endpoint', 'spare', '-p', '80'), 'ERR_INVALID_ARGUMENT')
    const spare = okJSON<EndpointInspect>(g('connect', 'a', 's2', '--endpoint', 'spare', '--json'))
    expect(spare.joined).toMatchObject({ key: k2, interface: 'eth0' })
    expect(pings('10.204.0.99', k1)).toBe(true)
    fails(g('connect', 'a', 's2', '--endpoint', 'spare'), 'ERR_ALREADY_JOINED')
    fails(g('connect', 'b', 'nope'), 'ERR_UNKNOWN_SANDBOX')

    ok(g('sandbox', 'rm', 's1', 's2'))
    expect(okJSON(g('endpoint', 'ls', '--json'))).toEqual([])
    ok(g('network', 'rm', 'a', 'b'))
  })

  it("refuses to remove what dockerd made without -f, and leaves it out of prune (docker's to remove)", () => {
    const docker = `docker-${'ab'.repeat(32)}` // what cnm's Docker plugin names a network dockerd made
    ok(g('network', 'create', docker, '--subnet', '10.207.0.0/24'))
    ok(g('endpoint', 'create', docker, `docker-${'cd'.repeat(32)}`))
    ok(g('network', 'create', 'idle', '--subnet', '10.208.0.0/24'))
    ok(g('network', 'create', `docker-${'ef'.repeat(32)}`, '--subnet', '10.209.0.0/24')) // dockerd's, idle
    expect(fails(g('network', 'rm', docker), 'ERR_DOCKER_OWNED')).toContain(
      'was made by dockerd (Docker network abababababab): remove it with docker network rm abababababab',
    )
    expect(fails(g('endpoint', 'rm', docker, `docker-${'cd'.repeat(32)}`), 'ERR_DOCKER_OWNED')).toContain(
      'docker network disconnect abababababab',
    )
    // prune takes the idle network of cnm's own, not dockerd's.
    expect(ok(g('network', 'prune', '-f'))).toBe('Deleted Networks:\nidle\n')
    expect(
      okJSON<{ name: string }[]>(g('network', 'ls', '--json'))
        .map((n) => n.name)
        .sort(),
    ).toEqual([docker, `docker-${'ef'.repeat(32)}`].sort())
    // -f: removed anyway (one dockerd forgot while cnm was down).
    expect(ok(g('endpoint', 'rm', '-f', docker, `docker-${'cd'.repeat(32)}`))).toBe(`docker-${'cd'.repeat(32)}\n`)
    expect(ok(g('network', 'rm', '-f', docker, `docker-${'ef'.repeat(32)}`))).toBe(
      `${docker}\ndocker-${'ef'.repeat(32)}\n`,
    )
  })

  it('reconcile reports what went behind its back; --store and CNM_STORE select the store', () => {
    ok(g('network', 'create', 'r', '--subnet', '10.206.0.0/24'))
    ok(g('sandbox', 'create', 'gone'))
    const eid = ok(g('connect', 'r', 'gone'))
    const key = path.join(sandboxDir, 'gone')
    run('umount', [key])
    run('rm', [key])
    expect(waitForLinkGone(`veth${eid.slice(0, 11)}`)).toBe(true) // the kernel frees it shortly after
    const report = okJSON<ReconcileReport>(g('reconcile', '--json'))
    expect(report).toMatchObject({ droppedSandboxes: [key], droppedEndpoints: ['gone'], errors: [] })
    expect(ok(g('reconcile'))).toBe('nothing to repair: the store and the kernel agree\n')

    const other = path.join(tmp, 'other.db')
    const viaEnv = cnm(['--sandbox-dir', sandboxDir, 'network', 'ls', '--json'], { CNM_STORE: store })
    expect(JSON.parse(viaEnv.stdout).map((n: { name: string }) => n.name)).toEqual(['r'])
    expect(okJSON(['--store', other, '--sandbox-dir', sandboxDir, 'network', 'ls', '--json'])).toEqual([])
    ok(g('network', 'rm', 'r'))
  })
})
