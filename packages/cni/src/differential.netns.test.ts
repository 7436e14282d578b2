import path from 'node:path'
import { createNetns, deleteNetns } from '@cnm/netlink'
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
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  type Call,
  type CniTestState,
  createCniTestState,
  type PluginResult,
  runPlugin,
  runReference,
} from './testing/index.js'

interface Result {
  cniVersion: string
  interfaces: { name: string; mac?: string; sandbox?: string }[]
  ips: { address: string; gateway?: string; interface?: number }[]
  routes: { dst: string; gw?: string }[]
  dns?: unknown
}

/** What a result says, without the names and numbers that differ between plugins. */
function shape(r: Result, netns: string) {
  return {
    cniVersion: r.cniVersion,
    interfaces: r.interfaces.map((i) => ({
      mac: /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/u.test(i.mac ?? ''),
      sandbox: i.sandbox === undefined ? undefined : i.sandbox === netns,
    })),
    ips: r.ips.map((ip) => ({
      cidr: /^\d+\.\d+\.\d+\.\d+\/24$/u.test(ip.address),
      gateway: !!ip.gateway,
      interface: ip.interface,
    })),
    defaultRoute: r.routes.some((x) => x.dst === '0.0.0.0/0'),
  }
}

describeKernel('differential: the same ADD/CHECK/DEL through bridge+host-local+portmap and through cnm', () => {
  const host = useHostNetns()
  let state: CniTestState
  let base: Record<string, string>
  const servers: TestServer[] = []

  beforeAll(() => {
    state = createCniTestState('cnm-cni-diff-')
    base = state.env
  })
  afterAll(async () => {
    for (const s of servers.splice(0)) s.stop()
    try {
      // The reference plugins leave their bridge and their iptables chains (this namespace is ours).
      run('ip', ['link', 'del', 'cniref0'], { check: false })
      for (const table of ['nat', 'filter', 'mangle']) {
        run('iptables', ['-t', table, '-F'], { check: false })
        run('iptables', ['-t', table, '-X'], { check: false })
      }
    } finally {
      await state.cleanup()
    }
  })

  it('results of the same shape (interfaces, IPs, routes), CHECK passing, the same reachability, nothing left after DEL', async () => {
    const [refNs, cnmNs] = [host.netnsPath('ref'), host.netnsPath('cnm')]
    await createNetns(refNs)
    await createNetns(cnmNs)
    try {
      const version = '1.0.0'
      const reference = (plugin: string, command: string, conf: Record<string, unknown>, call: Call): PluginResult =>
        runReference(plugin, command, conf, call, { cniVersion: version, name: 'refnet' })
      const bridgeConf = {
        type: 'bridge',
        bridge: 'cniref0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: '10.218.0.0/24' }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: path.join(state.tmp, 'ipam'),
        },
      }
      const portmapConf = {
        type: 'portmap',
        runtimeConfig: { portMappings: [{ hostPort: 18301, containerPort: 80, protocol: 'tcp' }] },
      }
      const cnmConf = {
        cniVersion: version,
        name: 'cnmdiff',
        type: 'cnm',
        subnet: '10.219.0.0/24',
        runtimeConfig: { portMappings: [{ hostPort: 18302, containerPort: 80, protocol: 'tcp' }] },
      }
      const refCall: Call = { containerId: 'diffref', netns: refNs, ifname: 'eth0' }
      const cnmCall: Call = { containerId: 'diffcnm', netns: cnmNs, ifname: 'eth0' }

      // ADD: the chain passes the bridge's result to portmap, as a runtime does.
      const lo = reference('loopback', 'ADD', { type: 'loopback' }, { ...refCall, ifname: 'lo' })
      expect(lo.status, lo.stdout).toBe(0)
      const bridged = reference('bridge', 'ADD', bridgeConf, refCall)
      expect(bridged.status, bridged.stdout).toBe(0)
      const mapped = reference('portmap', 'ADD', { ...portmapConf, prevResult: bridged.json }, refCall)
      expect(mapped.status, mapped.stdout).toBe(0)
      const cnm = runPlugin('ADD', cnmConf, cnmCall, base)
      expect(cnm.status, cnm.stdout).toBe(0)
      const refResult = mapped.json as unknown as Result
      const cnmResult = cnm.json as unknown as Result
      expect(shape(cnmResult, cnmNs)).toEqual(shape(refResult, refNs))
      expect(shape(cnmResult, cnmNs)).toEqual({
        cniVersion: version,
        interfaces: [
          { mac: true, sandbox: undefined },
          { mac: true, sandbox: undefined },
          { mac: true, sandbox: true },
        ],
        ips: [{ cidr: true, gateway: true, interface: 2 }],
        defaultRoute: true,
      })

      // CHECK with the cached result: both pass.
      const refCheck = [
        reference('bridge', 'CHECK', { ...bridgeConf, prevResult: refResult }, refCall),
        reference('portmap', 'CHECK', { ...portmapConf, prevResult: refResult }, refCall),
      ]
      expect(refCheck[0]?.status, refCheck[0]?.stdout).toBe(0)
      // portmap 1.1.1's CHECK looks for an IPv6 DNAT chain it never made for an IPv4-only container.
      const portmapCheck = refCheck[1] as PluginResult
      expect(
        portmapCheck.status === 0 || /could not check ipv6 dnat/u.test(portmapCheck.stdout),
        portmapCheck.stdout,
      ).toBe(true)
      expect(runPlugin('CHECK', { ...cnmConf, prevResult: cnmResult }, cnmCall, base).status).toBe(0)

      // The same reachability: the gateway from the container, lo inside, the published port from the host.
      for (const [ns, r, port] of [
        [refNs, refResult, 18301],
        [cnmNs, cnmResult, 18302],
      ] as const) {
        const gw = r.ips[0]?.gateway as string
        expect(pings(gw, ns)).toBe(true)
        expect(pings('127.0.0.1', ns)).toBe(true)
        servers.push(await startServer(80, 'svc', ns))
        const own = (r.ips[0]?.address ?? '').split('/')[0]
        expect(request('tcp', own as string, 80)).toBe(`svc ${gw}`)
        expect(request('tcp', gw, port)).toMatch(/^svc /u)
      }
      for (const s of servers.splice(0)) s.stop()

      // DEL in reverse order for the chain; both leave only lo in the container.
      expect(reference('portmap', 'DEL', { ...portmapConf, prevResult: refResult }, refCall).status).toBe(0)
      expect(reference('bridge', 'DEL', { ...bridgeConf, prevResult: refResult }, refCall).status).toBe(0)
      expect(reference('loopback', 'DEL', { type: 'loopback' }, { ...refCall, ifname: 'lo' }).status).toBe(0)
      expect(runPlugin('DEL', { ...cnmConf, prevResult: cnmResult }, cnmCall, base).status).toBe(0)
      for (const ns of [refNs, cnmNs]) {
        expect(ipJson<{ ifname: string }[]>(['link', 'show'], { netns: ns }).map((l) => l.ifname)).toEqual(['lo'])
      }
      expect(ipJson<{ ifname: string }[]>(['link', 'show']).filter((l) => l.ifname.startsWith('veth'))).toEqual([])
    } finally {
      // Whatever a failure left: DEL is idempotent on both sides.
      runPlugin(
        'DEL',
        { cniVersion: '1.0.0', name: 'cnmdiff', type: 'cnm' },
        { containerId: 'diffcnm', netns: cnmNs, ifname: 'eth0' },
        base,
      )
      deleteNetns(refNs)
      deleteNetns(cnmNs)
    }
  })
})
