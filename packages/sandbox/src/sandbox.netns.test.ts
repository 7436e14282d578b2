import { existsSync } from 'node:fs'
import { netnsInode } from '@cnm/netlink'
import { describeKernel, ipJson, run, uniqueName, useHostNetns, waitForLinksGone } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import {
  ERR_INVALID_GATEWAY,
  ERR_INVALID_INTERFACE,
  ERR_INVALID_SANDBOX_KEY,
  ERR_NO_SANDBOX,
  ERR_SANDBOX_EXISTS,
} from './errors.js'
import { newSandbox, openSandbox } from './sandbox.js'

interface IpLink {
  ifname: string
  mtu: number
  address: string
  flags: string[]
}
interface IpAddr {
  ifname: string
  addr_info: { local: string; prefixlen: number }[]
}

const links = (netns?: string): IpLink[] => ipJson<IpLink[]>(['link', 'show'], netns ? { netns } : {})
const addrs = (name: string, netns: string): string[] =>
  (ipJson<IpAddr[]>(['addr', 'show', name], { netns })[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)

describeKernel('sandboxes (kernel)', () => {
  const host = useHostNetns()

  it('newSandbox makes a persistent namespace with loopback up; destroy is idempotent', async () => {
    const key = host.netnsPath('sb')
    const sb = await newSandbox(key)
    expect(sb.key).toBe(key)
    expect(netnsInode(key)).not.toBe(host.inode)
    const lo = links(key).find((l) => l.ifname === 'lo')
    expect(lo?.flags).toContain('UP')
    await expect(newSandbox(key)).rejects.toMatchObject({ code: ERR_SANDBOX_EXISTS })
    await sb.destroy()
    expect(existsSync(key)).toBe(false)
    await sb.destroy()
    await expect(openSandbox(key)).rejects.toMatchObject({ code: ERR_NO_SANDBOX })
    await expect(newSandbox('relative/key')).rejects.toMatchObject({ code: ERR_INVALID_SANDBOX_KEY })
  })

  it('adds an interface from the host: moved, renamed, addressed, MAC and MTU set, up', async () => {
    const sb = await newSandbox(host.netnsPath('sb'))
    const [v, peer] = [uniqueName('v'), uniqueName('p')]
    run('ip', ['link', 'add', v, 'type', 'veth', 'peer', 'name', peer])
    try {
      await sb.addInterface({
        srcName: v,
        dstName: 'eth0',
        address: '10.80.0.2/24',
        addressIPv6: 'fd80::2/64',
        macAddress: '02:42:0a:50:00:02',
        mtu: 1400,
      })
      expect(links().map((l) => l.ifname)).not.toContain(v)
      const eth0 = links(sb.key).find((l) => l.ifname === 'eth0')
      expect(eth0).toMatchObject({ mtu: 1400, address: '02:42:0a:50:00:02' })
      expect(eth0?.flags).toContain('UP')
      expect(addrs('eth0', sb.key)).toEqual(expect.arrayContaining(['10.80.0.2/24', 'fd80::2/64']))
      expect(sb.interfaces()).toEqual([expect.objectContaining({ srcName: v, dstName: 'eth0' })])

      const reopened = await openSandbox(sb.key)
      expect(reopened.interfaces()).toEqual([
        expect.objectContaining({ dstName: 'eth0', address: '10.80.0.2/24', addressIPv6: 'fd80::2/64', mtu: 1400 }),
      ])
      reopened.close()

      await sb.removeInterface('eth0')
      expect(links().map((l) => l.ifname)).toContain(v)
      expect(links(sb.key).map((l) => l.ifname)).toEqual(['lo'])
    } finally {
      run('ip', ['link', 'del', peer], { check: false })
      await sb.destroy()
    }
  })

  it('adopts an interface a driver created inside, and a failure part-way leaves it where it was', async () => {
    const sb = await newSandbox(host.netnsPath('sb'))
    const v = uniqueName('v')
    run('ip', ['link', 'add', v, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', sb.key])
    const other = uniqueName('o')
    const otherPeer = uniqueName('q')
    run('ip', ['link', 'add', other, 'type', 'veth', 'peer', 'name', otherPeer])
    try {
      await sb.addInterface({ srcName: 'eth1', dstName: 'eth1', address: '10.81.0.2/24' })
      expect(addrs('eth1', sb.key)).toEqual(['10.81.0.2/24'])
      // dstName "lo" exists inside: the rename fails after the move, and everything is undone.
      await expect(sb.addInterface({ srcName: other, dstName: 'lo', address: '10.82.0.2/24' })).rejects.toMatchObject({
        code: 'EEXIST',
      })
      expect(links().map((l) => l.ifname)).toContain(other)
      expect(
        links(sb.key)
          .map((l) => l.ifname)
          .sort(),
      ).toEqual(['eth1', 'lo'])
      await expect(sb.addInterface({ srcName: other, dstName: 'x'.repeat(16) })).rejects.toMatchObject({
        code: ERR_INVALID_INTERFACE,
      })
      await expect(sb.addInterface({ srcName: other, dstName: 'eth2', address: 'fd00::1/64' })).rejects.toMatchObject({
        code: ERR_INVALID_INTERFACE,
      })
      await expect(sb.addInterface({ srcName: 'nosuch0', dstName: 'eth2' })).rejects.toMatchObject({ code: 'ENODEV' })
      await sb.removeInterface('eth1')
      expect(links().map((l) => l.ifname)).not.toContain(v)
      expect(links(sb.key).map((l) => l.ifname)).toEqual(['lo'])
    } finally {
      run('ip', ['link', 'del', other], { check: false })
      await sb.destroy()
    }
  })

  it("libnetwork's README flow with a hand-made veth: two sandboxes on one bridge ping each other", async () => {
    const br = uniqueName('br')
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['addr', 'add', '10.83.0.1/24', 'dev', br])
    run('ip', ['addr', 'add', 'fd83::1/64', 'dev', br, 'nodad'])
    run('ip', ['link', 'set', br, 'up'])
    const boxes = [await newSandbox(host.netnsPath('sb')), await newSandbox(host.netnsPath('sb'))]
    try {
      for (const [n, sb] of boxes.entries()) {
        const [hostEnd, ctrEnd] = [uniqueName('h'), uniqueName('c')]
        run('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', ctrEnd])
        run('ip', ['link', 'set', hostEnd, 'master', br, 'up'])
        await sb.addInterface({
          srcName: ctrEnd,
          dstName: 'eth0',
          address: `10.83.0.${n + 2}/24`,
          addressIPv6: `fd83::${n + 2}/64`,
        })
        await sb.setGateway('10.83.0.1')
        await sb.setGatewayIPv6('fd83::1')
        await sb.addStaticRoute({ destination: '10.84.0.0/16', nextHop: '10.83.0.1' })
      }
      const routes = ipJson<{ dst: string; gateway?: string }[]>(['route', 'show'], { netns: boxes[0]!.key })
      expect(routes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ dst: 'default', gateway: '10.83.0.1' }),
          expect.objectContaining({ dst: '10.84.0.0/16', gateway: '10.83.0.1' }),
        ]),
      )
      expect(ipJson<unknown[]>(['route', 'show', 'default'])).toEqual([])
      await expect(boxes[0]!.setGateway('fd83::1')).rejects.toMatchObject({ code: ERR_INVALID_GATEWAY })
      run('ping', ['-c', '1', '-W', '2', '10.83.0.3'], { netns: boxes[0]!.key })
      run('ping', ['-c', '1', '-W', '2', '10.83.0.2'], { netns: boxes[1]!.key })
      run('ping', ['-6', '-c', '1', '-W', '2', 'fd83::3'], { netns: boxes[0]!.key })
    } finally {
      for (const sb of boxes) await sb.destroy()
      run('ip', ['link', 'del', br])
    }
    // Deleting the sandboxes removed the veths with them (the kernel does it shortly after).
    expect(waitForLinksGone()).toEqual([])
  })
})
