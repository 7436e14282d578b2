import {
  describeKernel,
  enableForwarding,
  type Node,
  requireProgram,
  run,
  Topology,
  useHostNetns,
} from '@cnm/netlink/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { snapshot } from '../test/kernel.js'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/**
 * `verify` and `repair` (issue 21 item 1, issue 19 item 3): rules deleted or flushed behind cnm's
 * back are found by looking at what the kernel holds (chains, their rules, sets and map elements)
 * and put back whatever is left of them; traffic is checked after each fault (the negative
 * control: it broke) and after the repair (it works again, and so does the positive control that
 * the fault did not touch).
 */

type Probe = 'published' | 'masquerade'

interface Fault {
  name: string
  inject(bridge: string): void
  breaks: Probe[]
}

const nft = (...args: string[]): void => void run('nft', args)
const ipt = (prog: 'iptables' | 'ip6tables', ...args: string[]): void => void run(prog, args)

/** The handle of the first rule of `chain` in `table inet cnm` whose text contains `needle` (nft's own listing). */
function nftRuleHandle(chain: string, needle: string): string {
  const line = run('nft', ['-a', 'list', 'chain', 'inet', 'cnm', chain])
    .stdout.split('\n')
    .find((l) => l.includes(needle))
  const handle = line?.match(/# handle (\d+)/u)?.[1]
  if (!handle) throw new Error(`no rule with ${needle} in chain ${chain}`)
  return handle
}

const FAULTS: Record<'nftables' | 'iptables', Fault[]> = {
  nftables: [
    { name: 'table deleted', inject: () => nft('delete', 'table', 'inet', 'cnm'), breaks: ['published', 'masquerade'] },
    { name: 'table flushed', inject: () => nft('flush', 'table', 'inet', 'cnm'), breaks: ['published', 'masquerade'] },
    {
      name: 'chain published flushed',
      inject: () => nft('flush', 'chain', 'inet', 'cnm', 'published'),
      breaks: ['published'],
    },
    {
      name: "one rule deleted (the network's masquerade)",
      inject: (br) => {
        const chain = `n-${br}-post`
        nft('delete', 'rule', 'inet', 'cnm', chain, 'handle', nftRuleHandle(chain, `oifname != "${br}" masquerade`))
      },
      breaks: ['masquerade'],
    },
    {
      name: "one map element deleted (the network's source subnet)",
      inject: () => nft('delete', 'element', 'inet', 'cnm', 'post4', '{ 10.50.1.0/24 }'),
      breaks: ['masquerade'],
    },
    {
      name: 'one map element deleted (a published port)',
      inject: () => nft('delete', 'element', 'inet', 'cnm', 'dnat4any', '{ tcp . 8580 }'), // k = 0
      breaks: ['published'],
    },
  ],
  iptables: [
    {
      name: 'nat table flushed',
      inject: () => ipt('iptables', '-t', 'nat', '-F'),
      breaks: ['published', 'masquerade'],
    },
    {
      name: 'chain CNM-DNAT flushed',
      inject: () => ipt('iptables', '-t', 'nat', '-F', 'CNM-DNAT'),
      breaks: ['published'],
    },
    {
      name: 'one rule deleted (the jump into CNM-POSTROUTING)',
      inject: () => ipt('iptables', '-t', 'nat', '-D', 'POSTROUTING', '-j', 'CNM-POSTROUTING'),
      breaks: ['masquerade'],
    },
    {
      name: "the network's nat chain flushed",
      inject: (br) => ipt('iptables', '-t', 'nat', '-F', `CNM-POST-${br}`),
      breaks: ['masquerade'],
    },
  ],
}

describeKernel('firewall verify and repair (kernel, real traffic)', () => {
  const host = useHostNetns()

  beforeAll(() => {
    for (const tool of ['nft', 'iptables-restore', 'ip6tables-restore']) requireProgram(tool)
    enableForwarding()
  })

  describe.each([
    ['nftables', 0],
    ['iptables', 1],
  ] as const)('%s backend', (backend, k) => {
    const topo = new Topology(host)
    const host4 = `198.51.${110 + k}.1`
    let fw: Firewall
    let c1: Node
    let c2: Node
    let ext: Node
    let net: NetworkRules
    let ports: PortMapping[]

    beforeAll(async () => {
      fw = await createFirewall({ backend })
      const br = topo.bridge(`10.5${k}.1.1/24`, `fd5${k}:1::1/64`)
      ;[c1, c2, ext] = await Promise.all([
        topo.container('c1', br, `10.5${k}.1.2/24`, `fd5${k}:1::2/64`, `10.5${k}.1.1`, `fd5${k}:1::1`),
        topo.container('c2', br, `10.5${k}.1.3/24`, `fd5${k}:1::3/64`, `10.5${k}.1.1`, `fd5${k}:1::1`),
        topo.machine('ext', `198.51.${110 + k}.2/24`, `2001:db8:5${k}::2/64`, `${host4}/24`, `2001:db8:5${k}::1/64`),
      ])
      for (const node of [c1, c2, ext]) await node.agent.listen('tcp', 80)
      net = { id: `rep${k}`, bridge: br, subnets: [`10.5${k}.1.0/24`, `fd5${k}:1::/64`] }
      ports = [{ proto: 'tcp', hostPort: 8580 + k, containerIP: c1.ip4, containerPort: 80, bridge: br }]
      await fw.addNetwork(net)
      await fw.addPorts(ports)
    })

    afterAll(async () => {
      await fw?.flush()
      await topo.remove()
    })

    /** What works now: ext reaches c1 through the published port; c2's traffic to ext leaves as the host. */
    async function probe(timeoutMs = 400): Promise<Record<Probe | 'local', boolean>> {
      const [published, masq, local] = await Promise.all([
        ext.agent.connect('tcp', host4, 8580 + k, timeoutMs),
        c2.agent.connect('tcp', ext.ip4, 80, timeoutMs),
        c2.agent.connect('tcp', c1.ip4, 80, timeoutMs),
      ])
      return {
        published: published.ok && published.name === 'c1',
        masquerade: masq.ok && masq.name === 'ext' && masq.peer === host4,
        // Not the firewall's: traffic on the bridge itself, which no fault here touches.
        local: local.ok && local.name === 'c1',
      }
    }

    it('verify finds nothing missing, and repair changes nothing, when every rule is there', async () => {
      expect(await probe(1500)).toEqual({ published: true, masquerade: true, local: true })
      expect(await fw.verify({ networks: [net], ports })).toEqual({ skeleton: [], networks: [], ports: [] })
      const before = snapshot()
      expect(await fw.repair({ networks: [net], ports })).toEqual({ skeleton: [], networks: [], ports: [] })
      expect(snapshot()).toEqual(before)
    })

    for (const fault of FAULTS[backend]) {
      it(`${fault.name}: found by verify, put back by repair, traffic works again`, async () => {
        const before = snapshot()
        fault.inject(net.bridge)
        const broken = await probe()
        for (const p of fault.breaks) expect(broken[p], `${fault.name} breaks ${p}`).toBe(false)
        expect(broken.local, 'the positive control still works').toBe(true)
        const found = await fw.verify({ networks: [net], ports })
        expect(
          found.skeleton.length + found.networks.length + found.ports.length,
          JSON.stringify(found),
        ).toBeGreaterThan(0)
        expect(await fw.repair({ networks: [net], ports })).toEqual(found)
        expect(await fw.verify({ networks: [net], ports })).toEqual({ skeleton: [], networks: [], ports: [] })
        expect(await probe(1500)).toEqual({ published: true, masquerade: true, local: true })
        // The same rules as before the fault (iptables: in any order).
        if (backend === 'nftables') expect(snapshot().nftables).toEqual(before.nftables)
        else expect(snapshot().iptables.split('\n').sort()).toEqual(before.iptables.split('\n').sort())
      }, 30_000)
    }

    it('a repair does not take a host port that now goes elsewhere: EEXIST, the rest is repaired', async () => {
      const other: PortMapping = { proto: 'tcp', hostPort: 8580 + k, containerIP: c2.ip4, containerPort: 80 }
      await fw.deletePorts(ports)
      await fw.addPorts([other])
      if (backend === 'nftables') nft('flush', 'chain', 'inet', 'cnm', 'published')
      await expect(fw.repair({ networks: [net], ports })).rejects.toMatchObject({ code: 'EEXIST' })
      // The rest is back, and the port still goes where the other owner put it.
      expect(await ext.agent.connect('tcp', host4, 8580 + k, 1500)).toMatchObject({ ok: true, name: 'c2' })
      await fw.deletePorts([other])
      await fw.addPorts(ports)
      await fw.repair({ networks: [net], ports })
      expect(await probe(1500)).toEqual({ published: true, masquerade: true, local: true })
    }, 30_000)
  })
})
