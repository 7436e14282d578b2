import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { parseIpam, type SandboxInfo } from '@cnm/driverapi'
import { describeDriver } from '@cnm/driverapi/testing'
import {
  describeKernel,
  ipJson,
  pings,
  request,
  run,
  snapshotNetns,
  startServer,
  type TestServer,
  uniqueName,
  useHostNetns,
} from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type BridgeDriver, createBridgeDriver } from './driver.js'
import type { BridgeNetworkRecord } from './records.js'

const id = (): string => randomBytes(32).toString('hex')

interface Box {
  sb: Sandbox
  eid: string
  info: SandboxInfo
}

/**
 * Counts the packets to `daddr`:`dport` (TCP) that arrive from an interface, in a table of the
 * test's own (ahead of every other prerouting hook), read back with `nft -j`.
 */
function arrivalCounter(daddr: string, dport: number): { packets(): number; remove(): void } {
  const table = uniqueName('probe')
  run('nft', ['-f', '-'], {
    input: `table ip ${table} {\n  chain pre {\n    type filter hook prerouting priority -400; policy accept;\n    ip daddr ${daddr} tcp dport ${dport} counter\n  }\n}\n`,
  })
  return {
    packets() {
      const items = (JSON.parse(run('nft', ['-j', 'list', 'table', 'ip', table]).stdout) as { nftables: unknown[] })
        .nftables
      const rule = items.find((i): i is { rule: { expr: Record<string, { packets?: number }>[] } } =>
        Object.hasOwn(i as object, 'rule'),
      )
      return rule?.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0
    },
    remove: () => void run('nft', ['delete', 'table', 'ip', table]),
  }
}

describeKernel('bridge driver (kernel)', () => {
  const host = useHostNetns()
  let driver: BridgeDriver
  let inet: string
  const uplink = uniqueName('up')

  beforeAll(async () => {
    // A namespace playing "the internet", reachable from the host through an uplink. It has no
    // route back to any container subnet: only masqueraded traffic can be answered.
    inet = host.netnsPath('inet')
    const { createNetns } = await import('@cnm/netlink')
    await createNetns(inet)
    run('ip', ['link', 'add', uplink, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', inet])
    run('ip', ['addr', 'add', '198.51.100.1/24', 'dev', uplink])
    run('ip', ['link', 'set', uplink, 'up'])
    run('ip', ['addr', 'add', '198.51.100.2/24', 'dev', 'eth0'], { netns: inet })
    run('ip', ['link', 'set', 'eth0', 'up'], { netns: inet })
    run('ip', ['link', 'set', 'lo', 'up'], { netns: inet })
    driver = createBridgeDriver()
    await driver.config({ firewallBackend: 'nftables' })
  })

  afterAll(async () => {
    await driver?.close()
    const { deleteNetns } = await import('@cnm/netlink')
    if (inet) deleteNetns(inet)
  })

  async function attach(nid: string, opts: unknown = {}): Promise<Box> {
    const sb = await newSandbox(host.netnsPath('sb'))
    const eid = id()
    const info = await driver.createEndpoint(nid, eid, sb.key, opts)
    for (const i of info.interfaces) await sb.addInterface(i)
    if (info.gateway) await sb.setGateway(info.gateway)
    if (info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
    return { sb, eid, info }
  }

  async function detach(nid: string, box: Box): Promise<void> {
    await driver.deleteEndpoint(nid, box.eid)
    await box.sb.destroy()
  }

  const ipv4 = (box: Box): string => (box.info.interfaces[0]?.address ?? '').split('/')[0] ?? ''
  const ipv6 = (box: Box): string => (box.info.interfaces[0]?.addressIPv6 ?? '').split('/')[0] ?? ''

  it("keeps the seed's behaviours: election around routes, fixed CIDR, adoption, forwarding when asked", async () => {
    run('ip', ['route', 'add', '172.17.0.0/16', 'via', '198.51.100.9'])
    const elected = id()
    try {
      await driver.createNetwork(elected, { enableIPForwarding: false })
      expect(driver.network(elected)?.subnetV4).toBe('172.18.0.0/16')
      expect(run('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim()).toBe('0')
    } finally {
      run('ip', ['route', 'del', '172.17.0.0/16', 'via', '198.51.100.9'])
    }
    const fixed = id()
    await driver.createNetwork(fixed, { addressIPv4: '192.168.1.1/16', fixedCIDR: '192.168.2.0/24' })
    expect(run('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim()).toBe('1')
    const box = await attach(fixed)
    expect(ipv4(box)).toBe('192.168.2.1')
    await detach(fixed, box)
    await driver.deleteNetwork(fixed)
    await driver.deleteNetwork(elected)

    const br = uniqueName('br')
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['addr', 'add', '10.55.0.1/24', 'dev', br])
    try {
      await expect(driver.createNetwork(id(), { bridgeName: br, addressIPv4: '10.56.0.1/24' })).rejects.toMatchObject({
        code: 'ERR_INVALID_CONFIG',
        message: expect.stringContaining('10.55.0.1/24'),
      })
      const adopted = id()
      await driver.createNetwork(adopted, { bridgeName: br })
      expect(driver.network(adopted)?.subnetV4).toBe('10.55.0.0/24')
      await driver.deleteNetwork(adopted)
      expect(ipJson<unknown[]>(['link', 'show', br])).toHaveLength(1) // not ours to delete
    } finally {
      run('ip', ['link', 'del', br])
    }
    // A name that does not exist yet is created, as Docker's com.docker.network.bridge.name is
    // (no allowNonDefaultBridge needed), and deleted with its network.
    const named = uniqueName('nd')
    const nid = id()
    await driver.createNetwork(nid, { bridgeName: named })
    expect(ipJson<{ ifname: string; linkinfo?: { info_kind: string } }[]>(['-d', 'link', 'show', named])).toEqual([
      expect.objectContaining({ ifname: named, linkinfo: expect.objectContaining({ info_kind: 'bridge' }) }),
    ])
    await driver.deleteNetwork(nid)
    expect(ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)).not.toContain(named)
  })

  it('two sandboxes on one network reach each other, their gateway and, masqueraded, the internet', async () => {
    const nid = id()
    await driver.createNetwork(nid, {})
    const net = driver.network(nid)
    expect(net).toMatchObject({
      subnetV4: '172.17.0.0/16',
      gatewayV4: '172.17.0.1',
      bridgeName: `br-${nid.slice(0, 12)}`,
    })
    expect(run('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim()).toBe('1')
    const [a, b] = [await attach(nid), await attach(nid)]
    try {
      expect(ipv4(a)).toBe('172.17.0.2')
      expect(ipv4(b)).toBe('172.17.0.3')
      expect(a.info.interfaces[0]?.macAddress).toBe('02:42:ac:11:00:02')
      expect(a.info.gateway).toBe('172.17.0.1')
      const bridge = ipJson<{ addr_info: { local: string }[] }[]>(['addr', 'show', net?.bridgeName ?? ''])
      expect(bridge[0]?.addr_info.map((x) => x.local)).toContain('172.17.0.1')
      expect(pings(ipv4(b), a.sb.key)).toBe(true)
      expect(pings('172.17.0.1', b.sb.key)).toBe(true)
      expect(pings('198.51.100.2', a.sb.key)).toBe(true)
      const server = await startServer(7000, 'internet', inet)
      try {
        expect(request('tcp', '198.51.100.2', 7000, { netns: a.sb.key })).toBe('internet 198.51.100.1')
      } finally {
        server.stop()
      }
    } finally {
      await detach(nid, a)
      await detach(nid, b)
      await driver.deleteNetwork(nid)
    }
    expect(run('ip', ['link', 'show', `br-${nid.slice(0, 12)}`], { check: false }).status).not.toBe(0)
  })

  it('a published port answers from the host, localhost, another sandbox, another machine and by hairpin', async () => {
    const nid = id()
    await driver.createNetwork(nid, {})
    const web = await attach(nid, {
      portBindings: [
        { proto: 'tcp', containerPort: 80, hostPort: 18080 },
        { proto: 'udp', containerPort: 80, hostPort: 18081 },
      ],
    })
    const other = await attach(nid)
    let server: TestServer | undefined
    try {
      server = await startServer(80, 'web', web.sb.key)
      const reply = (from?: string, hostIP = '198.51.100.1'): string | undefined =>
        request('tcp', hostIP, 18080, from ? { netns: from } : {})
      expect(reply()).toMatch(/^web /u)
      expect(reply(undefined, '127.0.0.1')).toMatch(/^web /u)
      expect(reply(other.sb.key)).toMatch(/^web /u)
      expect(reply(inet)).toBe('web 198.51.100.2')
      expect(reply(web.sb.key)).toMatch(/^web /u) // hairpin
      expect(request('udp', '198.51.100.1', 18081, { netns: inet })).toBe('web 198.51.100.2')
    } finally {
      server?.stop()
      await detach(nid, web)
      await detach(nid, other)
    }
    // Unpublished: the same request now reaches a host process on that port (a DNAT left behind
    // would send it to the gone container, and nothing would answer).
    const onHost = await startServer(18080, 'host')
    try {
      expect(request('tcp', '198.51.100.1', 18080, { netns: inet })).toBe('host 198.51.100.2')
    } finally {
      onHost.stop()
    }
    await driver.deleteNetwork(nid)
  })

  it.each(['nftables', 'iptables'] as const)(
    "a container cannot reach the host's loopback services through route_localnet (CVE-2020-8558), %s",
    async (backend) => {
      const main = driver
      driver = createBridgeDriver()
      await driver.config({ firewallBackend: backend })
      const nid = id()
      await driver.createNetwork(nid, {})
      const box = await attach(nid, { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18099 }] })
      const hostOnly = await startServer(18098, 'host-loopback') // the host's service, on every local address
      try {
        // The container re-routes 127.0.0.2 to its gateway (what a process with CAP_NET_ADMIN, or raw
        // sockets, can do): the host has route_localnet=1 on the bridge for published ports.
        run('ip', ['route', 'del', 'local', '127.0.0.0/8', 'dev', 'lo', 'table', 'local'], { netns: box.sb.key })
        run('sysctl', ['-qw', 'net.ipv4.conf.eth0.route_localnet=1'], { netns: box.sb.key })
        run('ip', ['route', 'add', '127.0.0.2/32', 'via', box.info.gateway ?? '', 'dev', 'eth0'], { netns: box.sb.key })
        const arrived = arrivalCounter('127.0.0.2', 18098)
        try {
          expect(request('tcp', '127.0.0.2', 18098, { netns: box.sb.key, timeoutMs: 700 })).toBeUndefined()
          // Controls: the container's SYNs did reach the host (so the guard, not the route, stopped
          // them); the same request answers on the host itself, and from the container through its
          // gateway's address.
          expect(arrived.packets()).toBeGreaterThan(0)
          expect(request('tcp', '127.0.0.2', 18098)).toMatch(/^host-loopback /u)
          expect(request('tcp', box.info.gateway ?? '', 18098, { netns: box.sb.key })).toMatch(/^host-loopback /u)
        } finally {
          arrived.remove()
        }
      } finally {
        hostOnly.stop()
        await detach(nid, box)
        await driver.deleteNetwork(nid)
        await driver.close()
        driver = main
      }
    },
  )

  it('with ICC off sandboxes cannot reach each other; two networks cannot reach each other', async () => {
    const [n1, n2] = [id(), id()]
    await driver.createNetwork(n1, { enableICC: false })
    await driver.createNetwork(n2, {})
    const boxes = [await attach(n1), await attach(n1), await attach(n2)]
    const [a, b, c] = boxes as [Box, Box, Box]
    try {
      expect(pings(ipv4(b), a.sb.key)).toBe(false)
      expect(pings('198.51.100.2', a.sb.key)).toBe(true)
      expect(pings(ipv4(c), a.sb.key)).toBe(false)
      expect(pings(ipv4(a), c.sb.key)).toBe(false)
      expect(pings(driver.network(n2)?.gatewayV4 ?? '', c.sb.key)).toBe(true)
      // Controls: every target answers the same ping from the host, and every source reaches the
      // outside: the pings above were stopped by the firewall, not by a target that was down.
      for (const box of boxes) expect(pings(ipv4(box))).toBe(true)
      for (const box of [b, c]) expect(pings('198.51.100.2', box.sb.key)).toBe(true)
    } finally {
      await detach(n1, a)
      await detach(n1, b)
      await detach(n2, c)
      await driver.deleteNetwork(n1)
      await driver.deleteNetwork(n2)
    }
  })

  it('an internal network keeps traffic inside; IPv6 works end to end', async () => {
    const [internal, v6] = [id(), id()]
    await driver.createNetwork(internal, { internal: true })
    await driver.createNetwork(v6, { enableIPv6: true, fixedCIDRv6: 'fd99:1::/64' })
    const [i1, i2] = [await attach(internal), await attach(internal)]
    const [s1, s2] = [await attach(v6), await attach(v6)]
    try {
      expect(i1.info.gateway).toBeUndefined()
      expect(pings(ipv4(i2), i1.sb.key)).toBe(true)
      expect(pings('198.51.100.2', i1.sb.key)).toBe(false)
      // Controls: the same ping from a sandbox of a network that is not internal is answered, and the
      // host reaches i1 (it is up; only its way out is closed).
      expect(pings('198.51.100.2', s1.sb.key)).toBe(true)
      expect(pings(ipv4(i1))).toBe(true)
      expect(ipv6(s1)).toBe('fd99:1::2')
      expect(s1.info.gatewayIPv6).toBe('fd99:1::1')
      expect(pings(ipv6(s2), s1.sb.key)).toBe(true)
      expect(pings('fd99:1::1', s2.sb.key)).toBe(true)
    } finally {
      for (const [n, box] of [
        [internal, i1],
        [internal, i2],
        [v6, s1],
        [v6, s2],
      ] as const)
        await detach(n, box)
      await driver.deleteNetwork(internal)
      await driver.deleteNetwork(v6)
    }
  })

  it('refuses bad configuration before anything changes', async () => {
    const before = ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
    const taken = id()
    await driver.createNetwork(taken, { addressIPv4: '10.60.0.1/16' })
    for (const bad of [
      { addressIPv4: '10.60.5.1/24' },
      { addressIPv4: '10.0.0.300/24' },
      { bridgeName: 'b'.repeat(16) },
      { mtu: 70000 },
      { fixedCIDR: '10.61.0.0/24', addressIPv4: '10.62.0.1/24' },
    ]) {
      await expect(driver.createNetwork(id(), bad)).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG' })
    }
    await driver.deleteNetwork(taken)
    expect(ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)).toEqual(before)
  })

  it('refuses a subnet no network can use, and an address outside its subnet, before anything changes', async () => {
    const before = snapshotNetns()
    for (const [bad, subnet] of [
      [{ addressIPv4: '0.0.0.1/0' }, '0.0.0.0/0'],
      [{ addressIPv4: '127.0.0.1/8' }, '127.0.0.0/8'],
      [{ addressIPv4: '169.254.0.1/16' }, '169.254.0.0/16'],
      [{ addressIPv4: '224.0.0.1/4' }, '224.0.0.0/4'],
      [{ addressIPv4: '240.0.0.1/24' }, '240.0.0.0/24'],
      [{ enableIPv6: true, fixedCIDRv6: '::/0' }, '::/0'],
      [{ enableIPv6: true, fixedCIDRv6: 'ff02::/64' }, 'ff02::/64'],
      [{ enableIPv6: true, fixedCIDRv6: 'fe80::/64' }, 'fe80::/64'],
    ] as const) {
      await expect(driver.createNetwork(id(), bad)).rejects.toMatchObject({
        code: 'ERR_INVALID_CONFIG',
        kind: 'invalid',
        message: expect.stringContaining(`subnet ${subnet} overlaps`),
      })
    }
    expect(snapshotNetns()).toEqual(before)
    // A preferred address outside the network's subnet: refused, nothing made on either side.
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.63.0.1/24' })
    const sb = await newSandbox(host.netnsPath('sb'))
    try {
      const withNetwork = snapshotNetns()
      await expect(driver.createEndpoint(nid, id(), sb.key, { ipv4Address: '10.64.0.5' })).rejects.toMatchObject({
        code: 'ERR_IP_OUT_OF_RANGE',
        kind: 'invalid',
        message: expect.stringContaining('10.64.0.5'),
      })
      expect(snapshotNetns()).toEqual(withNetwork)
      expect(ipJson<{ ifname: string }[]>(['link', 'show'], { netns: sb.key }).map((l) => l.ifname)).toEqual(['lo'])
      // The control: inside the subnet, the same request works.
      const eid = id()
      const info = await driver.createEndpoint(nid, eid, sb.key, { ipv4Address: '10.63.0.5' })
      expect(info.interfaces[0]?.address).toBe('10.63.0.5/24')
      await driver.deleteEndpoint(nid, eid)
    } finally {
      await sb.destroy()
      await driver.deleteNetwork(nid)
    }
  })

  it('gives an adopted bridge back the sysctls it had, on delete and after a restart', async () => {
    const br = uniqueName('br')
    const sysctl = (key: string): string => run('cat', [`/proc/sys/net/${key}`]).stdout.trim()
    const set = (key: string, value: string): void => writeFileSync(`/proc/sys/net/${key}`, value)
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['addr', 'add', '10.57.0.1/24', 'dev', br])
    try {
      for (const [prior, restart] of [
        ['1', false],
        ['0', true],
      ] as const) {
        // someone else's bridge, IPv6 off, route_localnet as they set it
        set(`ipv6/conf/${br}/disable_ipv6`, '1')
        set(`ipv4/conf/${br}/route_localnet`, prior)
        const nid = id()
        await driver.createNetwork(nid, { bridgeName: br, enableIPv6: true, fixedCIDRv6: 'fd00:57::/64' })
        expect(sysctl(`ipv6/conf/${br}/disable_ipv6`)).toBe('0')
        expect(sysctl(`ipv4/conf/${br}/route_localnet`)).toBe('1')
        if (restart) {
          // a new driver restores the record (the values it sees now are cnm's) and deletes it
          const record = driver.persistence.exportNetwork(nid)
          expect(JSON.parse(JSON.stringify(record))).toEqual(record)
          await driver.close()
          driver = createBridgeDriver()
          await driver.config({ firewallBackend: 'nftables' })
          expect(await driver.persistence.restoreNetwork(nid, record)).toBe('restored')
        }
        await driver.deleteNetwork(nid)
        expect(ipJson<unknown[]>(['link', 'show', br])).toHaveLength(1)
        expect(sysctl(`ipv6/conf/${br}/disable_ipv6`)).toBe('1')
        expect(sysctl(`ipv4/conf/${br}/route_localnet`)).toBe(prior)
      }
    } finally {
      run('ip', ['link', 'del', br])
    }
  })

  it('restores a recorded network and endpoint in a new driver, and rebuilds a bridge deleted behind its back', async () => {
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.90.0.1/24' })
    const web = await attach(nid, { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18090 }] })
    const server = await startServer(80, 'web', web.sb.key)
    const netRecord = driver.persistence.exportNetwork(nid)
    const epRecord = driver.persistence.exportEndpoint(nid, web.eid)
    expect(JSON.parse(JSON.stringify(epRecord))).toEqual(epRecord)
    const second = createBridgeDriver()
    await second.config({ firewallBackend: 'nftables' })
    try {
      // The first driver goes away (a restart): the kernel keeps everything.
      const firstBackup = driver
      await firstBackup.close()
      expect(await second.persistence.restoreNetwork(nid, netRecord)).toBe('restored')
      expect(await second.persistence.restoreEndpoint(nid, web.eid, epRecord)).toBe('restored')
      expect(request('tcp', '198.51.100.1', 18090, { netns: inet })).toBe('web 198.51.100.2')
      await expect(second.createEndpoint(nid, id(), '', { ipv4Address: '10.90.0.2' })).rejects.toMatchObject({
        code: 'ERR_IP_ALREADY_ALLOCATED',
      })
      server.stop()
      await second.deleteEndpoint(nid, web.eid)
      await web.sb.destroy()
      const again = second.persistence.exportNetwork(nid) as BridgeNetworkRecord
      await second.close()
      run('ip', ['link', 'del', again.bridgeName])
      const third = createBridgeDriver()
      await third.config({ firewallBackend: 'nftables' })
      expect(await third.persistence.restoreNetwork(nid, again)).toBe('rebuilt')
      expect(third.network(nid)).toMatchObject({ subnetV4: '10.90.0.0/24', gatewayV4: '10.90.0.1' })
      await third.deleteNetwork(nid)
      await third.close()
    } finally {
      driver = createBridgeDriver()
      await driver.config({ firewallBackend: 'nftables' })
    }
  })

  let conformanceNet = 0
  describeDriver('bridge', {
    create: async () => {
      // its own owner: the strays check must not take the other tests' links for its own
      const d = createBridgeDriver({ owner: 'conformance' })
      await d.config({ firewallBackend: 'iptables' })
      return d
    },
    networkOptions: () => ({ addressIPv4: `10.${70 + conformanceNet++}.0.1/24` }),
    invalidNetworkOptions: [{ addressIPv4: 'nope' }, { mtu: 1 }, { enableICC: 'yes' }, { bridgeName: 'x/y' }],
    invalidNetworkIpam: [
      parseIpam({ v4: [{ subnet: '127.0.0.0/24' }] }),
      parseIpam({ v4: [{ subnet: '10.69.0.0/31' }] }),
      parseIpam({ v6: [{ subnet: 'fd69::/64', gateway: 'fd69::2' }] }),
    ],
    sandboxKey: async () => (await newSandbox(host.netnsPath('cf'))).key,
    releaseSandboxKey: async (key) => {
      const { openSandbox } = await import('@cnm/sandbox')
      await (await openSandbox(key)).destroy()
    },
    dispose: async (d) => (d as BridgeDriver).close(),
  })
})
