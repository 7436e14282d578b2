import { describeKernel } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CNM_SOCK, DockerHost, IMAGE, missingTools, waitFor } from './test/docker-host.js'

// dockerd 20.10 (Debian's docker.io) as the client of `cnm serve --docker-plugin`, both in a
// throwaway network + mount namespace (see test/docker-host.ts). What the kernel holds is read with
// `ip -j`, `nft -j`, `ss`; traffic is `ping`, busybox `wget` and `curl`; the held port is tried with
// Python's bind.

interface NetworkInspectJSON {
  Id: string
  Driver: string
  IPAM: { Driver: string; Config: { Subnet: string; Gateway: string }[] }
  Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }>
}
interface CnmNetwork {
  id: string
  name: string
  device: string
  subnet: string
  gateway: string
  endpoints: { name: string; ipv4: string; macAddress: string }[]
}
interface CnmPort {
  network: string
  endpoint: string
  containerIP: string
  containerPort: number
  hostIP: string
  hostPort: number
  proto: string
}

const HOST_IP = '198.51.100.1' // the "host's own address", on a veth of the test's namespace

describeKernel('Docker remote network + IPAM plugin: dockerd drives cnm', () => {
  const missing = missingTools()
  let h: DockerHost
  const ipOf = (ctr: string, net: string): string =>
    h.docker('inspect', '--format', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, ctr)
  const cnmNetwork = (dockerId: string): CnmNetwork | undefined =>
    h.cnmJSON<CnmNetwork[]>('network', 'ls').find((n) => n.name === `docker-${dockerId}`)
  const links = (): string[] => h.ipJson<{ ifname: string }[]>('link', 'show').map((l) => l.ifname)
  const ruleset = (): string => h.in('nft', ['-j', 'list', 'ruleset']).stdout
  const listening = (): string => h.in('ss', ['-Hltnu']).stdout
  const pythonBind = (port: number): string =>
    h
      .in('python3', [
        '-c',
        'import socket,sys\ns=socket.socket()\ntry:\n  s.bind(("0.0.0.0",int(sys.argv[1]))); print("bound")\nexcept OSError as e:\n  print(e.strerror)',
        String(port),
      ])
      .stdout.trim()
  const get = (url: string): string => h.in('curl', ['-sS', '-m', '5', url], { check: false }).stdout
  const wget = (ctr: string, url: string): string =>
    // busybox's own `timeout` (its `wget -T` crashes in Debian's busybox-static)
    h.dockerResult('exec', ctr, 'timeout', '10', 'wget', '-q', '-O', '-', url).stdout
  const pings = (ctr: string, ip: string): boolean =>
    h.dockerResult('exec', ctr, 'ping', '-c', '1', '-W', '3', ip).status === 0

  let n1: string
  let n2: string

  beforeAll(async () => {
    if (missing) throw new Error(`this test needs ${missing}`)
    h = await DockerHost.create()
    // The namespace's own "uplink", whose address plays the host's.
    h.in('ip', ['link', 'add', 'cnmt-up0', 'type', 'veth', 'peer', 'name', 'cnmt-up1'])
    h.in('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', 'cnmt-up0'])
    for (const l of ['cnmt-up0', 'cnmt-up1']) h.in('ip', ['link', 'set', l, 'up'])
    await h.startCnm()
    await h.startDockerd()
    h.importImage()
  }, 180_000)

  afterAll(async () => {
    await h?.close()
  }, 180_000)

  it('creates a network through the plugin: cnm makes the bridge, gives the gateway and the containers their addresses', () => {
    n1 = h.docker(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--subnet',
      '10.77.0.0/24',
      '--gateway',
      '10.77.0.1',
      'n1',
    )
    const net = cnmNetwork(n1)
    expect(net).toMatchObject({ device: `br-${n1.slice(0, 12)}`, subnet: '10.77.0.0/24', gateway: '10.77.0.1' })
    const bridge = h.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(
      'addr',
      'show',
      'dev',
      `br-${n1.slice(0, 12)}`,
    )
    expect(bridge[0]?.addr_info).toContainEqual(expect.objectContaining({ local: '10.77.0.1', prefixlen: 24 }))

    h.docker('run', '-d', '--name', 'c1', '--network', 'n1', IMAGE, 'sleep', '100000')
    h.docker('run', '-d', '--name', 'c2', '--network', 'n1', IMAGE, 'sleep', '100000')
    const [a1, a2] = [ipOf('c1', 'n1'), ipOf('c2', 'n1')]
    expect(new Set([a1, a2]).size).toBe(2)
    expect(pings('c1', a2)).toBe(true)
    expect(pings('c2', a1)).toBe(true)
    // Its gateway is the bridge: the default route inside the container goes there.
    expect(h.docker('exec', 'c1', 'ip', 'route')).toContain('default via 10.77.0.1 dev eth0')

    // What Docker shows is what cnm gave: same addresses, same MACs.
    const inspect = h.inspect<NetworkInspectJSON>('network', 'inspect', 'n1')
    expect(inspect.IPAM).toMatchObject({ Driver: 'cnm', Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1' }] })
    const docker = Object.values(inspect.Containers)
      .map((c) => `${c.IPv4Address} ${c.MacAddress}`)
      .sort()
    const cnm = (cnmNetwork(n1)?.endpoints ?? []).map((e) => `${e.ipv4}/24 ${e.macAddress}`).sort()
    expect(docker).toEqual(cnm)
    expect(cnm).toHaveLength(2)
  })

  it('publishes -p 8080:80: HTTP answers on the host address, 127.0.0.1 and by hairpin; cnm port ls lists it; the port is held', () => {
    h.docker(
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'n1',
      '-p',
      '8080:80',
      IMAGE,
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    )
    const webIP = ipOf('web', 'n1')
    expect(get(`http://${HOST_IP}:8080/`)).toBe('hello from cnm\n')
    expect(get('http://127.0.0.1:8080/')).toBe('hello from cnm\n')
    expect(wget('c1', `http://${HOST_IP}:8080/`)).toBe('hello from cnm\n')
    expect(wget('web', `http://${HOST_IP}:8080/`)).toBe('hello from cnm\n') // to itself, through the host
    const ports = h.cnmJSON<CnmPort[]>('port', 'ls')
    expect(ports).toContainEqual(
      expect.objectContaining({
        network: `docker-${n1}`,
        containerIP: webIP,
        containerPort: 80,
        hostPort: 8080,
        proto: 'tcp',
      }),
    )
    expect(listening()).toMatch(/0\.0\.0\.0:8080\b/u)
    expect(pythonBind(8080)).toBe('Address already in use')

    // Any free host port (`-p 80`, what -P asks for) and a host address (`-p 127.0.0.1:8081:80`).
    h.docker(
      'run',
      '-d',
      '--name',
      'web3',
      '--network',
      'n1',
      '-p',
      '80',
      '-p',
      '127.0.0.1:8081:80',
      IMAGE,
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    )
    const web3 = h.cnmJSON<CnmPort[]>('port', 'ls').filter((p) => p.containerIP === ipOf('web3', 'n1'))
    expect(web3.map((p) => p.hostIP).sort()).toEqual(['0.0.0.0', '127.0.0.1'])
    const any = web3.find((p) => p.hostIP === '0.0.0.0')?.hostPort ?? 0
    expect(any).toBeGreaterThan(1023)
    expect(get(`http://${HOST_IP}:${any}/`)).toBe('hello from cnm\n')
    expect(get('http://127.0.0.1:8081/')).toBe('hello from cnm\n')
    expect(get(`http://${HOST_IP}:8081/`)).toBe('') // bound to 127.0.0.1 only
    h.docker('rm', '-f', 'web3')
    expect(h.cnmJSON<CnmPort[]>('port', 'ls')).toHaveLength(1)

    // A second container asking for the same port is refused, and nothing of it stays behind.
    const before = links().sort()
    const again = h.dockerResult(
      'run',
      '-d',
      '--name',
      'web2',
      '--network',
      'n1',
      '-p',
      '8080:80',
      IMAGE,
      'sleep',
      '1000',
    )
    expect(again.status).not.toBe(0)
    expect(again.stderr).toMatch(/8080/u)
    h.dockerResult('rm', '-f', 'web2')
    expect(links().sort()).toEqual(before)
    expect(cnmNetwork(n1)?.endpoints).toHaveLength(3)
  })

  it('connects a running container to a second cnm network and disconnects it again', () => {
    n2 = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.78.0.0/24', 'n2')
    h.docker('network', 'connect', 'n2', 'c1')
    const a = ipOf('c1', 'n2')
    expect(a).toMatch(/^10\.78\.0\.\d+$/u)
    expect(h.docker('exec', 'c1', 'ip', '-o', 'addr')).toContain(`inet ${a}/24`)
    expect(pings('c1', '10.78.0.1')).toBe(true)
    expect(cnmNetwork(n2)?.endpoints.map((e) => e.ipv4)).toEqual([a])
    h.docker('network', 'disconnect', 'n2', 'c1')
    expect(cnmNetwork(n2)?.endpoints).toEqual([])
    expect(h.docker('exec', 'c1', 'ip', '-o', 'addr')).not.toContain('10.78.0.')
    // Still on n1, still published.
    expect(pings('c1', ipOf('c2', 'n1'))).toBe(true)
  })

  it('survives a SIGKILL of the cnm daemon: traffic flows, the port stays held, later removals clean up', async () => {
    await h.stopCnm('SIGKILL')
    expect(get('http://127.0.0.1:8080/')).toBe('hello from cnm\n') // the kernel's rules stay
    await h.startCnm()
    expect(pings('c1', ipOf('c2', 'n1'))).toBe(true)
    expect(get(`http://${HOST_IP}:8080/`)).toBe('hello from cnm\n')
    expect(pythonBind(8080)).toBe('Address already in use')
    expect(h.cnmJSON<CnmPort[]>('port', 'ls')).toHaveLength(1)
    // cnm's reconcile sees Docker's endpoints as its own, alive (their veths are in the containers).
    const report = h.cnmJSON<{ droppedEndpoints: string[]; removedLinks: string[]; errors: string[] }>('reconcile')
    expect(report).toMatchObject({ droppedEndpoints: [], removedLinks: [], errors: [] })
    expect(cnmNetwork(n1)?.endpoints).toHaveLength(3)
    // A new container after the restart gets a free address (the plugin asks cnm's network).
    h.docker('run', '-d', '--name', 'c3', '--network', 'n1', IMAGE, 'sleep', '100000')
    const used = ['c1', 'c2', 'web'].map((c) => ipOf(c, 'n1'))
    expect(used).not.toContain(ipOf('c3', 'n1'))
    h.docker('rm', '-f', 'web', 'c3')
    expect(h.cnmJSON<CnmPort[]>('port', 'ls')).toEqual([])
    expect(listening()).not.toMatch(/:8080\b/u)
    expect(pythonBind(8080)).toBe('bound')
    expect(cnmNetwork(n1)?.endpoints).toHaveLength(2)
  })

  it('survives a restart of dockerd: its containers stop (cnm removes their endpoints) and start again on cnm', async () => {
    await h.stopDockerd()
    expect(cnmNetwork(n1)?.endpoints).toEqual([]) // dockerd deleted them on its way down
    await h.startDockerd()
    h.docker('start', 'c1', 'c2')
    expect(cnmNetwork(n1)?.endpoints).toHaveLength(2)
    expect(pings('c1', ipOf('c2', 'n1'))).toBe(true)
  }, 180_000)

  it('runs ten containers at once: distinct addresses, and all of them clean up', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `p${i}`)
    const runs = await Promise.all(
      names.map((n) => h.dockerAsync('run', '-d', '--name', n, '--network', 'n1', IMAGE, 'sleep', '100000')),
    )
    expect(runs.filter((r) => r.status !== 0).map((r) => r.stderr)).toEqual([])
    const addrs = names.map((n) => ipOf(n, 'n1'))
    expect(new Set(addrs).size).toBe(10)
    expect(
      cnmNetwork(n1)
        ?.endpoints.map((e) => e.ipv4)
        .sort(),
    ).toEqual([...addrs, ipOf('c1', 'n1'), ipOf('c2', 'n1')].sort())
    const removed = await Promise.all(names.map((n) => h.dockerAsync('rm', '-f', n)))
    expect(removed.filter((r) => r.status !== 0).map((r) => r.stderr)).toEqual([])
    expect(cnmNetwork(n1)?.endpoints).toHaveLength(2)
  }, 180_000)

  it('honours -o bridge.name and driver.mtu, --internal and --ipv6', () => {
    const n3 = h.docker(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--internal',
      '--ipv6',
      '--subnet',
      '10.80.0.0/24',
      '--subnet',
      'fd00:80::/64',
      '-o',
      'com.docker.network.bridge.name=cnmdk3',
      '-o',
      'com.docker.network.driver.mtu=1400',
      'n3',
    )
    expect(cnmNetwork(n3)).toMatchObject({ device: 'cnmdk3', subnet: '10.80.0.0/24', gateway: '10.80.0.1' })
    const bridge = h.ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show', 'dev', 'cnmdk3')
    expect(bridge[0]?.addr_info.map((a) => a.local)).toEqual(expect.arrayContaining(['10.80.0.1', 'fd00:80::1']))
    const inside = h.docker(
      'run',
      '--rm',
      '--network',
      'n3',
      IMAGE,
      'sh',
      '-c',
      'ip -o link show eth0; ip -o addr; ip route; ip -6 route',
    )
    expect(inside).toMatch(/eth0.* mtu 1400 /u)
    expect(inside).toMatch(/inet 10\.80\.0\.\d+\/24/u)
    expect(inside).toMatch(/inet6 fd00:80::[0-9a-f:]+\/64/u)
    expect(inside).not.toContain('default via') // internal: no way out
    h.docker('network', 'rm', 'n3')
    expect(links()).not.toContain('cnmdk3')
  })

  it('refuses what cnm cannot honour with a message naming it, and leaves nothing', async () => {
    const bad = h.dockerResult(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--subnet',
      '10.79.0.0/24',
      '-o',
      'com.docker.network.bridge.default_bridge=true',
      'bad',
    )
    expect(bad.status).not.toBe(0)
    expect(bad.stderr).toContain('option com.docker.network.bridge.default_bridge is not supported by cnm')
    // The pool was given back: the same subnet works at once.
    const overlapping = h.dockerResult(
      'network',
      'create',
      '-d',
      'cnm',
      '--ipam-driver',
      'cnm',
      '--subnet',
      '10.77.0.0/16',
      'bad2',
    )
    expect(overlapping.stderr).toContain('overlaps 10.77.0.0/24')
    // …and what Docker makes and removes is announced as cnm's own events (`cnm events`).
    const events = h.stream('curl', ['-svN', '--unix-socket', CNM_SOCK, 'http://cnm/v1/events'])
    try {
      await waitFor(
        // subscribed once the answer's headers came (curl -v prints them on stderr)
        () => events.text().includes('< HTTP/1.1 200'),
        () => `the event stream: ${events.text()}`,
      )
      const ok = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.79.0.0/24', 'ok3')
      expect(cnmNetwork(ok)?.subnet).toBe('10.79.0.0/24')
      h.docker('network', 'rm', 'ok3')
      expect(cnmNetwork(ok)).toBeUndefined()
      await waitFor(
        () => events.text().includes('"action":"delete"'),
        () => `the delete event: ${events.text()}`,
      )
      const seen = events
        .text()
        .split('\n')
        .filter((l) => l.startsWith('{"'))
        .map((l) => JSON.parse(l) as { type: string; action: string; name: string })
        .map((e) => `${e.type} ${e.action} ${e.name}`)
      expect(seen).toEqual([`network create docker-${ok}`, `network delete docker-${ok}`])
    } finally {
      await events.stop()
    }
  })

  it('docker rm -f and docker network rm leave no link, address, rule or held port', () => {
    h.docker('rm', '-f', 'c1', 'c2')
    h.docker('network', 'rm', 'n1', 'n2')
    expect(h.cnmJSON<unknown[]>('network', 'ls')).toEqual([])
    expect(links().sort()).toEqual(['cnmt-up0', 'cnmt-up1', 'lo'])
    const addrs = h
      .ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show')
      .flatMap((l) => l.addr_info.map((a) => a.local))
    expect(addrs.filter((a) => a.startsWith('10.7'))).toEqual([])
    const rules = ruleset()
    for (const gone of [`br-${n1.slice(0, 12)}`, `br-${n2.slice(0, 12)}`, '10.77.0.', '10.78.0.', '8080']) {
      expect(rules).not.toContain(gone)
    }
    expect(listening()).not.toMatch(/:8080\b/u)
  })
})
