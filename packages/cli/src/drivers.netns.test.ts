// The drivers besides the bridge, end to end through the real binary: macvlan (a "LAN" namespace
// on the other end of the parent veth answers) and null (loopback only).
import { mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { NetworkInspect } from '@cnm/controller'
import { describeKernel, ipJson, pings, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { fails, ok, okJSON } from './test/cnm.js'
import type { SandboxJSON } from './views.js'

describeKernel('cnm network create -d macvlan | null (kernel, the real binary)', () => {
  const host = useHostNetns()
  let tmp: string
  let store: string
  let sandboxDir: string
  let lan: string
  const parent = uniqueName('lan')
  const g = (...args: string[]): string[] => ['--store', store, '--sandbox-dir', sandboxDir, ...args]

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-drivers-'))
    store = path.join(tmp, 'cnm.db')
    sandboxDir = path.join(host.dir, 'sb')
    // The "LAN": a namespace on the other end of the parent veth, holding the gateway address.
    lan = host.netnsPath('lan')
    const { createNetns } = await import('@cnm/netlink')
    await createNetns(lan)
    run('ip', ['link', 'add', parent, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lan])
    run('ip', ['link', 'set', parent, 'up'])
    run('ip', ['addr', 'add', '192.168.77.1/24', 'dev', 'eth0'], { netns: lan })
    run('ip', ['link', 'set', 'eth0', 'up'], { netns: lan })
    run('ip', ['link', 'set', 'lo', 'up'], { netns: lan })
  })

  afterAll(async () => {
    rmSync(tmp, { recursive: true, force: true })
    rmdirSync(sandboxDir, { recursive: false })
    run('ip', ['link', 'del', parent], { check: false })
    const { deleteNetns } = await import('@cnm/netlink')
    if (lan) deleteNetns(lan)
  })

  it('macvlan: create with Docker options, connect two sandboxes, real traffic to the LAN and between them, rm leaves nothing', () => {
    const id = ok(
      g(
        'network',
        'create',
        'mv',
        '-d',
        'macvlan',
        '-o',
        `parent=${parent}`,
        '--subnet',
        '192.168.77.0/24',
        '--gateway',
        '192.168.77.1',
      ),
    ).trim()
    const [net] = okJSON<NetworkInspect[]>(g('network', 'inspect', 'mv'))
    expect(net).toMatchObject({
      id,
      driver: 'macvlan',
      device: parent,
      subnet: '192.168.77.0/24',
      gateway: '192.168.77.1',
    })
    const table = ok(g('network', 'ls'))
    expect(table).toMatch(new RegExp(`\\bmv +macvlan +${parent} +192\\.168\\.77\\.0/24`, 'u'))

    const boxes = ['m1', 'm2'].map((name) => okJSON<SandboxJSON>(g('sandbox', 'create', name, '--json')))
    for (const b of boxes) ok(g('connect', 'mv', b.containerID))
    const addr = (key: string): string =>
      ipJson<{ addr_info: { family: string; local: string }[] }[]>(['addr', 'show', 'dev', 'eth0'], {
        netns: key,
      })[0]?.addr_info.find((a) => a.family === 'inet')?.local ?? ''
    const [a1, a2] = boxes.map((b) => addr(b.key))
    expect(a1).toMatch(/^192\.168\.77\.\d+$/u)
    expect(a1).not.toBe(a2)
    // The container end is a macvlan on the parent, inside the sandbox.
    const link = ipJson<{ linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show', 'eth0'], {
      netns: boxes[0]?.key ?? '',
    })
    expect(link[0]?.linkinfo?.info_kind).toBe('macvlan')
    expect(pings('192.168.77.1', boxes[0]?.key)).toBe(true)
    expect(pings('192.168.77.1', boxes[1]?.key)).toBe(true)
    expect(pings(a2 ?? '', boxes[0]?.key)).toBe(true) // bridge mode: siblings reach each other

    fails(g('network', 'rm', 'mv'), 'ERR_ACTIVE_ENDPOINTS')
    for (const b of boxes) ok(g('sandbox', 'rm', b.containerID))
    ok(g('network', 'rm', 'mv'))
    expect(okJSON(g('network', 'ls', '--json'))).toEqual([])
    // The parent is the user's: still there, untouched; no macvlan left on the host.
    const links = ipJson<{ ifname: string; linkinfo?: { info_kind?: string } }[]>(['-d', 'link', 'show'])
    expect(links.map((l) => l.ifname)).toContain(parent)
    expect(links.filter((l) => l.linkinfo?.info_kind === 'macvlan')).toEqual([])
  })

  it('macvlan without a parent is refused with a typed error, and nothing is created', () => {
    fails(g('network', 'create', 'np', '-d', 'macvlan', '--subnet', '192.168.78.0/24'), 'ERR_INVALID_CONFIG')
    expect(okJSON(g('network', 'ls', '--json'))).toEqual([])
  })

  it('null (and its alias none): a connected sandbox has loopback only', () => {
    ok(g('network', 'create', 'isolated', '-d', 'null'))
    const [net] = okJSON<NetworkInspect[]>(g('network', 'inspect', 'isolated'))
    expect(net?.driver).toBe('null')
    expect([net?.device, net?.subnet, net?.subnetIPv6]).toEqual([undefined, undefined, undefined])
    expect(ok(g('network', 'ls'))).toMatch(/\bisolated +null\b/u)
    fails(g('network', 'create', 'again', '-d', 'none', '--subnet', '10.99.0.0/24'), 'ERR_INVALID_CONFIG')
    const sb = okJSON<SandboxJSON>(g('sandbox', 'create', 'lonely', '--json'))
    ok(g('connect', 'isolated', 'lonely'))
    const links = ipJson<{ ifname: string }[]>(['link', 'show'], { netns: sb.key })
    expect(links.map((l) => l.ifname)).toEqual(['lo'])
    ok(g('sandbox', 'rm', 'lonely'))
    ok(g('network', 'rm', 'isolated'))
  })
})
