// IPAM data and overlaps through the controller on real drivers: the controller refuses a subnet
// that overlaps another network's (ERR_NETWORK_OVERLAPS, naming it) for the bridge and macvlan
// drivers alike, before either touches the kernel; the subnets handed over as values are what
// the kernel holds, and after a restart (IPAM data parsed from the store) the check still holds —
// and neither driver's stray pass takes the other's links for its own (both mark links alike).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { parseIpam } from '@cnm/driverapi'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createController } from '../src/controller.js'

type Link = { ifname: string; linkinfo?: { info_kind?: string } }
type AddrLink = { ifname: string; addr_info: { local: string; prefixlen: number; family: string }[] }

const ipam = (cidr: string) => parseIpam({ v4: [{ subnet: cidr }] })
/** Every link's name and kind, as `ip -d -j link` shows them. */
const links = (): string[] =>
  ipJson<Link[]>(['-d', 'link', 'show']).map((l) => `${l.ifname}:${l.linkinfo?.info_kind ?? ''}`)
/** The IPv4 addresses the kernel holds on `ifname`. */
const addresses = (ifname: string): string[] =>
  (ipJson<AddrLink[]>(['-4', 'addr', 'show', 'dev', ifname])[0]?.addr_info ?? []).map(
    (a) => `${a.local}/${a.prefixlen}`,
  )

describeKernel('IPAM data and overlaps through the controller (bridge, macvlan)', () => {
  useHostNetns()
  let tmp = ''
  const parent = uniqueName('ipp')

  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'cnm-ipam-'))
    run('ip', ['link', 'add', parent, 'type', 'veth', 'peer', 'name', uniqueName('ipq')])
    run('ip', ['link', 'set', parent, 'up'])
  })
  afterAll(async () => {
    // What a failed test left: every network of the store goes, then the parent.
    const c = await open()
    for (const n of c.networks()) await n.delete().catch(() => undefined)
    await c.close()
    run('ip', ['link', 'del', parent], { check: false })
    rmSync(tmp, { recursive: true, force: true })
  })

  const open = () => createController({ storePath: path.join(tmp, 'cnm.db'), sandboxDir: path.join(tmp, 'sandboxes') })

  it('refuses an overlapping subnet for either driver before the kernel changes, also after a restart', async () => {
    const c = await open()
    const bridge = await c.newNetworkDriver('bridge')
    const macvlan = await c.newNetworkDriver('macvlan')
    const a = await c.newNetwork(
      bridge,
      'ipam-br',
      { 'com.docker.network.bridge.name': 'cnmipambr0' },
      { ipam: ipam('10.151.0.0/24') },
    )
    expect(a.inspect()).toMatchObject({ device: 'cnmipambr0', subnet: '10.151.0.0/24', gateway: '10.151.0.1' })
    expect(addresses('cnmipambr0')).toEqual(['10.151.0.1/24'])
    const b = await c.newNetwork(macvlan, 'ipam-mv', { parent }, { ipam: ipam('10.152.0.0/24') })
    expect(b.inspect()).toMatchObject({ subnet: '10.152.0.0/24', gateway: '10.152.0.1' })

    const before = links()
    await expect(c.newNetwork(macvlan, 'ipam-x', { parent }, { ipam: ipam('10.151.0.128/25') })).rejects.toMatchObject({
      code: 'ERR_NETWORK_OVERLAPS',
      kind: 'conflict',
      message: 'network ipam-x: subnet 10.151.0.128/25 overlaps network ipam-br (10.151.0.0/24)',
    })
    await expect(
      c.newNetwork(
        bridge,
        'ipam-y',
        { 'com.docker.network.bridge.name': 'cnmipambr1' },
        { ipam: ipam('10.152.0.0/16') },
      ),
    ).rejects.toMatchObject({
      code: 'ERR_NETWORK_OVERLAPS',
      message: 'network ipam-y: subnet 10.152.0.0/16 overlaps network ipam-mv (10.152.0.0/24)',
    })
    expect(links()).toEqual(before) // no bridge, no macvlan link: the drivers were never called
    await c.close()

    // A restart: the networks' IPAM data comes back from the store; the check holds.
    const again = await open()
    expect(again.networkByName('ipam-br')?.inspect().subnet).toBe('10.151.0.0/24')
    expect(addresses('cnmipambr0')).toEqual(['10.151.0.1/24'])
    await expect(
      again.newNetwork(await again.newNetworkDriver('bridge'), 'ipam-z', {}, { ipam: ipam('10.151.0.0/16') }),
    ).rejects.toMatchObject({ code: 'ERR_NETWORK_OVERLAPS', message: expect.stringContaining('network ipam-br') })
    await again.networkByName('ipam-br')?.delete()
    await again.networkByName('ipam-mv')?.delete()
    await again.close()
    expect(links().filter((l) => l.startsWith('cnmipambr'))).toEqual([])
  })
})
