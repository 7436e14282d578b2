import { randomBytes } from 'node:crypto'
import { parseIpam, type SandboxInfo } from '@cnm/driverapi'
import { deleteNetns } from '@cnm/netlink'
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
import { newSandbox, type Sandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type BridgeDriver, createBridgeDriver } from './driver.js'
import { createUplink } from './uplink.test-util.js'

const id = (): string => randomBytes(32).toString('hex')

interface Box {
  sb: Sandbox
  eid: string
  info: SandboxInfo
}

/** Two subnets per family on one bridge: the first a /30 (one host), the second with a range and an aux address. */
const IPAM = {
  v4: [
    { subnet: '10.141.0.0/30' },
    {
      subnet: '10.142.0.0/24',
      gateway: '10.142.0.254',
      ipRange: '10.142.0.0/25',
      auxAddresses: { router: '10.142.0.1' },
    },
  ],
  v6: [{ subnet: 'fd41::/64' }, { subnet: 'fd42::/64' }],
}

/** A few tries (a first packet may wait on neighbour discovery on a loaded machine). */
function eventually(check: () => boolean, tries = 3): boolean {
  for (let i = 0; i < tries; i++) if (check()) return true
  return false
}

/** `curl` (HTTP/0.9: the test server answers one line) from a namespace; the body, or undefined. */
function curl(url: string, netns?: string): string | undefined {
  const res = run('curl', ['--http0.9', '-sS', '--max-time', '4', url], { check: false, ...(netns ? { netns } : {}) })
  return res.status === 0 ? res.stdout.trim() : undefined
}

function bridgeAddresses(bridge: string): string[] {
  const out = ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(['addr', 'show', 'dev', bridge])
  return (out[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)
}

function defaultRoute(netns: string, family: 4 | 6): string | undefined {
  const routes = ipJson<{ dst: string; gateway?: string }[]>([`-${family}`, 'route', 'show', 'default'], { netns })
  return routes[0]?.gateway
}

describeKernel('several subnets per family on one bridge network (kernel)', () => {
  const host = useHostNetns()
  let inet: string
  const uplink = uniqueName('up')

  beforeAll(async () => {
    // "The internet": no route back to any container subnet, so only masqueraded traffic is answered.
    ;({ inet } = await createUplink(host, 'inet', uplink, '2001:db8:141'))
  })

  afterAll(async () => {
    if (inet) deleteNetns(inet)
  })

  describe.each(['nftables', 'iptables'] as const)('%s', (backend) => {
    let driver: BridgeDriver

    const newDriver = async (): Promise<BridgeDriver> => {
      const d = createBridgeDriver({ owner: `multi${backend.slice(0, 3)}` })
      await d.config({ firewallBackend: backend })
      return d
    }

    beforeAll(async () => {
      driver = await newDriver()
    })
    afterAll(async () => {
      await driver?.close()
    })

    async function attach(nid: string, opts: unknown = {}): Promise<Box> {
      const sb = await newSandbox(host.netnsPath('ms'))
      const eid = id()
      try {
        const info = await driver.createEndpoint(nid, eid, sb.key, opts)
        for (const i of info.interfaces) await sb.addInterface(i)
        if (info.gateway) await sb.setGateway(info.gateway)
        if (info.gatewayIPv6) await sb.setGatewayIPv6(info.gatewayIPv6)
        return { sb, eid, info }
      } catch (err) {
        await sb.destroy()
        throw err
      }
    }
    async function detach(nid: string, box: Box): Promise<void> {
      await driver.deleteEndpoint(nid, box.eid)
      await box.sb.destroy()
    }
    const ipv4 = (box: Box): string => (box.info.interfaces[0]?.address ?? '').split('/')[0] ?? ''

    it('holds every gateway, serves each subnet in turn, routes, masquerades, publishes and isolates per subnet', async () => {
      const nid = id()
      const other = id()
      await driver.createNetwork(nid, { enableIPv6: true }, parseIpam(IPAM))
      await driver.createNetwork(other, {}, parseIpam({ v4: [{ subnet: '10.143.0.0/24' }] }))
      const bridge = driver.network(nid)?.bridgeName ?? ''
      const boxes: [string, Box][] = []
      const servers: TestServer[] = []
      try {
        // The kernel holds all four gateways on the one bridge.
        expect(bridgeAddresses(bridge)).toEqual(
          expect.arrayContaining(['10.141.0.1/30', '10.142.0.254/24', 'fd41::1/64', 'fd42::1/64']),
        )
        expect(driver.networkInfo(nid)?.subnets).toEqual([
          { subnet: '10.141.0.0/30', gateway: '10.141.0.1' },
          { subnet: '10.142.0.0/24', gateway: '10.142.0.254' },
          { subnet: 'fd41::/64', gateway: 'fd41::1' },
          { subnet: 'fd42::/64', gateway: 'fd42::1' },
        ])
        // a: the first subnet's only host. b: the first is full, so the second's first free address
        // in its range (10.142.0.1 is an aux address); its IPv6 address asked for in the second subnet.
        const a = await attach(nid)
        boxes.push([nid, a])
        const b = await attach(nid, { ipv6Address: 'fd42::5' })
        boxes.push([nid, b])
        expect(a.info).toMatchObject({
          interfaces: [expect.objectContaining({ address: '10.141.0.2/30', addressIPv6: 'fd41::2/64' })],
          gateway: '10.141.0.1',
          gatewayIPv6: 'fd41::1',
        })
        expect(b.info).toMatchObject({
          interfaces: [expect.objectContaining({ address: '10.142.0.2/24', addressIPv6: 'fd42::5/64' })],
          gateway: '10.142.0.254',
          gatewayIPv6: 'fd42::1',
        })
        // The container's default routes are its own subnet's gateways, as the kernel holds them.
        expect([defaultRoute(a.sb.key, 4), defaultRoute(b.sb.key, 4), defaultRoute(b.sb.key, 6)]).toEqual([
          '10.141.0.1',
          '10.142.0.254',
          'fd42::1',
        ])
        // Every gateway answers from a container in each subnet; the two subnets reach each other.
        for (const box of [a, b]) {
          for (const gw of ['10.141.0.1', '10.142.0.254', 'fd41::1', 'fd42::1']) {
            expect([gw, eventually(() => pings(gw, box.sb.key))]).toEqual([gw, true])
          }
        }
        expect(eventually(() => pings('10.142.0.2', a.sb.key))).toBe(true)
        expect(eventually(() => pings('10.141.0.2', b.sb.key))).toBe(true)
        // An --ip in no subnet of the network: refused, typed, naming the network.
        await expect(driver.createEndpoint(nid, id(), '', { ipv4Address: '10.144.0.5' })).rejects.toMatchObject({
          code: 'ERR_IP_OUT_OF_RANGE',
          kind: 'invalid',
          message: expect.stringContaining(`network ${nid}`),
        })

        // Egress from each subnet, masqueraded: "the internet" sees the host's uplink address.
        const internet = await startServer(7000, 'internet', inet)
        servers.push(internet)
        for (const box of [a, b])
          expect(request('tcp', '198.51.100.2', 7000, { netns: box.sb.key })).toBe('internet 198.51.100.1')
        eventually(() => pings('2001:db8:141::2', b.sb.key)) // neighbour discovery warm-up
        expect(request('tcp', '2001:db8:141::2', 7000, { netns: b.sb.key })).toBe('internet 2001:db8:141::1')

        // A published port to an endpoint in the second subnet: from the uplink and by hairpin.
        const web = await attach(nid, {
          ipv4Address: '10.142.0.7',
          portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18141 }],
        })
        boxes.push([nid, web])
        expect(web.info.gateway).toBe('10.142.0.254')
        servers.push(await startServer(80, 'web', web.sb.key))
        expect(curl('http://198.51.100.1:18141/', inet)).toBe('web 198.51.100.2')
        expect(curl('http://198.51.100.1:18141/', web.sb.key)).toMatch(/^web /u) // hairpin
        expect(curl('http://198.51.100.1:18141/', a.sb.key)).toMatch(/^web /u) // from the first subnet

        // Isolation from another network holds for both subnets, both ways.
        const c = await attach(other)
        boxes.push([other, c])
        for (const box of [a, b]) {
          expect(pings(ipv4(c), box.sb.key)).toBe(false)
          expect(pings(ipv4(box), c.sb.key)).toBe(false)
        }
        // Controls: the host reaches every one of them, and c reaches the outside.
        for (const box of [a, b, c]) expect(eventually(() => pings(ipv4(box)))).toBe(true)
        expect(eventually(() => pings('198.51.100.2', c.sb.key))).toBe(true)
      } finally {
        for (const s of servers) s.stop()
        for (const [n, box] of boxes.reverse()) await detach(n, box)
        await driver.deleteNetwork(other)
        await driver.deleteNetwork(nid)
      }
      // Everything goes: the bridge and its addresses.
      expect(run('ip', ['link', 'show', bridge], { check: false }).status).not.toBe(0)
    })

    it('restores both subnets after a restart, and puts back a deleted second gateway and its masquerade', async () => {
      const nid = id()
      await driver.createNetwork(nid, { enableIPv6: true }, parseIpam(IPAM))
      const bridge = driver.network(nid)?.bridgeName ?? ''
      const a = await attach(nid)
      const b = await attach(nid)
      const internet = await startServer(7001, 'internet', inet)
      try {
        expect(ipv4(b)).toBe('10.142.0.2')
        const netRecord = JSON.parse(JSON.stringify(driver.persistence.exportNetwork(nid)))
        const epRecords = [a, b].map((box) =>
          JSON.parse(JSON.stringify(driver.persistence.exportEndpoint(nid, box.eid))),
        )
        await driver.close()
        driver = await newDriver()
        expect(await driver.persistence.restoreNetwork(nid, netRecord)).toBe('restored')
        for (const [i, box] of [a, b].entries()) {
          expect(await driver.persistence.restoreEndpoint(nid, box.eid, epRecords[i])).toBe('restored')
        }
        // Both pools came back with what they hold: b's address is taken, the next one is free.
        await expect(driver.createEndpoint(nid, id(), '', { ipv4Address: '10.142.0.2' })).rejects.toMatchObject({
          code: 'ERR_IP_ALREADY_ALLOCATED',
        })

        // Behind cnm's back: the second gateway address and the second subnet's masquerade go.
        await driver.close()
        run('ip', ['addr', 'del', '10.142.0.254/24', 'dev', bridge])
        if (backend === 'nftables') {
          run('nft', ['delete', 'element', 'inet', 'cnm', 'post4', '{ 10.142.0.0/24 }'])
        } else {
          run('iptables', [
            '-t',
            'nat',
            '-D',
            `CNM-POST-${bridge}`,
            '-s',
            '10.142.0.0/24',
            '!',
            '-o',
            bridge,
            '-j',
            'MASQUERADE',
          ])
        }
        expect(request('tcp', '198.51.100.2', 7001, { netns: b.sb.key, timeoutMs: 800 })).toBeUndefined()
        driver = await newDriver()
        expect(await driver.persistence.restoreNetwork(nid, netRecord)).toBe('rebuilt')
        for (const [i, box] of [a, b].entries()) {
          expect(await driver.persistence.restoreEndpoint(nid, box.eid, epRecords[i])).toBe('restored')
        }
        expect(bridgeAddresses(bridge)).toContain('10.142.0.254/24')
        if (backend === 'iptables') {
          expect(run('iptables-save', ['-t', 'nat']).stdout).toContain(
            `-A CNM-POST-${bridge} -s 10.142.0.0/24 ! -o ${bridge} -j MASQUERADE`,
          )
        }
        // The second subnet goes out again, masqueraded, through its gateway.
        expect(eventually(() => pings('10.142.0.254', b.sb.key))).toBe(true)
        expect(request('tcp', '198.51.100.2', 7001, { netns: b.sb.key })).toBe('internet 198.51.100.1')
        // A record of the repaired network says the address is cnm's: it goes with the network.
        expect(driver.persistence.exportNetwork(nid)).toMatchObject({ moreAdded: ['10.142.0.254/24', 'fd42::1/64'] })
      } finally {
        internet.stop()
        if (driver.network(nid)) {
          for (const box of [b, a]) await detach(nid, box)
          await driver.deleteNetwork(nid)
        } else {
          // A failed restore holds nothing: what the kernel has goes by hand (the test has failed already).
          for (const box of [b, a]) await box.sb.destroy()
          run('ip', ['link', 'del', bridge], { check: false })
        }
      }
    })
  })
})
