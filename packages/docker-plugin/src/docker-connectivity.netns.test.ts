import { describeKernel } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DockerHost, IMAGE, missingTools } from './test/docker-host.js'

// dockerd 20.10 as the client of `cnm serve --docker-plugin`, in a throwaway network + mount
// namespace (see test/docker-host.ts): published ports follow the container's way out
// (Program/RevokeExternalConnectivity) between a cnm network and Docker's own bridge driver, `-P`,
// Docker's default IPAM and cnm's automatic pools, IPAM reservations across a restart of cnm, and
// network aliases through Docker's embedded DNS. Checked with curl, `ip`, `ss`, nslookup and ping.

interface CnmPort {
  network: string
  endpoint: string
  containerIP: string
  containerPort: number
  hostIP: string
  hostPort: number
  proto: string
}
interface CnmNetwork {
  name: string
  subnet: string
  gateway: string
  endpoints: { name: string; ipv4: string }[]
}

const HOST_IP = '198.51.100.1' // the "host's own address", on a veth of the test's namespace
const PLUGIN_SOCK = '/run/docker/plugins/cnm.sock'
const HELLO = 'hello from cnm\n'

describeKernel('Docker plugin: ports follow the way out, -P, default IPAM, reservations, aliases', () => {
  const missing = missingTools()
  let h: DockerHost
  const ipOf = (ctr: string, net: string): string =>
    h.docker('inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, ctr)
  const cnmPorts = (): CnmPort[] => h.cnmJSON<CnmPort[]>('port', 'ls')
  const cnmNetwork = (dockerId: string): CnmNetwork | undefined =>
    h.cnmJSON<CnmNetwork[]>('network', 'ls').find((n) => n.name === `docker-${dockerId}`)
  const get = (url: string): string => h.in('curl', ['-sS', '-m', '5', url], { check: false }).stdout
  const listening = (): string => h.in('ss', ['-Hltnu']).stdout
  const route = (ctr: string): string => h.docker('exec', ctr, 'ip', 'route')
  const web = (name: string, ...args: string[]): string =>
    h.docker('run', '-d', '--name', name, ...args, IMAGE, 'httpd', '-f', '-p', '80', '-h', '/www')
  /** One request of the plugin protocol, as dockerd sends it. */
  const plugin = <T>(verb: string, body: unknown): T =>
    JSON.parse(
      h.in('curl', [
        '-sS',
        '--unix-socket',
        PLUGIN_SOCK,
        '-H',
        'Content-Type: application/vnd.docker.plugins.v1.2+json',
        '-d',
        JSON.stringify(body),
        `http://plugin/${verb}`,
      ]).stdout,
    ) as T

  let acnm: string

  beforeAll(async () => {
    if (missing) throw new Error(`this test needs ${missing}`)
    h = await DockerHost.create()
    h.in('ip', ['link', 'add', 'cnmt-up0', 'type', 'veth', 'peer', 'name', 'cnmt-up1'])
    h.in('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', 'cnmt-up0'])
    for (const l of ['cnmt-up0', 'cnmt-up1']) h.in('ip', ['link', 'set', l, 'up'])
    await h.startCnm('debug')
    await h.startDockerd()
    h.importImage()
    // `acnm` sorts before `zdock`: libnetwork gives a container its way out through the first
    // network by name, so connecting `acnm` moves it there and disconnecting moves it back.
    acnm = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.88.0.0/24', 'acnm')
    h.docker('network', 'create', '-d', 'bridge', '--subnet', '10.89.0.0/24', 'zdock')
  }, 180_000)

  afterAll(async () => {
    await h?.close()
  }, 180_000)

  it('publishes on the network that is the way out, and moves with it: connect and disconnect in either order', () => {
    // Docker's bridge first: its driver has the ports; cnm has none.
    web('w1', '--network', 'zdock', '-p', '8090:80')
    expect(cnmPorts()).toEqual([])
    // Connected to acnm: the way out moves there (Revoke on Docker's bridge, Program on cnm).
    h.docker('network', 'connect', 'acnm', 'w1')
    expect(route('w1')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(cnmPorts()).toMatchObject([
      { network: `docker-${acnm}`, containerIP: ipOf('w1', 'acnm'), containerPort: 80, hostPort: 8090, proto: 'tcp' },
    ])
    expect(get(`http://${HOST_IP}:8090/`)).toBe(HELLO)
    expect(get('http://127.0.0.1:8090/')).toBe(HELLO)
    // Disconnected from acnm while on zdock: no longer refused; cnm lets go of the port (Docker's
    // bridge takes it back: dockerd's own listener holds 8090 now, with no rules: --iptables=false).
    h.docker('network', 'disconnect', 'acnm', 'w1')
    expect(route('w1')).toMatch(/^default via 10\.89\.0\.1 /mu)
    expect(cnmPorts()).toEqual([])
    expect(cnmNetwork(acnm)?.endpoints).toEqual([])
    expect(get(`http://${HOST_IP}:8090/`)).toBe('')

    // cnm first: the way out stays on acnm when zdock is connected, leaves with its disconnect and
    // comes back with a new connect (a new endpoint, a new address: the port follows it).
    web('w2', '--network', 'acnm', '-p', '8091:80')
    expect(get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    h.docker('network', 'connect', 'zdock', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(cnmPorts()).toMatchObject([{ containerIP: ipOf('w2', 'acnm'), hostPort: 8091 }])
    expect(get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    h.docker('network', 'disconnect', 'acnm', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.89\.0\.1 /mu)
    expect(cnmPorts()).toEqual([])
    h.docker('network', 'connect', 'acnm', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(cnmPorts()).toMatchObject([{ containerIP: ipOf('w2', 'acnm'), hostPort: 8091 }])
    expect(get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    expect(get('http://127.0.0.1:8091/')).toBe(HELLO)

    h.docker('rm', '-f', 'w1', 'w2')
    expect(cnmPorts()).toEqual([])
    expect(listening()).not.toMatch(/:809[01]\b/u)
    expect(h.in('nft', ['list', 'ruleset']).stdout).not.toMatch(/\b809[01]\b/u)
  }, 300_000)

  it('-P publishes every exposed port on a free host port of the range; curl reaches it', () => {
    web('w3', '--network', 'acnm', '--expose', '80', '--expose', '8125/udp', '-P')
    const [lo, hi] = h.in('cat', ['/proc/sys/net/ipv4/ip_local_port_range']).stdout.trim().split(/\s+/u).map(Number)
    const ports = cnmPorts()
    expect(ports.map((p) => `${p.proto}/${p.containerPort}`).sort()).toEqual(['tcp/80', 'udp/8125'])
    for (const p of ports) {
      expect(p).toMatchObject({ containerIP: ipOf('w3', 'acnm'), hostIP: '0.0.0.0' })
      expect(p.hostPort).toBeGreaterThanOrEqual(lo ?? 0)
      expect(p.hostPort).toBeLessThanOrEqual(hi ?? 0)
    }
    const tcp = ports.find((p) => p.proto === 'tcp')?.hostPort
    expect(get(`http://${HOST_IP}:${tcp}/`)).toBe(HELLO)
    expect(listening()).toMatch(new RegExp(`0\\.0\\.0\\.0:${tcp}\\b`, 'u'))
    // dockerd 20.10 reads a container's ports only from its built-in drivers (EndpointOperInfo's
    // answer is not typed for a remote one): `docker port` lists nothing, `cnm port ls` does.
    expect(h.docker('port', 'w3')).toBe('')
    h.docker('rm', '-f', 'w3')
    expect(cnmPorts()).toEqual([])
  }, 300_000)

  it("default IPAM: Docker's own, and cnm's automatic pools, without --subnet", () => {
    // Docker's default IPAM (no --ipam-driver): dockerd picks the pool and the addresses, cnm takes them.
    const dflt = h.docker('network', 'create', '-d', 'cnm', 'dflt')
    const dSubnet = h.inspect<{ IPAM: { Config: { Subnet: string }[] } }>('network', 'inspect', 'dflt').IPAM.Config[0]
      ?.Subnet
    expect(dSubnet).toMatch(/^(172|192\.168)\./u)
    expect(cnmNetwork(dflt)?.subnet).toBe(dSubnet)
    // cnm's IPAM without --subnet: the first automatic pool that nothing uses (not dflt's).
    const auto = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', 'auto1')
    const aSubnet = cnmNetwork(auto)?.subnet
    expect(aSubnet).toMatch(/^(172|192\.168)\./u)
    expect(aSubnet).not.toBe(dSubnet)
    expect(h.inspect<{ IPAM: { Config: { Subnet: string }[] } }>('network', 'inspect', 'auto1').IPAM.Config).toEqual([
      expect.objectContaining({ Subnet: aSubnet }),
    ])
    web('w4', '--network', 'dflt', '-p', '8092:80')
    web('w5', '--network', 'auto1', '-p', '8093:80')
    expect(cnmNetwork(dflt)?.endpoints.map((e) => e.ipv4)).toEqual([ipOf('w4', 'dflt')])
    expect(cnmNetwork(auto)?.endpoints.map((e) => e.ipv4)).toEqual([ipOf('w5', 'auto1')])
    expect(get(`http://${HOST_IP}:8092/`)).toBe(HELLO)
    expect(get(`http://${HOST_IP}:8093/`)).toBe(HELLO)
    h.docker('rm', '-f', 'w4', 'w5')
    h.docker('network', 'rm', 'dflt', 'auto1')
    expect(cnmNetwork(dflt)).toBeUndefined()
    expect(cnmNetwork(auto)).toBeUndefined()
  }, 300_000)

  it('publishes on host_binding_ipv4 when -p names no host address', () => {
    const hb = h.docker(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--subnet',
      '10.87.0.0/24',
      '-o',
      'com.docker.network.bridge.host_binding_ipv4=127.0.0.1',
      'hb',
    )
    web('w8', '--network', 'hb', '-p', '8094:80', '-p', `${HOST_IP}:8095:80`)
    const mine = cnmPorts().filter((p) => p.network === `docker-${hb}`)
    expect(mine.map((p) => `${p.hostIP}:${p.hostPort}`).sort()).toEqual(['127.0.0.1:8094', `${HOST_IP}:8095`])
    expect(get('http://127.0.0.1:8094/')).toBe(HELLO)
    expect(get(`http://${HOST_IP}:8094/`)).toBe('') // not on every address: only the binding's
    expect(get(`http://${HOST_IP}:8095/`)).toBe(HELLO) // a host address of its own is kept
    expect(listening()).toMatch(/127\.0\.0\.1:8094\b/u)
    h.docker('rm', '-f', 'w8')
    h.docker('network', 'rm', 'hb')
  }, 300_000)

  it('keeps IPAM reservations across a restart of cnm: an address dockerd holds is not handed out again', async () => {
    // dockerd's first step of a container's start, as dockerd sends it: an address of acnm's pool.
    const held = plugin<{ Address: string }>('IpamDriver.RequestAddress', { PoolID: '10.88.0.0/24', Address: '' })
    const heldIP = held.Address.split('/')[0] ?? ''
    expect(heldIP).toMatch(/^10\.88\.0\.\d+$/u)
    h.docker('run', '-d', '--name', 'r1', '--network', 'acnm', IMAGE, 'sleep', '100000')
    await h.stopCnm('SIGKILL')
    await h.startCnm('debug')
    h.docker('run', '-d', '--name', 'r2', '--network', 'acnm', IMAGE, 'sleep', '100000')
    const used = [ipOf('r1', 'acnm'), ipOf('r2', 'acnm')]
    expect(new Set(used).size).toBe(2)
    expect(used).not.toContain(heldIP)
    expect(
      plugin<{ Error?: string }>('IpamDriver.RequestAddress', { PoolID: '10.88.0.0/24', Address: heldIP }).Error,
    ).toContain(`address ${heldIP} of pool 10.88.0.0/24 is in use`)
    // Given back: it is free again.
    expect(plugin('IpamDriver.ReleaseAddress', { PoolID: '10.88.0.0/24', Address: held.Address })).toEqual({})
    expect(plugin('IpamDriver.RequestAddress', { PoolID: '10.88.0.0/24', Address: heldIP })).toEqual({
      Address: held.Address,
      Data: {},
    })
    expect(plugin('IpamDriver.ReleaseAddress', { PoolID: '10.88.0.0/24', Address: held.Address })).toEqual({})
    h.docker('rm', '-f', 'r1', 'r2')
  }, 300_000)

  it("resolves --network-alias and connect --alias through Docker's embedded DNS; they never reach cnm's endpoints", () => {
    web('w9', '--network', 'acnm', '--network-alias', 'web-alias')
    h.docker('run', '-d', '--name', 'c9', '--network', 'acnm', IMAGE, 'sleep', '100000')
    h.docker('run', '-d', '--name', 'c10', '--network', 'zdock', IMAGE, 'sleep', '100000')
    h.docker('network', 'connect', '--alias', 'db-alias', 'acnm', 'c10')
    expect(h.docker('exec', 'c9', 'cat', '/etc/resolv.conf')).toContain('nameserver 127.0.0.11')
    const lookup = (name: string): string => h.docker('exec', 'c9', 'nslookup', name)
    expect(lookup('web-alias')).toContain(`Address: ${ipOf('w9', 'acnm')}`)
    expect(lookup('db-alias')).toContain(`Address: ${ipOf('c10', 'acnm')}`)
    expect(h.dockerResult('exec', 'c9', 'ping', '-c', '1', '-W', '3', 'web-alias').status).toBe(0)
    expect(h.dockerResult('exec', 'c9', 'timeout', '10', 'wget', '-q', '-O', '-', 'http://web-alias/').stdout).toBe(
      HELLO,
    )
    // dockerd keeps aliases in libnetwork (its DNS answers for them): none reaches cnm's endpoints.
    const eps = h.cnmJSON<{ name: string; endpoints: { ipv4: string; aliases: string[] }[] }[]>('network', 'ls')
    const mine = eps.find((n) => n.name === `docker-${acnm}`)?.endpoints ?? []
    expect(mine.map((e) => e.ipv4).sort()).toEqual(['w9', 'c9', 'c10'].map((c) => ipOf(c, 'acnm')).sort())
    expect(mine.flatMap((e) => e.aliases ?? [])).toEqual([])
    h.docker('rm', '-f', 'w9', 'c9', 'c10')
  }, 300_000)
})
