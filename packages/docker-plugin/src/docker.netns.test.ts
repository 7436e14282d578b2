import { describeKernel } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { CNM_SOCK, DockerHost, HELLO, HOST_IP, IMAGE, waitFor } from './test/docker-host.js'

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
describeKernel('Docker remote network + IPAM plugin: dockerd drives cnm', () => {
  let h: DockerHost
  const ruleset = (): string => h.in('nft', ['-j', 'list', 'ruleset']).stdout
  const pythonBind = (port: number): string =>
    h
      .in('python3', [
        '-c',
        'import socket,sys\ns=socket.socket()\ntry:\n  s.bind(("0.0.0.0",int(sys.argv[1]))); print("bound")\nexcept OSError as e:\n  print(e.strerror)',
        String(port),
      ])
      .stdout.trim()
  const wget = (ctr: string, url: string): string =>
    // busybox's own `timeout` (its `wget -T` crashes in Debian's busybox-static)
    h.dockerResult('exec', ctr, 'timeout', '10', 'wget', '-q', '-O', '-', url).stdout
  const pings = (ctr: string, ip: string): boolean =>
    h.dockerResult('exec', ctr, 'ping', '-c', '1', '-W', '3', ip).status === 0

  let n1: string
  let n2: string

  beforeAll(async () => {
    h = await DockerHost.start()
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
    const net = h.cnmNetwork(n1)
    expect(net).toMatchObject({ device: `br-${n1.slice(0, 12)}`, subnet: '10.77.0.0/24', gateway: '10.77.0.1' })
    const bridge = h.ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(
      'addr',
      'show',
      'dev',
      `br-${n1.slice(0, 12)}`,
    )
    expect(bridge[0]?.addr_info).toContainEqual(expect.objectContaining({ local: '10.77.0.1', prefixlen: 24 }))
    // No cnm DNS server on its gateway: Docker's containers ask Docker's own (127.0.0.11).
    expect(h.listening()).not.toMatch(/10\.77\.0\.1:53\b/u)

    h.docker('run', '-d', '--name', 'c1', '--network', 'n1', IMAGE, 'sleep', '100000')
    h.docker('run', '-d', '--name', 'c2', '--network', 'n1', IMAGE, 'sleep', '100000')
    const [a1, a2] = [h.ipOf('c1', 'n1'), h.ipOf('c2', 'n1')]
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
    const cnm = (h.cnmNetwork(n1)?.endpoints ?? []).map((e) => `${e.ipv4}/24 ${e.macAddress}`).sort()
    expect(docker).toEqual(cnm)
    expect(cnm).toHaveLength(2)
  })

  it('publishes -p 8080:80: HTTP answers on the host address, 127.0.0.1 and by hairpin; cnm port ls lists it; the port is held', () => {
    h.web('web', '--network', 'n1', '-p', '8080:80')
    const webIP = h.ipOf('web', 'n1')
    expect(h.get(`http://${HOST_IP}:8080/`)).toBe(HELLO)
    expect(h.get('http://127.0.0.1:8080/')).toBe(HELLO)
    expect(wget('c1', `http://${HOST_IP}:8080/`)).toBe(HELLO)
    expect(wget('web', `http://${HOST_IP}:8080/`)).toBe(HELLO) // to itself, through the host
    const ports = h.cnmPorts()
    expect(ports).toContainEqual(
      expect.objectContaining({
        network: `docker-${n1}`,
        containerIP: webIP,
        containerPort: 80,
        hostPort: 8080,
        proto: 'tcp',
      }),
    )
    expect(h.listening()).toMatch(/0\.0\.0\.0:8080\b/u)
    expect(pythonBind(8080)).toBe('Address already in use')

    // Any free host port (`-p 80`, what -P asks for) and a host address (`-p 127.0.0.1:8081:80`).
    h.web('web3', '--network', 'n1', '-p', '80', '-p', '127.0.0.1:8081:80')
    const web3 = h.cnmPorts().filter((p) => p.containerIP === h.ipOf('web3', 'n1'))
    expect(web3.map((p) => p.hostIP).sort()).toEqual(['0.0.0.0', '127.0.0.1'])
    const any = web3.find((p) => p.hostIP === '0.0.0.0')?.hostPort ?? 0
    expect(any).toBeGreaterThan(1023)
    expect(h.get(`http://${HOST_IP}:${any}/`)).toBe(HELLO)
    expect(h.get('http://127.0.0.1:8081/')).toBe(HELLO)
    expect(h.get(`http://${HOST_IP}:8081/`)).toBe('') // bound to 127.0.0.1 only
    h.docker('rm', '-f', 'web3')
    expect(h.cnmPorts()).toHaveLength(1)

    // A second container asking for the same port is refused, and nothing of it stays behind.
    const before = h.links().sort()
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
    expect(h.links().sort()).toEqual(before)
    expect(h.cnmNetwork(n1)?.endpoints).toHaveLength(3)
  })

  it('connects a running container to a second cnm network and disconnects it again', () => {
    n2 = h.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.78.0.0/24', 'n2')
    h.docker('network', 'connect', 'n2', 'c1')
    const a = h.ipOf('c1', 'n2')
    expect(a).toMatch(/^10\.78\.0\.\d+$/u)
    expect(h.docker('exec', 'c1', 'ip', '-o', 'addr')).toContain(`inet ${a}/24`)
    expect(pings('c1', '10.78.0.1')).toBe(true)
    expect(h.cnmNetwork(n2)?.endpoints.map((e) => e.ipv4)).toEqual([a])
    h.docker('network', 'disconnect', 'n2', 'c1')
    expect(h.cnmNetwork(n2)?.endpoints).toEqual([])
    expect(h.docker('exec', 'c1', 'ip', '-o', 'addr')).not.toContain('10.78.0.')
    // Connected again at once: the same address, as Docker's IPAM gives it back.
    h.docker('network', 'connect', 'n2', 'c1')
    expect(h.ipOf('c1', 'n2')).toBe(a)
    expect(pings('c1', '10.78.0.1')).toBe(true)
    h.docker('network', 'disconnect', 'n2', 'c1')
    expect(h.cnmNetwork(n2)?.endpoints).toEqual([])
    // Still on n1, still published.
    expect(pings('c1', h.ipOf('c2', 'n1'))).toBe(true)
  })

  it('survives a SIGKILL of the cnm daemon: traffic flows, the port stays held, later removals clean up', async () => {
    await h.stopCnm('SIGKILL')
    expect(h.get('http://127.0.0.1:8080/')).toBe(HELLO) // the kernel's rules stay
    await h.startCnm()
    expect(pings('c1', h.ipOf('c2', 'n1'))).toBe(true)
    expect(h.get(`http://${HOST_IP}:8080/`)).toBe(HELLO)
    expect(pythonBind(8080)).toBe('Address already in use')
    expect(h.cnmPorts()).toHaveLength(1)
    // cnm's reconcile sees Docker's endpoints as its own, alive (their veths are in the containers).
    const report = h.cnmJSON<{ droppedEndpoints: string[]; removedLinks: string[]; errors: string[] }>('reconcile')
    expect(report).toMatchObject({ droppedEndpoints: [], removedLinks: [], errors: [] })
    expect(h.cnmNetwork(n1)?.endpoints).toHaveLength(3)
    // A new container after the restart gets a free address (the plugin asks cnm's network).
    h.docker('run', '-d', '--name', 'c3', '--network', 'n1', IMAGE, 'sleep', '100000')
    const used = ['c1', 'c2', 'web'].map((c) => h.ipOf(c, 'n1'))
    expect(used).not.toContain(h.ipOf('c3', 'n1'))
    h.docker('rm', '-f', 'web', 'c3')
    expect(h.cnmPorts()).toEqual([])
    expect(h.listening()).not.toMatch(/:8080\b/u)
    expect(pythonBind(8080)).toBe('bound')
    expect(h.cnmNetwork(n1)?.endpoints).toHaveLength(2)
  })

  it('survives a restart of dockerd: its containers stop (cnm removes their endpoints) and start again on cnm', async () => {
    await h.stopDockerd()
    expect(h.cnmNetwork(n1)?.endpoints).toEqual([]) // dockerd deleted them on its way down
    await h.startDockerd()
    h.docker('start', 'c1', 'c2')
    expect(h.cnmNetwork(n1)?.endpoints).toHaveLength(2)
    expect(pings('c1', h.ipOf('c2', 'n1'))).toBe(true)
  }, 180_000)

  it('runs ten containers at once: distinct addresses, and all of them clean up', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `p${i}`)
    const runs = await Promise.all(
      names.map((n) => h.dockerAsync('run', '-d', '--name', n, '--network', 'n1', IMAGE, 'sleep', '100000')),
    )
    expect(runs.filter((r) => r.status !== 0).map((r) => r.stderr)).toEqual([])
    const addrs = names.map((n) => h.ipOf(n, 'n1'))
    expect(new Set(addrs).size).toBe(10)
    expect(
      h
        .cnmNetwork(n1)
        ?.endpoints.map((e) => e.ipv4)
        .sort(),
    ).toEqual([...addrs, h.ipOf('c1', 'n1'), h.ipOf('c2', 'n1')].sort())
    const removed = await Promise.all(names.map((n) => h.dockerAsync('rm', '-f', n)))
    expect(removed.filter((r) => r.status !== 0).map((r) => r.stderr)).toEqual([])
    expect(h.cnmNetwork(n1)?.endpoints).toHaveLength(2)
  }, 180_000)

  it('honours -o bridge.name, driver.mtu and container_iface_prefix, --internal and --ipv6', () => {
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
      '-o',
      'com.docker.network.container_iface_prefix=cnmif',
      'n3',
    )
    expect(h.cnmNetwork(n3)).toMatchObject({ device: 'cnmdk3', subnet: '10.80.0.0/24', gateway: '10.80.0.1' })
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
      'ip -o link show cnmif0; ip -o addr; ip route; ip -6 route',
    )
    expect(inside).toMatch(/cnmif0.* mtu 1400 /u) // the interface named as the network says
    expect(inside).toMatch(/inet 10\.80\.0\.\d+\/24/u)
    expect(inside).toMatch(/inet6 fd00:80::[0-9a-f:]+\/64/u)
    expect(inside).not.toContain('default via') // internal: no way out
    h.docker('network', 'rm', 'n3')
    expect(h.links()).not.toContain('cnmdk3')
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
      expect(h.cnmNetwork(ok)?.subnet).toBe('10.79.0.0/24')
      h.docker('network', 'rm', 'ok3')
      expect(h.cnmNetwork(ok)).toBeUndefined()
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
    expect(h.links().sort()).toEqual(['cnmt-up0', 'cnmt-up1', 'lo'])
    const addrs = h
      .ipJson<{ addr_info: { local: string }[] }[]>('addr', 'show')
      .flatMap((l) => l.addr_info.map((a) => a.local))
    expect(addrs.filter((a) => a.startsWith('10.7'))).toEqual([])
    const rules = ruleset()
    for (const gone of [`br-${n1.slice(0, 12)}`, `br-${n2.slice(0, 12)}`, '10.77.0.', '10.78.0.', '8080']) {
      expect(rules).not.toContain(gone)
    }
    expect(h.listening()).not.toMatch(/:8080\b/u)
  })
})
