import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Handle, openHandle } from './handle.js'
import { getLinkDetails } from './kind-links.js'
import {
  addFdbEntry,
  addNeighbour,
  deleteFdbEntry,
  deleteNeighbour,
  listFdbEntries,
  listNeighbours,
} from './neighbours.js'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from './testing/index.js'
import { createVxlan } from './vxlan.js'

interface IpLink {
  ifname: string
  mtu: number
  group?: string
  ifalias?: string
  linkinfo?: {
    info_kind?: string
    info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean; link?: string }
  }
}

interface BridgeFdb {
  mac: string
  ifname: string
  dst?: string
  flags?: string[]
  state?: string
}

interface IpNeigh {
  dst: string
  dev: string
  lladdr?: string
  state?: string[]
}

describeKernel('VXLAN devices, FDB and neighbour entries (kernel)', () => {
  useHostNetns()
  let h: Handle
  const underlay = uniqueName('ul')

  beforeAll(async () => {
    run('ip', ['link', 'add', underlay, 'type', 'veth', 'peer', 'name', `${underlay}x`])
    run('ip', ['address', 'add', '192.0.2.10/24', 'dev', underlay])
    run('ip', ['link', 'set', underlay, 'up'])
    h = await openHandle()
  })

  afterAll(() => {
    h?.close()
    run('ip', ['link', 'del', underlay], { check: false })
  })

  const link = (name: string): IpLink | undefined =>
    ipJson<IpLink[]>(['-d', 'link', 'show']).find((l) => l.ifname === name)

  it('creates a VXLAN device with VNI, local VTEP, underlay, port 4789 and learning off; reads it back', async () => {
    const name = uniqueName('vx')
    const made = await createVxlan(h, name, {
      vni: 4242,
      local: '192.0.2.10',
      parent: underlay,
      proxy: true,
      mtu: 1450,
      group: 4343,
      alias: 'cnm:test:overlay:n',
      up: true,
    })
    expect(made).toMatchObject({ name, kind: 'vxlan', mtu: 1450, group: 4343, alias: 'cnm:test:overlay:n', up: true })
    expect(link(name)?.linkinfo).toMatchObject({
      info_kind: 'vxlan',
      info_data: { id: 4242, local: '192.0.2.10', port: 4789, learning: false, proxy: true, link: underlay },
    })
    const details = await getLinkDetails(h, name)
    expect(details.vxlan).toEqual({
      vni: 4242,
      local: '192.0.2.10',
      link: (await h.getLink(underlay)).index,
      port: 4789,
      learning: false,
      proxy: true,
      ttl: 0,
    })
    await expect(createVxlan(h, name, { vni: 4242 })).rejects.toMatchObject({ code: 'EEXIST', kind: 'conflict' })
    await h.deleteLink(name)
    expect(link(name)).toBeUndefined()
  })

  it('refuses a bad VNI, port, TTL or local address before asking the kernel', async () => {
    const name = uniqueName('vx')
    for (const opts of [{ vni: 0 }, { vni: 0x1000000 }, { vni: 1.5 }, { vni: 7, port: 0 }, { vni: 7, ttl: 256 }]) {
      await expect(createVxlan(h, name, opts)).rejects.toMatchObject({ code: 'ERR_INVALID_LINK_OPTIONS' })
    }
    await expect(createVxlan(h, name, { vni: 7, local: '10.0.0.300' })).rejects.toMatchObject({
      code: 'ERR_INVALID_LINK_OPTIONS',
    })
    await expect(createVxlan(h, 'a/b', { vni: 7 })).rejects.toMatchObject({ code: 'ERR_INVALID_INTERFACE_NAME' })
    expect(link(name)).toBeUndefined()
  })

  it('programs static FDB entries (MAC → remote VTEP) on the device itself, replaces and deletes them', async () => {
    const name = uniqueName('vx')
    const vx = await createVxlan(h, name, { vni: 77, local: '192.0.2.10', parent: underlay, up: true })
    const fdb = (): BridgeFdb[] => JSON.parse(run('bridge', ['-j', 'fdb', 'show', 'dev', name]).stdout || '[]')
    await addFdbEntry(h, name, { mac: '02:42:0a:00:00:02', dst: '192.0.2.20' })
    await addFdbEntry(h, vx.index, { mac: '02:42:0a:00:00:03', dst: '192.0.2.30' })
    expect(fdb()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ mac: '02:42:0a:00:00:02', dst: '192.0.2.20', flags: ['self'], state: 'permanent' }),
        expect.objectContaining({ mac: '02:42:0a:00:00:03', dst: '192.0.2.30', flags: ['self'], state: 'permanent' }),
      ]),
    )
    await expect(addFdbEntry(h, name, { mac: '02:42:0a:00:00:02', dst: '192.0.2.21' })).rejects.toMatchObject({
      code: 'EEXIST',
    })
    await addFdbEntry(h, name, { mac: '02:42:0a:00:00:02', dst: '192.0.2.21', replace: true })
    const mine = await listFdbEntries(h, name)
    expect(mine.filter((e) => e.mac === '02:42:0a:00:00:02')).toEqual([
      {
        ifindex: vx.index,
        mac: '02:42:0a:00:00:02',
        dst: '192.0.2.21',
        self: true,
        master: false,
        permanent: true,
        vlan: undefined,
      },
    ])
    expect(
      fdb()
        .filter((e) => e.mac === '02:42:0a:00:00:02')
        .map((e) => e.dst),
    ).toEqual(['192.0.2.21'])
    await deleteFdbEntry(h, name, { mac: '02:42:0a:00:00:02' })
    await deleteFdbEntry(h, name, { mac: '02:42:0a:00:00:03', dst: '192.0.2.30' })
    expect(fdb().filter((e) => e.mac.startsWith('02:42:0a'))).toEqual([])
    await expect(deleteFdbEntry(h, name, { mac: '02:42:0a:00:00:03' })).rejects.toMatchObject({ kind: 'not-found' })
    await expect(addFdbEntry(h, name, { mac: '01:00:5e:00:00:01', dst: '192.0.2.20' })).rejects.toMatchObject({
      code: 'ERR_INVALID_MAC',
    })
    await h.deleteLink(name)
  })

  it('programs permanent neighbour entries (IPv4 and IPv6), replaces and deletes them', async () => {
    const name = uniqueName('vx')
    const vx = await createVxlan(h, name, { vni: 78, local: '192.0.2.10', parent: underlay, proxy: true, up: true })
    const neigh = (): IpNeigh[] => ipJson<IpNeigh[]>(['neigh', 'show', 'dev', name])
    await addNeighbour(h, name, { ip: '10.9.0.2', mac: '02:42:0a:09:00:02' })
    await addNeighbour(h, vx.index, { ip: 'fd00:9::2', mac: '02:42:0a:09:00:02' })
    expect(neigh()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '10.9.0.2', lladdr: '02:42:0a:09:00:02', state: ['PERMANENT'] }),
        expect.objectContaining({ dst: 'fd00:9::2', lladdr: '02:42:0a:09:00:02', state: ['PERMANENT'] }),
      ]),
    )
    await expect(addNeighbour(h, name, { ip: '10.9.0.2', mac: '02:42:0a:09:00:03' })).rejects.toMatchObject({
      code: 'EEXIST',
    })
    await addNeighbour(h, name, { ip: '10.9.0.2', mac: '02:42:0a:09:00:03', replace: true })
    expect(await listNeighbours(h, name)).toEqual(
      expect.arrayContaining([
        { ifindex: vx.index, family: 4, ip: '10.9.0.2', mac: '02:42:0a:09:00:03', permanent: true, proxy: false },
        { ifindex: vx.index, family: 6, ip: 'fd00:9::2', mac: '02:42:0a:09:00:02', permanent: true, proxy: false },
      ]),
    )
    await deleteNeighbour(h, name, '10.9.0.2')
    await deleteNeighbour(h, name, 'fd00:9::2')
    expect(neigh()).toEqual([])
    await expect(deleteNeighbour(h, name, '10.9.0.2')).rejects.toMatchObject({ kind: 'not-found' })
    await expect(addNeighbour(h, name, { ip: 'nope', mac: '02:42:0a:09:00:03' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ADDRESS',
    })
    await h.deleteLink(name)
  })
})
