import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { parseIpam } from '@cnm/driverapi'
import { deleteNetns } from '@cnm/netlink'
import {
  describeKernel,
  ipJson,
  pings,
  request,
  startServer,
  type TestServer,
  uniqueName,
  useHostNetns,
} from '@cnm/netlink/testing'
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type BridgeDriver, createBridgeDriver } from './driver.js'
import { createUplink } from './uplink.test-util.js'

const id = (): string => randomBytes(32).toString('hex')

/**
 * `curl` (HTTP/0.9: the test server answers one line) from this namespace, without blocking this
 * process: the port's holding socket, which relays what DNAT cannot take, is in it. The body, or
 * curl's error.
 */
function curl(url: string): Promise<string> {
  return new Promise((resolve) => {
    execFile('curl', ['--http0.9', '-sS', '--max-time', '4', url], { encoding: 'utf8' }, (err, out, stderr) =>
      resolve(err ? `error: ${stderr.trim() || err.message}` : out.trim()),
    )
  })
}

describeKernel('publishing on both families (kernel)', () => {
  const host = useHostNetns()
  let driver: BridgeDriver
  let inet: string
  const uplink = uniqueName('up')

  beforeAll(async () => {
    // "Another machine": a namespace reachable over IPv4 and IPv6 through an uplink.
    ;({ inet } = await createUplink(host, 'inet6', uplink, '2001:db8:62'))
    driver = createBridgeDriver({ owner: 'pub6' })
    await driver.config({ firewallBackend: 'nftables' })
  })

  afterAll(async () => {
    await driver?.close()
    if (inet) deleteNetns(inet)
  })

  async function attach(nid: string, opts: unknown): Promise<{ sb: Sandbox; eid: string }> {
    const sb = await newSandbox(host.netnsPath('sb6'))
    const eid = id()
    const info = await driver.createEndpoint(nid, eid, sb.key, opts)
    for (const i of info.interfaces) await sb.addInterface(i)
    if (info.gateway) await sb.setGateway(info.gateway)
    if (info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
    return { sb, eid }
  }

  it('-p 8080:80 on a dual-stack network answers on the host IPv4 and IPv6 addresses; [::]:… and v6 hairpin too', async () => {
    const nid = id()
    await driver.createNetwork(nid, {
      addressIPv4: '10.62.0.1/24',
      enableIPv6: true,
      fixedCIDRv6: 'fd00:62::/64',
    })
    const web = await attach(nid, {
      portBindings: [
        { proto: 'tcp', containerPort: 80, hostPort: 18062 },
        { proto: 'tcp', containerPort: 80, hostIP: '::', hostPort: 18063 },
        { proto: 'udp', containerPort: 80, hostPort: 18064 },
      ],
    })
    const client = await attach(nid, {})
    let server: TestServer | undefined
    try {
      server = await startServer(80, 'web', web.sb.key)
      // Neighbour discovery warm-up: a first packet to a just-configured IPv6 address can wait on
      // an INCOMPLETE neighbour entry for a second (the kernel's retry), longer than a request's
      // timeout. One ping from each container to its gateway settles it (not what is tested here).
      for (const box of [web, client]) for (const gw of ['10.62.0.1', 'fd00:62::1']) pings(gw, box.sb.key)
      const ports = driver.endpointInfo(nid, web.eid).ports
      // One binding without an address: both families, the same host port.
      expect(
        ports
          .filter((p) => p.hostPort === 18062)
          .map((p) => p.hostIP)
          .sort(),
      ).toEqual(['0.0.0.0', '::'])
      expect(ports.find((p) => p.hostPort === 18063)).toMatchObject({
        hostIP: '::',
        containerIP: expect.stringMatching(/^fd00:62::/u),
      })
      expect(request('tcp', '198.51.100.1', 18062, { netns: inet })).toMatch(/^web /u)
      expect(request('tcp', '2001:db8:62::1', 18062, { netns: inet })).toMatch(/^web /u)
      expect(request('udp', '2001:db8:62::1', 18064, { netns: inet })).toMatch(/^web /u)
      expect(request('tcp', '2001:db8:62::1', 18063, { netns: inet })).toMatch(/^web /u)
      // [::]:18063 is IPv6 only: the IPv4 address does not answer on it (the IPv4 line above is the control).
      expect(request('tcp', '198.51.100.1', 18063, { netns: inet, timeoutMs: 800 })).toBeUndefined()
      // Hairpin over IPv6: another container on the network, through the host's address.
      expect(request('tcp', '2001:db8:62::1', 18062, { netns: client.sb.key })).toMatch(/^web /u)
      // IPv6 loopback: no DNAT can take it (no route from ::1 to a bridge); the socket that holds
      // the port relays it to the container, as Docker's proxy does. `localhost` tries [::1] first
      // and does not fall back to 127.0.0.1 after a reset, so a reset there broke `curl localhost`.
      expect(await curl('http://[::1]:18062/')).toMatch(/^web fd00:62::1$/u)
      expect(await curl('http://localhost:18062/')).toMatch(/^web /u)
      expect(await curl('http://[::1]:18063/')).toMatch(/^web /u)
      expect(await curl('http://127.0.0.1:18062/')).toMatch(/^web /u)
      // IPv6 loopback has no kernel path to a bridge: refused, typed, nothing published.
      await expect(
        driver.createEndpoint(nid, id(), '', {
          portBindings: [{ proto: 'tcp', containerPort: 80, hostIP: '::1', hostPort: 18065 }],
        }),
      ).rejects.toMatchObject({ code: 'ERR_NOT_SUPPORTED', kind: 'unsupported' })
    } finally {
      server?.stop()
      for (const box of [web, client]) {
        await driver.deleteEndpoint(nid, box.eid)
        await box.sb.destroy()
      }
      await driver.deleteNetwork(nid)
    }
  })
  it("takes the IPv6 gateway given (Docker's --gateway for IPv6): on the bridge, the containers' default route", async () => {
    const nid = id()
    await driver.createNetwork(
      nid,
      { enableIPv6: true },
      parseIpam({ v4: [{ subnet: '10.65.0.0/24' }], v6: [{ subnet: 'fd00:65::/64', gateway: 'fd00:65::fe' }] }),
    )
    const box = await attach(nid, {})
    try {
      expect(driver.network(nid)).toMatchObject({ subnetV6: 'fd00:65::/64', gatewayV6: 'fd00:65::fe' })
      const bridge = driver.network(nid)?.bridgeName ?? ''
      const onBridge = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>([
        '-6',
        'addr',
        'show',
        'dev',
        bridge,
      ]).flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`))
      expect(onBridge).toContain('fd00:65::fe/64')
      expect(onBridge).not.toContain('fd00:65::1/64')
      const routes = ipJson<{ dst: string; gateway?: string }[]>(['-6', 'route', 'show', 'default'], {
        netns: box.sb.key,
      })
      expect(routes).toEqual([expect.objectContaining({ gateway: 'fd00:65::fe' })])
      expect(pings('fd00:65::fe', box.sb.key)).toBe(true)
      expect(driver.endpointInfo(nid, box.eid).ipv6).toMatch(/^fd00:65:/u)
      expect(driver.endpointInfo(nid, box.eid).ipv6).not.toBe('fd00:65::fe')
    } finally {
      await driver.deleteEndpoint(nid, box.eid)
      await box.sb.destroy()
      await driver.deleteNetwork(nid)
    }
  })
})
