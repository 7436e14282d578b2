import { describeKernel, requireProgram, run, Topology, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createFirewall, type Firewall } from './firewall.js'
import type { Inventory } from './inventory.js'
import type { NetworkRules } from './network-rules.js'
import type { PortMapping } from './port-mapping.js'

/**
 * A batch (a start-up restoring every network and port, issue 14) reads `table inet cnm` once; the
 * backend's own writes during it update that read instead of dropping it (dropped, the next network
 * would read every published port's element again: quadratic in networks × ports). Each step below
 * compares what the batch's read says with what a firewall outside any batch reads from the kernel
 * (`nft -j`), and the batch's `verify` with the kernel's.
 */
describeKernel('firewall writes inside a batch keep its read of the table true (kernel)', () => {
  const host = useHostNetns()
  const topo = new Topology(host)
  let fw: Firewall
  let kernel: Firewall
  let a: NetworkRules
  let b: NetworkRules
  let ports: PortMapping[]

  /** Inventories compared as sets: the kernel lists elements in its own order. */
  const sorted = (inv: Inventory): unknown => ({
    ...inv,
    objects: [...inv.objects].sort(),
    networks: inv.networks
      .map((n) => ({ ...n, subnets: [...n.subnets].sort() }))
      .sort((x, y) => x.bridge.localeCompare(y.bridge)),
    ports: inv.ports.map((p) => JSON.stringify(p)).sort(),
  })
  const same = async (what: string): Promise<void> => {
    expect(sorted(await fw.inventory()), what).toEqual(sorted(await kernel.inventory()))
  }

  beforeAll(async () => {
    requireProgram('nft')
    fw = await createFirewall({ backend: 'nftables' })
    kernel = await createFirewall({ backend: 'nftables' })
    const brA = topo.bridge('10.62.1.1/24', 'fd62:1::1/64')
    const brB = topo.bridge('10.62.2.1/24', 'fd62:2::1/64')
    a = { id: 'batchwa', bridge: brA, subnets: ['10.62.1.0/24', 'fd62:1::/64'] }
    b = { id: 'batchwb', bridge: brB, subnets: ['10.62.2.0/24'], icc: false }
    ports = [
      { proto: 'tcp', hostPort: 8621, containerIP: '10.62.1.2', containerPort: 80, bridge: brA },
      { proto: 'udp', hostIP: '127.0.0.1', hostPort: 8622, containerIP: '10.62.1.3', containerPort: 53, bridge: brA },
      { proto: 'tcp', hostPort: 8623, hostPortEnd: 8624, containerIP: 'fd62:1::2', containerPort: 80, bridge: brA },
    ]
    await fw.addNetwork(a)
  })

  afterAll(async () => {
    fw?.endBatch()
    await fw?.flush()
    await topo.remove()
  })

  it('adds and deletes networks and ports, repairs, and every read in the batch matches the kernel', async () => {
    fw.beginBatch()
    try {
      await same('the first read')
      await fw.addNetwork(b)
      await same('a network added')
      await fw.addPorts(ports)
      await same('ports added')
      await fw.addPorts(ports.slice(0, 1)) // held exactly so already: nothing to write
      await same('ports added again')
      await fw.deletePorts(ports.slice(1, 2))
      await same('a port deleted')
      await fw.deleteNetwork({ bridge: b.bridge })
      await same('a network deleted')
      const expected = { networks: [a, b], ports }
      const damage = await fw.repair(expected) // b and the deleted port are put back
      expect(damage.networks.map((n) => n.bridge)).toEqual([b.bridge])
      expect(damage.ports).toHaveLength(1)
      await same('repaired')
      expect(await fw.verify(expected)).toEqual({ skeleton: [], networks: [], ports: [] })
      expect(await kernel.verify(expected)).toEqual({ skeleton: [], networks: [], ports: [] })
      // And it is still the batch's one read, kept by those writes, not a read per write: a port
      // someone else adds now is seen by the kernel's reader, not by the batch.
      run('nft', ['add', 'element', 'inet', 'cnm', 'dnat4any', '{ tcp . 8629 : 10.62.1.9 . 80 }'])
      expect((await kernel.inventory()).ports.map((p) => p.hostPort)).toContain(8629)
      expect((await fw.inventory()).ports.map((p) => p.hostPort)).not.toContain(8629)
      run('nft', ['delete', 'element', 'inet', 'cnm', 'dnat4any', '{ tcp . 8629 }'])
    } finally {
      fw.endBatch()
    }
    await fw.deleteNetwork({ bridge: b.bridge })
    await fw.deletePorts(ports)
  }, 60_000)
})
