import type { Handle, Link, LinkAddress } from '@cnm/netlink'
import { describe, expect, it } from 'vitest'
import { createHostView } from './host-view.js'

/** A host with a few links and addresses that counts its kernel requests. */
function fakeHost(): { host: Handle; calls: string[]; links: Map<string, Link> } {
  const calls: string[] = []
  const links = new Map<string, Link>()
  const add = (name: string, index: number): void => void links.set(name, { name, index, up: true } as Link)
  add('lo', 1)
  add('br0', 2)
  add('veth0', 3)
  const addresses: LinkAddress[] = [
    { index: 2, family: 4, cidr: '10.0.0.1/24' } as LinkAddress,
    { index: 3, family: 6, cidr: 'fe80::1/64' } as LinkAddress,
  ]
  const enodev = (name: string): Error => Object.assign(new Error(`no link ${name}: ENODEV`), { code: 'ENODEV' })
  const host = {
    listLinks: async () => {
      calls.push('listLinks')
      return [...links.values()]
    },
    findLink: async (name: string) => {
      calls.push(`findLink ${name}`)
      return links.get(name)
    },
    getLink: async (ref: string | number) => {
      calls.push(`getLink ${ref}`)
      const l = [...links.values()].find((x) => x.name === ref || x.index === ref)
      if (!l) throw enodev(String(ref))
      return l
    },
    listAddresses: async (name?: string) => {
      calls.push(`listAddresses ${name ?? ''}`.trim())
      const index = name === undefined ? undefined : links.get(name)?.index
      return addresses.filter((a) => index === undefined || a.index === index)
    },
    addAddress: async (name: string, cidr: string) => {
      calls.push(`addAddress ${name}`)
      addresses.push({ index: links.get(name)?.index ?? 0, family: 4, cidr } as LinkAddress)
    },
    deleteLink: async (name: string) => {
      calls.push(`deleteLink ${name}`)
      links.delete(name)
    },
    setLinkUp: async (name: string, up = true) => {
      calls.push(`setLinkUp ${name}`)
      const l = links.get(name)
      if (l) links.set(name, { ...l, up })
    },
  } as unknown as Handle
  return { host, calls, links }
}

describe('the host view: one dump per batch', () => {
  it('outside a batch every read goes to the kernel', async () => {
    const { host, calls } = fakeHost()
    const view = createHostView(host)
    await view.findLink('br0')
    await view.findLink('veth0')
    await view.listAddresses('br0')
    expect(calls).toEqual(['findLink br0', 'findLink veth0', 'listAddresses br0'])
  })

  it('in a batch links and addresses come from one dump each, however many are asked for', async () => {
    const { host, calls } = fakeHost()
    const view = createHostView(host)
    view.beginBatch()
    expect((await view.findLink('br0'))?.index).toBe(2)
    expect(await view.findLink('nope')).toBeUndefined()
    expect((await view.getLink('veth0')).index).toBe(3)
    expect((await view.listLinks()).map((l) => l.name)).toEqual(['lo', 'br0', 'veth0'])
    expect(await view.listAddresses('br0')).toEqual([{ index: 2, family: 4, cidr: '10.0.0.1/24' }])
    expect(await view.listAddresses('veth0')).toEqual([{ index: 3, family: 6, cidr: 'fe80::1/64' }])
    expect(calls).toEqual(['listLinks', 'listAddresses'])
    await expect(view.getLink('gone')).rejects.toMatchObject({ code: 'ENODEV' }) // as the kernel says it
    view.endBatch()
    await view.findLink('br0')
    expect(calls.at(-1)).toBe('findLink br0')
  })

  it('sees its own changes: a link it changed is read again, the others still from the dump', async () => {
    const { host, calls } = fakeHost()
    const view = createHostView(host)
    view.beginBatch()
    await view.findLink('br0')
    await view.listAddresses('br0')
    await view.setLinkUp('br0', false)
    await view.addAddress('br0', '10.0.0.2/24')
    calls.length = 0
    expect((await view.findLink('br0'))?.up).toBe(false)
    expect((await view.listAddresses('br0')).map((a) => a.cidr)).toEqual(['10.0.0.1/24', '10.0.0.2/24'])
    expect((await view.findLink('veth0'))?.index).toBe(3)
    expect(calls).toEqual(['findLink br0', 'listAddresses br0'])
    await view.deleteLink('veth0')
    expect(await view.findLink('veth0')).toBeUndefined()
    expect((await view.listLinks()).map((l) => l.name)).toEqual(['lo', 'br0']) // dumped again after a change
    expect(calls).toEqual(['findLink br0', 'listAddresses br0', 'deleteLink veth0', 'findLink veth0', 'listLinks'])
  })
})
