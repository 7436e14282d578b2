// A container with CAP_NET_RAW on an IPv4-only network sends an IPv6 router advertisement (the
// kernel's default, accept_ra=1 with IPv6 forwarding off, would make it the host's IPv6 router:
// CVE-2020-13401). cnm's bridge takes none: no route nor address from it in the host's namespace.
// The control turns accept_ra back on by hand and sends the same packet: then the kernel takes it,
// so the packet is a real RA and the first check means something.
import { randomBytes } from 'node:crypto'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { newSandbox } from '@cnm/sandbox'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type BridgeDriver, createBridgeDriver } from './driver.js'

const id = (): string => randomBytes(32).toString('hex')

/**
 * Sends one router advertisement out of `ifname` (AF_PACKET: the sandbox's raw socket, as an
 * attacker's): router lifetime 1800 s, a /64 prefix to autoconfigure from, from the interface's
 * EUI-64 link-local address to all nodes.
 */
const SEND_RA = `
import socket, struct, sys
ifname, prefix = sys.argv[1], sys.argv[2]
mac = bytes.fromhex(open('/sys/class/net/%s/address' % ifname).read().strip().replace(':', ''))
src = b'\\xfe\\x80' + bytes(6) + bytes([mac[0] ^ 2]) + mac[1:3] + b'\\xff\\xfe' + mac[3:]
dst = socket.inet_pton(socket.AF_INET6, 'ff02::1')
body = struct.pack('!BBHBBHII', 134, 0, 0, 64, 0, 1800, 0, 0)
body += struct.pack('!BB', 1, 1) + mac
body += struct.pack('!BBBBIII', 3, 4, 64, 0xc0, 86400, 14400, 0) + socket.inet_pton(socket.AF_INET6, prefix)
pseudo = src + dst + struct.pack('!I3xB', len(body), 58)
total = 0
data = pseudo + body
for i in range(0, len(data), 2):
    total += (data[i] << 8) + data[i + 1]
while total >> 16:
    total = (total & 0xffff) + (total >> 16)
body = body[:2] + struct.pack('!H', ~total & 0xffff) + body[4:]
packet = struct.pack('!IHBB', 6 << 28, len(body), 58, 255) + src + dst + body
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
s.send(bytes.fromhex('333300000001') + mac + b'\\x86\\xdd' + packet)
`

interface Route {
  dst: string
  dev?: string
  protocol?: string
}

describeKernel('router advertisements from a container (kernel)', () => {
  const host = useHostNetns()
  let driver: BridgeDriver

  beforeAll(async () => {
    driver = createBridgeDriver({ owner: 'ra' })
    await driver.config({ firewallBackend: 'nftables' })
  })

  afterAll(async () => {
    await driver?.close()
  })

  it('the bridge of an IPv4-only network takes no route nor address from a container', async () => {
    const nid = id()
    const bridgeName = uniqueName('bra')
    await driver.createNetwork(nid, { bridgeName, addressIPv4: '10.63.0.1/24' })
    const sb = await newSandbox(host.netnsPath('ra'))
    const eid = id()
    try {
      const info = await driver.createEndpoint(nid, eid, sb.key, {})
      for (const i of info.interfaces) await sb.addInterface(i)
      expect(run('cat', [`/proc/sys/net/ipv6/conf/${bridgeName}/accept_ra`]).stdout.trim()).toBe('0')
      expect(run('cat', ['/proc/sys/net/ipv6/conf/all/forwarding']).stdout.trim()).toBe('0')
      const ifname = info.interfaces[0]?.dstName ?? 'eth0'
      const fromRouter = (): Route[] =>
        ipJson<Route[]>(['-6', 'route', 'show', 'dev', bridgeName]).filter(
          (r) => r.protocol === 'ra' || r.dst === 'default',
        )
      const prefixAddresses = (prefix: string): unknown[] =>
        ipJson<{ addr_info: { local: string }[] }[]>(['-6', 'addr', 'show', 'dev', bridgeName]).flatMap((l) =>
          l.addr_info.filter((a) => a.local.startsWith(prefix)),
        )
      run('python3', ['-c', SEND_RA, ifname, '2001:db8:a1::'], { netns: sb.key })
      await new Promise((r) => setTimeout(r, 300))
      expect(fromRouter()).toEqual([])
      expect(prefixAddresses('2001:db8:a1:')).toEqual([])

      // Control: with the kernel's default back, the same packet is taken.
      run('sysctl', ['-qw', `net.ipv6.conf.${bridgeName}.accept_ra=1`])
      run('python3', ['-c', SEND_RA, ifname, '2001:db8:a2::'], { netns: sb.key })
      const end = Date.now() + 3000
      while (fromRouter().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50))
      expect(fromRouter()).not.toEqual([])
    } finally {
      await driver.deleteEndpoint(nid, eid)
      await sb.destroy()
      await driver.deleteNetwork(nid)
    }
  })

  it('an adopted bridge gets accept_ra=0 too, and its own value back when the network goes', async () => {
    const br = uniqueName('bra')
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['addr', 'add', '10.64.0.1/24', 'dev', br])
    try {
      const nid = id()
      await driver.createNetwork(nid, { bridgeName: br })
      expect(run('cat', [`/proc/sys/net/ipv6/conf/${br}/accept_ra`]).stdout.trim()).toBe('0')
      await driver.deleteNetwork(nid)
      expect(run('cat', [`/proc/sys/net/ipv6/conf/${br}/accept_ra`]).stdout.trim()).toBe('1')
    } finally {
      run('ip', ['link', 'del', br])
    }
  })
})
