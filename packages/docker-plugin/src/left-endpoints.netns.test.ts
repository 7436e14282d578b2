import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController, type NetworkController } from '@cnm/controller'
import { createNetns, deleteNetns, openHandle } from '@cnm/netlink'
import { describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { GATEWAY_TYPE } from './ipam.js'
import { type DockerPluginServer, PLUGIN_MEDIA_TYPE, serveDockerPlugin } from './server.js'

// A container removed while cnm was down (`docker rm -f` with the daemon killed): dockerd moves the
// container's interface back out of its sandbox, fails to reach the plugin for DeleteEndpoint and
// ReleaseAddress for a minute, and forgets the endpoint. Here the plugin protocol is spoken as
// dockerd speaks it, over the socket; the endpoint that "left" is one whose container end is in
// this namespace (where dockerd puts it back), the one still in a container has its end moved
// into another namespace, as dockerd's Join does. Checked with `ip`, `nft` and `ss`.

const NID = 'a1'.repeat(32)
const LEFT = 'b2'.repeat(32)
const STAYS = 'c3'.repeat(32)
const JOINING = 'd4'.repeat(32)
const SUBNET = '10.123.0.0/24'

describeKernel('Docker plugin: endpoints whose container left while cnm was down (kernel)', () => {
  const host = useHostNetns()
  let tmp: string
  let controller: NetworkController | undefined
  let plugin: DockerPluginServer | undefined
  let ctrNetns: string | undefined
  const socketPath = (): string => path.join(tmp, 'plugin.sock')
  const open = async (leftEndpointGraceMs = 300): Promise<void> => {
    controller = await createController({ storePath: path.join(tmp, 'cnm.db'), sandboxDir: path.join(host.dir, 'sb') })
    plugin = await serveDockerPlugin({
      controller,
      socketPath: socketPath(),
      stateFile: path.join(tmp, 'plugin.json'),
      leftEndpointGraceMs,
    })
  }
  const shut = async (): Promise<void> => {
    await plugin?.close()
    await controller?.close()
    plugin = undefined
    controller = undefined
  }
  const post = (url: string, body: unknown): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const req = request(
        { socketPath: socketPath(), method: 'POST', path: url, headers: { 'content-type': PLUGIN_MEDIA_TYPE } },
        (res) => {
          let text = ''
          res.on('data', (d) => {
            text += d
          })
          res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>))
        },
      )
      req.on('error', reject)
      req.end(JSON.stringify(body))
    })
  const ok = async (url: string, body: unknown): Promise<Record<string, unknown>> => {
    const answer = await post(url, body)
    expect(answer.Err ?? answer.Error, url).toBeUndefined()
    return answer
  }
  const links = (): string[] =>
    (JSON.parse(run('ip', ['-j', 'link', 'show']).stdout) as { ifname: string }[]).map((l) => l.ifname)
  const sh = (cmd: string, ...args: string[]): string => run(cmd, args).stdout

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-left-'))
    await open()
  })
  afterAll(async () => {
    for (const net of controller?.networks() ?? []) {
      for (const ep of net.endpoints()) await ep.delete()
      await net.delete()
    }
    await shut()
    try {
      if (ctrNetns) deleteNetns(ctrNetns)
    } catch {}
    rmSync(tmp, { recursive: true, force: true })
  })

  it('are deleted after the plugin starts and a grace period: ports, veth and the address given back; one in a container stays', async () => {
    const { PoolID } = await ok('/IpamDriver.RequestPool', { AddressSpace: 'cnm-local', Pool: SUBNET })
    await ok('/IpamDriver.RequestAddress', {
      PoolID,
      Address: '10.123.0.1',
      Options: { RequestAddressType: GATEWAY_TYPE },
    })
    await ok('/NetworkDriver.CreateNetwork', { NetworkID: NID, IPv4Data: [{ Pool: SUBNET, Gateway: '10.123.0.1/24' }] })
    const names: Record<string, string> = {}
    for (const [eid, port] of [
      [LEFT, 8123],
      [STAYS, 8124],
      [JOINING, 8125],
    ] as const) {
      const { Address } = await ok('/IpamDriver.RequestAddress', { PoolID, Address: '' })
      await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: eid, Interface: { Address } })
      const join = await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: eid, SandboxKey: '/x', Options: {} })
      names[eid] = (join.InterfaceName as { SrcName: string }).SrcName
      await ok('/NetworkDriver.ProgramExternalConnectivity', {
        NetworkID: NID,
        EndpointID: eid,
        Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: '', HostPort: port }] },
      })
    }
    // The container still running has its end in its own namespace (dockerd's Join moves it there).
    ctrNetns = host.netnsPath('ctr')
    await createNetns(ctrNetns)
    const h = await openHandle()
    try {
      await h.moveLink(names[STAYS] as string, ctrNetns)
    } finally {
      h.close()
    }
    expect(links()).toContain(names[LEFT])
    expect(sh('ss', '-Hltn', 'sport = :8123')).toContain('8123')

    // cnm stops; dockerd removes the first container meanwhile (its end comes back: it is here) and
    // gives up on DeleteEndpoint and ReleaseAddress. cnm starts again.
    await shut()
    await open()
    // Still there until the grace period: an endpoint dockerd was joining when cnm stopped (its end
    // still here) is moved into its container meanwhile, and stays.
    expect(controller?.networks()[0]?.endpoints()).toHaveLength(3)
    const h2 = await openHandle()
    try {
      await h2.moveLink(names[JOINING] as string, ctrNetns as string)
    } finally {
      h2.close()
    }
    expect(await plugin?.leftEndpoints).toEqual([{ network: `docker-${NID}`, endpoint: `docker-${LEFT}` }])
    const eps = controller
      ?.networks()[0]
      ?.endpoints()
      .map((e) => e.name)
    expect(eps?.sort()).toEqual([`docker-${STAYS}`, `docker-${JOINING}`].sort())
    expect(links()).not.toContain(names[LEFT])
    expect(links().some((l) => l.startsWith('veth'))).toBe(true) // the other's host end
    expect(sh('ss', '-Hltn', 'sport = :8123')).toBe('') // its port is no longer held
    expect(sh('ss', '-Hltn', 'sport = :8124')).toContain('8124')
    expect(sh('nft', 'list', 'ruleset')).not.toContain('8123')
    expect(sh('nft', 'list', 'ruleset')).toContain('8124')
    // Its address is free again: the lowest, handed out to the next container.
    expect((await ok('/IpamDriver.RequestAddress', { PoolID, Address: '' })).Address).toBe('10.123.0.2/24')
    // What dockerd may still send about it later is answered as done.
    await ok('/NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: LEFT })
  }, 60_000)

  it('until then, a port one of them holds and a fixed address go at once to the endpoint asking for them (a container its restart policy starts again); one left since the start is named instead', async () => {
    const OLD = 'e5'.repeat(32)
    const NEW = 'f6'.repeat(32)
    const portmap = (port: number) => ({
      'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: '', HostPort: port }],
    })
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: OLD, Interface: {} })
    await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: OLD, SandboxKey: '/x', Options: {} })
    await ok('/NetworkDriver.ProgramExternalConnectivity', { NetworkID: NID, EndpointID: OLD, Options: portmap(8126) })
    // cnm stops; the container dies (its end comes back here); cnm starts again (a long grace), and
    // dockerd's restart policy starts the container again at once: a new endpoint, the same port.
    await shut()
    await open(60_000)
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: NEW, Interface: {} })
    await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: NEW, SandboxKey: '/y', Options: {} })
    await ok('/NetworkDriver.ProgramExternalConnectivity', { NetworkID: NID, EndpointID: NEW, Options: portmap(8126) })
    const names = () =>
      controller
        ?.networks()[0]
        ?.endpoints()
        .map((e) => e.name)
    expect(names()).not.toContain(`docker-${OLD}`)
    expect(names()).toContain(`docker-${NEW}`)
    expect(sh('ss', '-Hltn', 'sport = :8126')).toContain('8126')
    const newAddress = controller
      ?.networks()[0]
      ?.endpoints()
      .find((e) => e.name === `docker-${NEW}`)
      ?.inspect()
      .ipv4?.split('/')[0]
    expect(sh('nft', 'list', 'ruleset')).toMatch(
      new RegExp(`tcp \\. 8126 comment "[^"]*" : ${newAddress?.replaceAll('.', '\\.')} \\. 80`, 'u'),
    )
    await ok('/NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: OLD }) // dockerd's late delete: done

    // One that left after the start (its delete may still come) keeps its port: named, not removed.
    const LATER = 'a7'.repeat(32)
    const OTHER = 'b8'.repeat(32)
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: LATER, Interface: {} })
    await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: LATER, SandboxKey: '/z', Options: {} })
    await ok('/NetworkDriver.ProgramExternalConnectivity', {
      NetworkID: NID,
      EndpointID: LATER,
      Options: portmap(8127),
    })
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: OTHER, Interface: {} })
    await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: OTHER, SandboxKey: '/w', Options: {} })
    const refused = await post('/NetworkDriver.ProgramExternalConnectivity', {
      NetworkID: NID,
      EndpointID: OTHER,
      Options: portmap(8127),
    })
    expect(refused.Err).toMatch(/port is already allocated/u)
    expect(refused.Err).toContain(`held by docker-${LATER} of network docker-${NID}, whose container is not running`)
    expect(refused.Err).toContain(`cnm endpoint rm -f docker-${NID} docker-${LATER}`)
    expect(names()).toContain(`docker-${LATER}`)
    const laterAddress = controller
      ?.networks()[0]
      ?.endpoints()
      .find((e) => e.name === `docker-${LATER}`)
      ?.inspect()
      .ipv4?.split('/')[0]
    expect((await post('/IpamDriver.RequestAddress', { PoolID: SUBNET, Address: laterAddress })).Error).toContain(
      `is in use: endpoint docker-${LATER} of cnm network docker-${NID}`,
    )
    for (const eid of [NEW, LATER, OTHER])
      await ok('/NetworkDriver.DeleteEndpoint', { NetworkID: NID, EndpointID: eid })

    // A fixed address (`--ip`) too: the container started again asks for it before anything else.
    const FIXED = '19'.repeat(32)
    const { Address } = await ok('/IpamDriver.RequestAddress', { PoolID: SUBNET, Address: '10.123.0.77' })
    await ok('/NetworkDriver.CreateEndpoint', { NetworkID: NID, EndpointID: FIXED, Interface: { Address } })
    await ok('/NetworkDriver.Join', { NetworkID: NID, EndpointID: FIXED, SandboxKey: '/v', Options: {} })
    await shut()
    await open(60_000)
    expect(await ok('/IpamDriver.RequestAddress', { PoolID: SUBNET, Address: '10.123.0.77' })).toEqual({
      Address: '10.123.0.77/24',
      Data: {},
    })
    expect(names()).not.toContain(`docker-${FIXED}`)
    await ok('/IpamDriver.ReleaseAddress', { PoolID: SUBNET, Address: '10.123.0.77/24' })
  }, 60_000)
})
