import { describeKernel, requireProgram, run, Topology, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createFirewall, type Firewall } from './firewall.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/**
 * A repair inside a batch (issue 14): a start-up's batch reads cnm's table and the host's forward
 * chains once and answers later reads from that (a repair per restored network included: that is
 * what makes a start-up cheap); the firewall watch's repair, which runs because someone else changed
 * the ruleset meanwhile, must look at the kernel as it is now. The watch says so first
 * (`kernelChanged`, on the nf_tables change event); answered from the batch's read, the repair would
 * find nothing missing and put nothing back.
 */
describeKernel('firewall repair during a batch reads the kernel, not the batch cache (kernel)', () => {
  const host = useHostNetns()
  const topo = new Topology(host)
  let fw: Firewall
  let net: NetworkRules
  let ports: PortMapping[]

  const nft = (...args: string[]): string => run('nft', args).stdout
  /** The DNAT elements of cnm's table, as `nft -j` lists them: `proto . port` keys. */
  const dnatKeys = (): string[] => {
    const json = JSON.parse(nft('-j', 'list', 'table', 'inet', 'cnm')) as { nftables: Record<string, unknown>[] }
    const keys: string[] = []
    for (const o of json.nftables) {
      const map = o.map as { name?: string; elem?: unknown[] } | undefined
      if (!map?.name?.startsWith('dnat')) continue
      for (const e of map.elem ?? []) {
        const key = (Array.isArray(e) ? e[0] : e) as { concat?: unknown[] }
        keys.push(JSON.stringify(key.concat ?? key))
      }
    }
    return keys
  }
  const tableExists = (): boolean => nft('list', 'tables').includes('table inet cnm')

  beforeAll(async () => {
    requireProgram('nft')
    // A host firewall with a forward chain: cnm adds its accept rules there (the host-forward part).
    nft('add', 'table', 'ip', 'hostfw')
    nft('add', 'chain', 'ip', 'hostfw', 'forward', '{ type filter hook forward priority 0; policy accept; }')
    fw = await createFirewall({ backend: 'nftables' })
    const br = topo.bridge('10.61.1.1/24', 'fd61:1::1/64')
    net = { id: 'batchrep', bridge: br, subnets: ['10.61.1.0/24'] }
    ports = [{ proto: 'tcp', hostPort: 8611, containerIP: '10.61.1.2', containerPort: 80, bridge: br }]
    await fw.addNetwork(net)
    await fw.addPorts(ports)
  })

  afterAll(async () => {
    fw?.endBatch()
    await fw?.flush()
    run('nft', ['delete', 'table', 'ip', 'hostfw'], { check: false })
    await topo.remove()
  })

  it("puts back cnm's table, a published port and the host's accept rules deleted after the batch's read", async () => {
    const expected = { networks: [net], ports }
    expect(dnatKeys()).toHaveLength(1)
    expect(nft('list', 'chain', 'ip', 'hostfw', 'forward')).toContain('jump CNM-ACCEPT')
    fw.beginBatch()
    try {
      // The batch's one read: everything is there.
      expect((await fw.inventory()).ports).toHaveLength(1)
      expect(await fw.verify(expected)).toEqual({ skeleton: [], networks: [], ports: [] })
      // Someone else deletes cnm's table and flushes the host's forward chain.
      nft('delete', 'table', 'inet', 'cnm')
      nft('flush', 'chain', 'ip', 'hostfw', 'forward')
      expect(tableExists()).toBe(false)
      fw.kernelChanged() // what the firewall watch does on that change event
      const damage = await fw.repair(expected)
      expect(
        damage.skeleton.length + damage.networks.length + damage.ports.length,
        JSON.stringify(damage),
      ).toBeGreaterThan(0)
      expect(damage.networks.find((n) => n.bridge === net.bridge)?.missing.length ?? 0).toBeGreaterThan(0)
      // What the kernel holds now, read by nft itself.
      expect(tableExists()).toBe(true)
      expect(dnatKeys()).toHaveLength(1)
      expect(nft('list', 'chain', 'ip', 'hostfw', 'forward')).toContain('jump CNM-ACCEPT')
      // Reads later in the batch see the repaired kernel, and a second repair finds nothing.
      expect(await fw.verify(expected)).toEqual({ skeleton: [], networks: [], ports: [] })
      expect(await fw.repair(expected)).toEqual({ skeleton: [], networks: [], ports: [] })
    } finally {
      fw.endBatch()
    }
  }, 30_000)
})
