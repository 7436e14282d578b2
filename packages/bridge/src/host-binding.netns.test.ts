import { randomBytes } from 'node:crypto'
import { describeKernel, request, run, startServer, type TestServer, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox } from '@cnm/sandbox'
import { expect, it } from 'vitest'
import { createBridgeDriver } from './driver.js'

const id = (): string => randomBytes(32).toString('hex')

/** The elements of one of cnm's DNAT maps, as `nft -j` lists them (JSON text, for matching). */
function dnatElements(map: string): string {
  const out = JSON.parse(run('nft', ['-j', 'list', 'map', 'inet', 'cnm', map]).stdout) as {
    nftables: { map?: { elem?: unknown[] } }[]
  }
  return JSON.stringify(out.nftables.find((i) => i.map)?.map?.elem ?? [])
}

describeKernel('host_binding_ipv4: the default host address of published ports (kernel)', () => {
  const host = useHostNetns()

  it('-p 18071:80 on a network with host_binding_ipv4=127.0.0.1 is a DNAT of 127.0.0.1 only', async () => {
    const driver = createBridgeDriver({ owner: 'hostbind' })
    await driver.config({ firewallBackend: 'nftables' })
    // A host address that is not loopback: what a wildcard binding would also answer on.
    run('ip', ['addr', 'add', '198.51.100.71/32', 'dev', 'lo'])
    const nid = id()
    await driver.createNetwork(nid, {
      addressIPv4: '10.71.0.1/24',
      enableIPv6: true,
      fixedCIDRv6: 'fd00:71::/64',
      'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1',
    })
    const sb = await newSandbox(host.netnsPath('hb'))
    const eid = id()
    let server: TestServer | undefined
    try {
      const info = await driver.createEndpoint(nid, eid, sb.key, {
        portBindings: [
          { proto: 'tcp', containerPort: 80, hostPort: 18071 },
          { proto: 'tcp', containerPort: 80, hostIP: '0.0.0.0', hostPort: 18072 }, // its own address wins
        ],
      })
      for (const i of info.interfaces) await sb.addInterface(i)
      if (info.gateway) await sb.setGateway(info.gateway)
      const ports = driver.endpointInfo(nid, eid).ports
      // One binding, one family: no `::` twin, as Docker publishes with a host_binding_ipv4.
      expect(ports.filter((p) => p.hostPort === 18071).map((p) => p.hostIP)).toEqual(['127.0.0.1'])
      expect(ports.find((p) => p.hostPort === 18072)?.hostIP).toBe('0.0.0.0')
      // The kernel's view, through nft -j: 127.0.0.1 . 18071 in the address-keyed map, not in the wildcard ones.
      expect(dnatElements('dnat4')).toMatch(/"127\.0\.0\.1",18071\]/u)
      for (const map of ['dnat4any', 'dnat6any', 'dnat6']) expect(dnatElements(map)).not.toContain('18071')
      expect(dnatElements('dnat4any')).toContain('18072')
      server = await startServer(80, 'bound', sb.key)
      expect(request('tcp', '127.0.0.1', 18071)).toMatch(/^bound /u)
      // The control: the wildcard binding answers on the other host address, the bound one does not.
      expect(request('tcp', '198.51.100.71', 18072)).toMatch(/^bound /u)
      expect(request('tcp', '198.51.100.71', 18071, { timeoutMs: 800 })).toBeUndefined()
    } finally {
      server?.stop()
      await driver.deleteEndpoint(nid, eid)
      await sb.destroy()
      await driver.deleteNetwork(nid)
      await driver.close()
      run('ip', ['addr', 'del', '198.51.100.71/32', 'dev', 'lo'])
    }
    expect(run('nft', ['-j', 'list', 'ruleset']).stdout).not.toContain('18071')
  })
})
