import { afterAll, beforeAll, expect, it } from 'vitest'
import { type Handle, openHandle } from './handle.js'
import { createMacvlan, createVlan, getLinkDetails } from './kind-links.js'
import { createNetns, deleteNetns } from './namespace.js'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from './testing/index.js'

interface IpLink {
  ifname: string
  mtu: number
  address: string
  group?: string
  ifalias?: string
  linkinfo?: { info_kind?: string; info_data?: { mode?: string; id?: number } }
}

describeKernel('macvlan and VLAN links (kernel)', () => {
  const host = useHostNetns()
  let h: Handle
  let inside: Handle
  let ns: string
  const parent = uniqueName('p')

  beforeAll(async () => {
    run('ip', ['link', 'add', parent, 'type', 'veth', 'peer', 'name', `${parent}x`])
    run('ip', ['link', 'set', parent, 'up'])
    h = await openHandle()
    ns = host.netnsPath('mv')
    await createNetns(ns)
    inside = await openHandle({ netns: ns })
  })

  afterAll(() => {
    inside?.close()
    h?.close()
    if (ns) deleteNetns(ns)
    run('ip', ['link', 'del', parent], { check: false })
  })

  const link = (name: string, netns?: string): IpLink | undefined =>
    ipJson<IpLink[]>(['-d', 'link', 'show'], netns ? { netns } : {}).find((l) => l.ifname === name)

  it('creates a macvlan born inside another namespace, marked, in the mode asked for', async () => {
    const name = uniqueName('mv')
    const made = await createMacvlan(h, name, {
      parent,
      mode: 'private',
      target: inside,
      mac: '02:42:0a:00:00:07',
      mtu: 1400,
      group: 4242,
      alias: 'cnm:test:endpoint:n:e',
    })
    expect(made).toMatchObject({ name, kind: 'macvlan', mac: '02:42:0a:00:00:07', mtu: 1400, group: 4242 })
    expect(made.alias).toBe('cnm:test:endpoint:n:e')
    expect(link(name)).toBeUndefined()
    expect(link(name, ns)).toMatchObject({
      address: '02:42:0a:00:00:07',
      ifalias: 'cnm:test:endpoint:n:e',
      linkinfo: { info_kind: 'macvlan', info_data: { mode: 'private' } },
    })
    expect(await getLinkDetails(inside, name)).toMatchObject({ kind: 'macvlan', macvlanMode: 'private' })
    await inside.deleteLink(name)
    expect(link(name, ns)).toBeUndefined()
  })

  it('creates a macvlan in its own namespace, bridge mode by default; refuses a missing parent', async () => {
    const name = uniqueName('mv')
    const made = await createMacvlan(h, name, { parent: (await h.getLink(parent)).index, up: true })
    expect(made.kind).toBe('macvlan')
    const details = await getLinkDetails(h, name)
    expect(details.macvlanMode).toBe('bridge')
    expect(details.parentIndex).toBe((await h.getLink(parent)).index)
    await h.deleteLink(name)
    await expect(createMacvlan(h, uniqueName('mv'), { parent: 'nosuchparent0' })).rejects.toMatchObject({
      code: 'ENODEV',
    })
  })

  it('creates a VLAN sub-interface, up and marked, and reads its id back', async (ctx) => {
    const name = `${parent}.20`
    await expect(createVlan(h, `${parent}.0`, { parent, id: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_LINK_OPTIONS',
    })
    let made: Awaited<ReturnType<typeof createVlan>>
    try {
      made = await createVlan(h, name, { parent, id: 20, group: 4242, alias: 'cnm:test:network:n', up: true })
    } catch (err) {
      // 802.1Q is a kernel option (CONFIG_VLAN_8021Q); some kernels (this VM's) lack it.
      if (['ENOTSUP', 'EOPNOTSUPP'].includes((err as { code?: string }).code ?? ''))
        ctx.skip('this kernel has no 802.1Q VLAN support')
      throw err
    }
    expect(made).toMatchObject({ name, kind: 'vlan', group: 4242, alias: 'cnm:test:network:n', up: true })
    expect(link(name)?.linkinfo).toMatchObject({ info_kind: 'vlan', info_data: { id: 20 } })
    expect((await getLinkDetails(h, name)).vlanId).toBe(20)
    await expect(createVlan(h, `${parent}.20`, { parent, id: 20 })).rejects.toMatchObject({ code: 'EEXIST' })
    await h.deleteLink(name)
  })
})
