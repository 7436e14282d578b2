import { describeKernel } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DockerHost, HELLO, HOST_IP, IMAGE, PLUGIN_SOCK } from './test/docker-host.js'

// dockerd 20.10 as the client of `cnm serve --docker-plugin`, in a throwaway network + mount
// namespace (see test/docker-host.ts): published ports follow the container's way out
// (Program/RevokeExternalConnectivity) between a cnm network and Docker's own bridge driver, `-P`,
// Docker's default IPAM and cnm's automatic pools, IPAM reservations across a restart of cnm, and
// network aliases through Docker's embedded DNS. Checked with curl, `ip`, `ss`, nslookup and ping.

describeKernel('Docker plugin: ports follow the way out, -P, default IPAM, reservations, aliases', () => {
  let h: DockerHost
  const route = (ctr: string): string => h.docker('exec', ctr, 'ip', 'route')
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
    h = await DockerHost.start('debug')
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
    h.web('w1', '--network', 'zdock', '-p', '8090:80')
    expect(h.cnmPorts()).toEqual([])
    // Connected to acnm: the way out moves there (Revoke on Docker's bridge, Program on cnm).
    h.docker('network', 'connect', 'acnm', 'w1')
    expect(route('w1')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(h.cnmPorts()).toMatchObject([
      { network: `docker-${acnm}`, containerIP: h.ipOf('w1', 'acnm'), containerPort: 80, hostPort: 8090, proto: 'tcp' },
    ])
    expect(h.get(`http://${HOST_IP}:8090/`)).toBe(HELLO)
    expect(h.get('http://127.0.0.1:8090/')).toBe(HELLO)
    // Disconnected from acnm while on zdock: no longer refused; cnm lets go of the port (Docker's
    // bridge takes it back: dockerd's own listener holds 8090 now, with no rules: --iptables=false).
    h.docker('network', 'disconnect', 'acnm', 'w1')
    expect(route('w1')).toMatch(/^default via 10\.89\.0\.1 /mu)
    expect(h.cnmPorts()).toEqual([])
    expect(h.cnmNetwork(acnm)?.endpoints).toEqual([])
    expect(h.get(`http://${HOST_IP}:8090/`)).toBe('')

    // cnm first: the way out stays on acnm when zdock is connected, leaves with its disconnect and
    // comes back with a new connect (a new endpoint, a new address: the port follows it).
    h.web('w2', '--network', 'acnm', '-p', '8091:80')
    expect(h.get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    h.docker('network', 'connect', 'zdock', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(h.cnmPorts()).toMatchObject([{ containerIP: h.ipOf('w2', 'acnm'), hostPort: 8091 }])
    expect(h.get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    h.docker('network', 'disconnect', 'acnm', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.89\.0\.1 /mu)
    expect(h.cnmPorts()).toEqual([])
    h.docker('network', 'connect', 'acnm', 'w2')
    expect(route('w2')).toMatch(/^default via 10\.88\.0\.1 /mu)
    expect(h.cnmPorts()).toMatchObject([{ containerIP: h.ipOf('w2', 'acnm'), hostPort: 8091 }])
    expect(h.get(`http://${HOST_IP}:8091/`)).toBe(HELLO)
    expect(h.get('http://127.0.0.1:8091/')).toBe(HELLO)

    h.docker('rm', '-f', 'w1', 'w2')
    expect(h.cnmPorts()).toEqual([])
    expect(h.listening()).not.toMatch(/:809[01]\b/u)
    expect(h.in('nft', ['list', 'ruleset']).stdout).not.toMatch(/\b809[01]\b/u)
  }, 300_000)

  it('-P publishes every exposed port on a free host port of the range; curl reaches it', () => {
    h.web('w3', '--network', 'acnm', '--expose', '80', '--expose', '8125/udp', '-P')
    const [lo, hi] = h.in('cat', ['/proc/sys/net/ipv4/ip_local_port_range']).stdout.trim().split(/\s+/u).map(Number)
    const ports = h.cnmPorts()
    expect(ports.map((p) => `${p.proto}/${p.containerPort}`).sort()).toEqual(['tcp/80', 'udp/8125'])
    for (const p of ports) {
      expect(p).toMatchObject({ containerIP: h.ipOf('w3', 'acnm'), hostIP: '0.0.0.0' })
      expect(p.hostPort).toBeGreaterThanOrEqual(lo ?? 0)
      expect(p.hostPort).toBeLessThanOrEqual(hi ?? 0)
    }
    const tcp = ports.find((p) => p.proto === 'tcp')?.hostPort
    expect(h.get(`http://${HOST_IP}:${tcp}/`)).toBe(HELLO)
    expect(h.listening()).toMatch(new RegExp(`0\\.0\\.0\\.0:${tcp}\\b`, 'u'))
    // dockerd 20.10 reads a container's ports only from its built-in drivers (EndpointOperInfo's
    // answer is not typed for a remote one): `docker port` lists nothing, `cnm port ls` does.
    expect(h.docker('port', 'w3')).toBe('')
    h.docker('rm', '-f', 'w3')
    expect(h.cnmPorts()).toEqual([])
  }, 300_000)

  it("default IPAM: Docker's own, and cnm's automatic pools, without --subnet", () => {
    // Docker's default IPAM (no --ipam-driver): dockerd picks the pool and the addresses, cnm takes them.
    const dflt = h.docker('network', 'create', '-d', 'cnm', 'dflt')
    const dSubnet = h.inspect<{ IPAM: { Config: { Subnet: string }[] } }>('network', 'inspect', 'dflt').IPAM.Config[0]
      ?.Subnet
    expect(dSubnet).toMatch(/^(172|192\.168)\./u)
    expect(h.cnmNetwork(dflt)?.subnet).toBe(dSubnet)
    // cnm's IPAM without --subnet: the first automatic pool that nothing uses (not dflt's).
    const auto = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', 'auto1')
    const aSubnet = h.cnmNetwork(auto)?.subnet
    expect(aSubnet).toMatch(/^(172|192\.168)\./u)
    expect(aSubnet).not.toBe(dSubnet)
    expect(h.inspect<{ IPAM: { Config: { Subnet: string }[] } }>('network', 'inspect', 'auto1').IPAM.Config).toEqual([
      expect.objectContaining({ Subnet: aSubnet }),
    ])
    h.web('w4', '--network', 'dflt', '-p', '8092:80')
    h.web('w5', '--network', 'auto1', '-p', '8093:80')
    expect(h.cnmNetwork(dflt)?.endpoints.map((e) => e.ipv4)).toEqual([h.ipOf('w4', 'dflt')])
    expect(h.cnmNetwork(auto)?.endpoints.map((e) => e.ipv4)).toEqual([h.ipOf('w5', 'auto1')])
    expect(h.get(`http://${HOST_IP}:8092/`)).toBe(HELLO)
    expect(h.get(`http://${HOST_IP}:8093/`)).toBe(HELLO)
    h.docker('rm', '-f', 'w4', 'w5')
    h.docker('network', 'rm', 'dflt', 'auto1')
    expect(h.cnmNetwork(dflt)).toBeUndefined()
    expect(h.cnmNetwork(auto)).toBeUndefined()
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
    h.web('w8', '--network', 'hb', '-p', '8094:80', '-p', `${HOST_IP}:8095:80`)
    const mine = h.cnmPorts().filter((p) => p.network === `docker-${hb}`)
    expect(mine.map((p) => `${p.hostIP}:${p.hostPort}`).sort()).toEqual(['127.0.0.1:8094', `${HOST_IP}:8095`])
    expect(h.get('http://127.0.0.1:8094/')).toBe(HELLO)
    expect(h.get(`http://${HOST_IP}:8094/`)).toBe('') // not on every address: only the binding's
    expect(h.get(`http://${HOST_IP}:8095/`)).toBe(HELLO) // a host address of its own is kept
    expect(h.listening()).toMatch(/127\.0\.0\.1:8094\b/u)
    h.docker('rm', '-f', 'w8')
    h.docker('network', 'rm', 'hb')
  }, 300_000)

  it("an IPv4-only network takes -p [::]:… beside -p 0.0.0.0:… (publishes on IPv4 only, as Docker's bridge with its proxy off)", () => {
    const v4 = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.86.0.0/24', 'v4only')
    h.web('w9', '--network', 'v4only', '-p', '0.0.0.0:8096:80', '-p', '[::]:8096:80', '-p', '[::]:8097:80')
    const mine = h.cnmPorts().filter((p) => p.network === `docker-${v4}`)
    expect(mine.map((p) => `${p.hostIP}:${p.hostPort}`)).toEqual(['0.0.0.0:8096'])
    expect(h.get('http://127.0.0.1:8096/')).toBe(HELLO)
    expect(h.get(`http://${HOST_IP}:8096/`)).toBe(HELLO)
    h.docker('rm', '-f', 'w9')
    h.docker('network', 'rm', 'v4only')
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
    const used = [h.ipOf('r1', 'acnm'), h.ipOf('r2', 'acnm')]
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
    h.web('w9', '--network', 'acnm', '--network-alias', 'web-alias')
    h.docker('run', '-d', '--name', 'c9', '--network', 'acnm', IMAGE, 'sleep', '100000')
    h.docker('run', '-d', '--name', 'c10', '--network', 'zdock', IMAGE, 'sleep', '100000')
    h.docker('network', 'connect', '--alias', 'db-alias', 'acnm', 'c10')
    expect(h.docker('exec', 'c9', 'cat', '/etc/resolv.conf')).toContain('nameserver 127.0.0.11')
    const lookup = (name: string): string => h.docker('exec', 'c9', 'nslookup', name)
    expect(lookup('web-alias')).toContain(`Address: ${h.ipOf('w9', 'acnm')}`)
    expect(lookup('db-alias')).toContain(`Address: ${h.ipOf('c10', 'acnm')}`)
    expect(h.dockerResult('exec', 'c9', 'ping', '-c', '1', '-W', '3', 'web-alias').status).toBe(0)
    expect(h.dockerResult('exec', 'c9', 'timeout', '10', 'wget', '-q', '-O', '-', 'http://web-alias/').stdout).toBe(
      HELLO,
    )
    // dockerd keeps aliases in libnetwork (its DNS answers for them): none reaches cnm's endpoints.
    const eps = h.cnmJSON<{ name: string; endpoints: { ipv4: string; aliases: string[] }[] }[]>('network', 'ls')
    const mine = eps.find((n) => n.name === `docker-${acnm}`)?.endpoints ?? []
    expect(mine.map((e) => e.ipv4).sort()).toEqual(['w9', 'c9', 'c10'].map((c) => h.ipOf(c, 'acnm')).sort())
    expect(mine.flatMap((e) => e.aliases ?? [])).toEqual([])
    h.docker('rm', '-f', 'w9', 'c9', 'c10')
  }, 300_000)
})
