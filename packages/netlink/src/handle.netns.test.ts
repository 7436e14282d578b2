import { lookup } from 'node:dns/promises'
import { stat } from 'node:fs/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { ERR_INVALID_INTERFACE_NAME } from './errors.js'
import { type Handle, openHandle } from './handle.js'
import { createNetns, deleteNetns, netnsInode } from './namespace.js'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from './testing/index.js'

interface IpLink {
  ifname: string
  mtu: number
  address: string
  flags: string[]
  master?: string
  linkinfo?: { info_kind?: string; info_slave_data?: { hairpin?: boolean } }
}
interface IpAddr {
  ifname: string
  addr_info: { local: string; prefixlen: number; family: string }[]
}

describeKernel('netlink handles (kernel)', () => {
  const host = useHostNetns()
  let h: Handle
  let nsA: string
  let nsB: string

  beforeAll(async () => {
    h = await openHandle()
    nsA = host.netnsPath('a')
    nsB = host.netnsPath('b')
    await createNetns(nsA)
    await createNetns(nsB)
  })

  afterAll(() => {
    h?.close()
    deleteNetns(nsA)
    deleteNetns(nsB)
  })

  const link = (name: string, netns?: string): IpLink | undefined =>
    ipJson<IpLink[]>(['-d', 'link', 'show'], netns ? { netns } : {}).find((l) => l.ifname === name)

  it('lists links, and gets one by name and by index', async () => {
    const links = await h.listLinks()
    expect(links.map((l) => l.name)).toEqual(['lo'])
    const lo = await h.getLink('lo')
    expect((await h.getLink(lo.index)).name).toBe('lo')
    await expect(h.getLink('nosuchlink0')).rejects.toMatchObject({ code: 'ENODEV' })
    expect(await h.findLink('nosuchlink0')).toBeUndefined()
  })

  it('creates a bridge with a fixed MAC and MTU, brings it up, deletes it', async () => {
    const br = uniqueName('br')
    const made = await h.createBridge(br, { mac: '02:42:0a:00:00:01', mtu: 1400, alias: 'cnm:net1', group: 4242 })
    expect(made.group).toBe(4242)
    expect(ipJson<{ group?: string }[]>(['link', 'show', br])[0]?.group).toBe('4242')
    expect(made).toMatchObject({
      name: br,
      kind: 'bridge',
      mac: '02:42:0a:00:00:01',
      mtu: 1400,
      up: false,
      alias: 'cnm:net1',
    })
    expect(ipJson<{ ifalias?: string }[]>(['link', 'show', br])[0]?.ifalias).toBe('cnm:net1')
    expect(link(br)).toMatchObject({ address: '02:42:0a:00:00:01', mtu: 1400, linkinfo: { info_kind: 'bridge' } })
    await expect(h.createBridge(br)).rejects.toMatchObject({ code: 'EEXIST', message: expect.stringContaining(br) })
    await h.setLinkUp(br)
    expect(link(br)?.flags).toContain('UP')
    await h.setLinkUp(br, false)
    expect(link(br)?.flags).not.toContain('UP')
    await h.deleteLink(br)
    expect(link(br)).toBeUndefined()
    await expect(h.deleteLink(br)).rejects.toMatchObject({ code: 'ENODEV' })
  })

  it('creates a veth whose peer is born in another namespace under its final name', async () => {
    const veth = uniqueName('ve')
    await h.createVeth(veth, 'eth0', { peerNetns: nsA, mtu: 1450, peerMac: '02:42:0a:00:00:02' })
    expect(link(veth)).toMatchObject({ mtu: 1450, linkinfo: { info_kind: 'veth' } })
    expect(link('eth0', nsA)).toMatchObject({ mtu: 1450, address: '02:42:0a:00:00:02' })
    expect(link('eth0')).toBeUndefined()
    await h.deleteLink(veth)
    expect(link('eth0', nsA)).toBeUndefined()
  })

  it('deletes links on the thread pool: the kernel waits inside the request, not the event loop', async () => {
    const names = [0, 1, 2, 3, 4].map(() => uniqueName('vd'))
    for (const name of names) await h.createVeth(name, `${name}p`)
    // The kernel waits inside a link's deletion for the device's last users (~20 ms a veth here):
    // sent from the event loop, the loop would be busy for nearly all of it.
    const start = performance.eventLoopUtilization()
    const t0 = performance.now()
    for (const name of names) await h.deleteLink(name)
    const wall = performance.now() - t0
    const busy = performance.eventLoopUtilization(performance.eventLoopUtilization(), start).active
    expect(busy).toBeLessThan(wall / 2)
    for (const name of names) expect(link(name)).toBeUndefined()
    await expect(h.deleteLink(names[0] as string)).rejects.toMatchObject({ code: 'ENODEV', kind: 'not-found' })
  })

  it('sets MTU, MAC, master, hairpin; renames and moves a link', async () => {
    const br = uniqueName('br')
    const v1 = uniqueName('v')
    const v2 = uniqueName('v')
    await h.createBridge(br)
    await h.createVeth(v1, v2)
    await h.setMtu(v1, 1300)
    await h.setMac(v1, '02:00:00:00:00:aa')
    await h.setMaster(v1, br)
    await h.setHairpin(v1, true)
    expect(link(v1)).toMatchObject({ mtu: 1300, address: '02:00:00:00:00:aa', master: br })
    expect(link(v1)?.linkinfo?.info_slave_data?.hairpin).toBe(true)
    expect((await h.getLink(v1)).hairpin).toBe(true)
    await h.setHairpin(v1, false)
    expect(link(v1)?.linkinfo?.info_slave_data?.hairpin).toBe(false)
    await h.setMaster(v1, null)
    expect(link(v1)?.master).toBeUndefined()
    const renamed = uniqueName('r')
    await h.renameLink(v2, renamed)
    expect(link(renamed)).toBeDefined()
    await h.moveLink(renamed, nsB)
    expect(link(renamed)).toBeUndefined()
    expect(link(renamed, nsB)).toBeDefined()
    await h.deleteLink(v1)
    await h.deleteLink(br)
    expect(link(renamed, nsB)).toBeUndefined()
  })

  it('rejects bad input before any request', async () => {
    await expect(h.createBridge('x'.repeat(16))).rejects.toMatchObject({ code: ERR_INVALID_INTERFACE_NAME })
    await expect(h.createVeth('ok0', 'a/b')).rejects.toMatchObject({ code: ERR_INVALID_INTERFACE_NAME })
    await expect(h.createBridge(uniqueName('b'), { mac: 'zz:00:00:00:00:00' })).rejects.toMatchObject({
      code: 'ERR_INVALID_MAC',
    })
    await expect(h.createBridge(uniqueName('b'), { mtu: 70000 })).rejects.toMatchObject({ code: 'ERR_INVALID_MTU' })
    await expect(h.addAddress('lo', '10.0.0.1/33')).rejects.toMatchObject({ code: 'ERR_INVALID_ADDRESS' })
    expect((await h.listLinks()).map((l) => l.name)).toEqual(['lo'])
  })

  it('adds, lists and deletes v4 and v6 addresses', async () => {
    const br = uniqueName('br')
    await h.createBridge(br)
    await h.setLinkUp(br)
    await h.addAddress(br, '10.77.0.1/24')
    await h.addAddress(br, 'fd77::1/64')
    const addrs = (ipJson<IpAddr[]>(['addr', 'show', br])[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)
    expect(addrs).toEqual(expect.arrayContaining(['10.77.0.1/24', 'fd77::1/64']))
    const ours = (await h.listAddresses(br)).map((a) => a.cidr)
    expect(ours).toEqual(expect.arrayContaining(['10.77.0.1/24', 'fd77::1/64']))
    await expect(h.addAddress(br, '10.77.0.1/24')).rejects.toMatchObject({ code: 'EEXIST' })
    await h.deleteAddress(br, '10.77.0.1/24')
    await h.deleteAddress(br, 'fd77::1/64')
    const left = (ipJson<IpAddr[]>(['addr', 'show', br])[0]?.addr_info ?? []).filter(
      (a) => a.family === 'inet' || !a.local.startsWith('fe80'),
    )
    expect(left).toEqual([])
    await expect(h.deleteAddress(br, '10.77.0.1/24')).rejects.toMatchObject({ code: 'EADDRNOTAVAIL' })
    await h.deleteLink(br)
  })

  it('works inside another namespace: routes, gateways, sysctls, and ping end to end', async () => {
    const inA = await openHandle({ netns: nsA })
    const inB = await openHandle({ netns: nsB })
    try {
      expect(inA.inode).toBe(netnsInode(nsA))
      const br = uniqueName('br')
      const va = uniqueName('va')
      const vb = uniqueName('vb')
      await h.createBridge(br)
      await h.addAddress(br, '10.78.0.1/24')
      await h.addAddress(br, 'fd78::1/64')
      await h.setLinkUp(br)
      for (const [v, ns, sub] of [
        [va, nsA, inA],
        [vb, nsB, inB],
      ] as const) {
        await h.createVeth(v, 'eth0', { peerNetns: ns })
        await h.setMaster(v, br)
        await h.setLinkUp(v)
        await sub.setLinkUp('lo')
        await sub.setLinkUp('eth0')
      }
      await inA.addAddress('eth0', '10.78.0.2/24')
      await inB.addAddress('eth0', '10.78.0.3/24')
      await inA.addAddress('eth0', 'fd78::2/64')
      await inB.addAddress('eth0', 'fd78::3/64')
      await inA.addRoute({ destination: 'default', gateway: '10.78.0.1' })
      await inA.addRoute({ destination: 'default', gateway: 'fd78::1' })
      await inA.addRoute({ destination: '10.99.0.0/16', gateway: '10.78.0.3', interfaceName: 'eth0' })
      const routes = ipJson<{ dst: string; gateway?: string }[]>(['route', 'show'], { netns: nsA })
      expect(routes).toEqual(
        expect.arrayContaining([expect.objectContaining({ dst: 'default', gateway: '10.78.0.1' })]),
      )
      expect(routes).toEqual(
        expect.arrayContaining([expect.objectContaining({ dst: '10.99.0.0/16', gateway: '10.78.0.3' })]),
      )
      const v6 = ipJson<{ dst: string; gateway?: string }[]>(['-6', 'route', 'show'], { netns: nsA })
      expect(v6).toEqual(expect.arrayContaining([expect.objectContaining({ dst: 'default', gateway: 'fd78::1' })]))
      expect((await inA.listRoutes(4)).map((r) => r.destination)).toEqual(
        expect.arrayContaining(['default', '10.99.0.0/16']),
      )
      expect(ipJson<unknown[]>(['route', 'show', 'default'])).toEqual([])
      await expect(inA.addRoute({ destination: 'default', gateway: '10.78.0.1' })).rejects.toMatchObject({
        code: 'EEXIST',
      })
      await inA.deleteRoute({ destination: '10.99.0.0/16', gateway: '10.78.0.3', interfaceName: 'eth0' })

      inA.writeSysctl('net/ipv4/conf/all/forwarding', '1')
      expect(inA.readSysctl('net.ipv4.conf.all.forwarding')).toBe('1')
      expect(run('cat', ['/proc/sys/net/ipv4/conf/all/forwarding'], { netns: nsA }).stdout.trim()).toBe('1')
      expect(h.readSysctl('net/ipv4/conf/all/forwarding')).toBe('0')
      expect(netnsInode()).toBe(host.inode)

      run('ping', ['-c', '1', '-W', '2', '10.78.0.3'], { netns: nsA })
      run('ping', ['-c', '1', '-W', '2', '10.78.0.2'], { netns: nsB })
      run('ping', ['-c', '1', '-W', '2', '10.78.0.1'], { netns: nsA })
      run('ping', ['-6', '-c', '1', '-W', '2', 'fd78::3'], { netns: nsA })
      await h.deleteLink(va)
      await h.deleteLink(vb)
      await h.deleteLink(br)
    } finally {
      inA.close()
      inB.close()
    }
    await expect(inA.listLinks()).rejects.toMatchObject({ code: 'ERR_HANDLE_CLOSED' })
  })

  it('leaves the process in its own namespace, and the thread pool in the original one', async () => {
    for (let i = 0; i < 50; i++) {
      const inA = await openHandle({ netns: nsA })
      inA.writeSysctl('net/ipv4/conf/all/forwarding', '0')
      await inA.listLinks()
      inA.close()
      expect(netnsInode()).toBe(host.inode)
    }
    // An async stat runs on a pool thread: /proc/thread-self/ns/net there names the pool's namespace.
    const inodes = await Promise.all(
      Array.from({ length: 8 }, async () => (await stat('/proc/thread-self/ns/net')).ino),
    )
    expect(new Set(inodes)).toEqual(new Set([host.originInode]))
    await expect(lookup('localhost')).resolves.toBeTruthy()
  })

  it('lists bound ports through sock_diag: listening TCP and bound UDP, v4 and v6', async () => {
    const { createServer } = await import('node:net')
    const { createSocket } = await import('node:dgram')
    const tcp = createServer()
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r))
    const udp = createSocket('udp6')
    await new Promise<void>((r) => udp.bind(0, '::', r))
    const tcpPort = (tcp.address() as { port: number }).port
    const udpPort = udp.address().port
    try {
      const [inode, uid] = [expect.any(Number), process.getuid?.()] // the socket's owner: this process's user
      expect(await h.boundPorts('tcp')).toContainEqual({
        proto: 'tcp',
        family: 4,
        ip: '127.0.0.1',
        port: tcpPort,
        inode,
        uid,
      })
      expect(await h.boundPorts('udp')).toContainEqual({ proto: 'udp', family: 6, ip: '::', port: udpPort, inode, uid })
      expect((await h.boundPorts('tcp')).some((p) => p.port === udpPort)).toBe(false)
      // The inode is the one this process's descriptor links to (what finds a port's holder).
      const { readdirSync, readlinkSync } = await import('node:fs')
      const mine = (await h.boundPorts('tcp')).find((p) => p.port === tcpPort)?.inode
      const links = readdirSync('/proc/self/fd').map((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`)
        } catch {
          return ''
        }
      })
      expect(links).toContain(`socket:[${mine}]`)
    } finally {
      tcp.close()
      udp.close()
    }
    // And the namespace of another handle holds none of them.
    const inA = await openHandle({ netns: nsA })
    expect(await inA.boundPorts('tcp')).toEqual([])
    inA.close()
  })

  it('serialises concurrent dumps on one socket', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h.listLinks() : h.listAddresses())))
    expect(results).toHaveLength(20)
  })
})
