import { describeKernel, ipJson, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { newSandbox, type Sandbox } from './sandbox.js'

// The neighbour-discovery race: a peer keeps a neighbour entry for an address whose container was
// replaced by one with another MAC. Joining announces the new MAC (gratuitous ARP, unsolicited NA),
// so the peer's entry is replaced at once; a container set up without the announcement (the
// control, made with `ip` alone) leaves the peer with the stale entry.

interface Neigh {
  dst: string
  lladdr?: string
  state?: string[]
}

const lladdr = (netns: string, ip: string): string | undefined =>
  ipJson<Neigh[]>(['neigh', 'show', 'to', ip, 'dev', 'eth0'], { netns })[0]?.lladdr

async function waitFor(fn: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (fn()) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return fn()
}

const pingsOnce = (netns: string, ip: string): boolean =>
  run('ping', ['-c', '1', '-W', '1', '-n', '-q', ip], { netns, check: false, timeoutMs: 5000 }).status === 0

describeKernel('sandbox: a joining interface announces its addresses (kernel, real traffic)', () => {
  const host = useHostNetns()

  it('a peer with a stale neighbour entry for a reused address takes the new MAC at join and reaches it', async () => {
    run('sysctl', ['-qw', 'net.ipv6.conf.default.accept_dad=0'])
    const br = uniqueName('br')
    run('ip', ['link', 'add', br, 'type', 'bridge'])
    run('ip', ['link', 'set', br, 'up'])
    const veths: string[] = []
    const sandboxes: Sandbox[] = []
    /** A veth whose host end is on the bridge and up; returns the end to hand to the sandbox. */
    const plug = (): string => {
      const [v, c] = [uniqueName('v'), uniqueName('c')]
      run('ip', ['link', 'add', v, 'type', 'veth', 'peer', 'name', c])
      run('ip', ['link', 'set', v, 'master', br, 'up'])
      veths.push(v)
      return c
    }
    const join = async (ip: number, mac: string): Promise<Sandbox> => {
      const sb = await newSandbox(host.netnsPath('sb'))
      sandboxes.push(sb)
      await sb.addInterface({
        srcName: plug(),
        dstName: 'eth0',
        address: `10.77.0.${ip}/24`,
        addressIPv6: `fd77::${ip}/64`,
        macAddress: mac,
      })
      return sb
    }
    try {
      const peer = await join(2, '02:00:00:77:00:02')
      const first = await join(3, '02:00:00:77:00:b1')
      expect(pingsOnce(peer.key, '10.77.0.3')).toBe(true)
      expect(pingsOnce(peer.key, 'fd77::3')).toBe(true)
      expect(lladdr(peer.key, '10.77.0.3')).toBe('02:00:00:77:00:b1')
      expect(lladdr(peer.key, 'fd77::3')).toBe('02:00:00:77:00:b1')
      await first.destroy()

      // Control: the address taken by a namespace set up with `ip` alone (no announcement): the
      // peer keeps the old MAC.
      const ctl = await newSandbox(host.netnsPath('ctl'))
      sandboxes.push(ctl)
      const c = plug()
      run('ip', ['link', 'set', c, 'netns', ctl.key])
      const inCtl = (args: string[]): void => void run('ip', args, { netns: ctl.key })
      inCtl(['link', 'set', c, 'address', '02:00:00:77:00:cc'])
      inCtl(['addr', 'add', '10.77.0.3/24', 'dev', c])
      inCtl(['addr', 'add', 'fd77::3/64', 'dev', c, 'nodad'])
      inCtl(['link', 'set', c, 'up'])
      await new Promise((r) => setTimeout(r, 1000))
      expect(lladdr(peer.key, '10.77.0.3')).toBe('02:00:00:77:00:b1')
      expect(lladdr(peer.key, 'fd77::3')).toBe('02:00:00:77:00:b1')
      await ctl.destroy()

      // The same address joins through the sandbox, with yet another MAC: announced at once.
      await join(3, '02:00:00:77:00:b2')
      expect(await waitFor(() => lladdr(peer.key, '10.77.0.3') === '02:00:00:77:00:b2', 1000)).toBe(true)
      expect(await waitFor(() => lladdr(peer.key, 'fd77::3') === '02:00:00:77:00:b2', 1000)).toBe(true)
      expect(pingsOnce(peer.key, '10.77.0.3')).toBe(true)
      expect(pingsOnce(peer.key, 'fd77::3')).toBe(true)
      // The knobs, as the kernel holds them inside.
      const last = sandboxes[sandboxes.length - 1]?.key ?? ''
      expect(run('sysctl', ['-n', 'net.ipv4.conf.eth0.arp_notify'], { netns: last }).stdout.trim()).toBe('1')
      expect(run('sysctl', ['-n', 'net.ipv6.conf.eth0.ndisc_notify'], { netns: last }).stdout.trim()).toBe('1')
    } finally {
      for (const sb of sandboxes.reverse()) await sb.destroy()
      for (const v of veths) run('ip', ['link', 'del', v], { check: false })
      run('ip', ['link', 'del', br], { check: false })
    }
  }, 60_000)
})
