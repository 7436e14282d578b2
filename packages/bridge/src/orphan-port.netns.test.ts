// An endpoint whose unpublish fails while it is deleted (here: the DNAT element was pointed
// elsewhere behind cnm's back, so the firewall's delete fails) is deleted all the same (its teardown error is raised)
// but the port mapper kept the mapping, and its host port, to retry — and nothing retried: the host
// port stayed taken until the process restarted. The driver's stray check (`cnm reconcile`) now
// lets such a mapping go: the port can be published again. Checked with `nft -j` and a real bind.
import { randomBytes } from 'node:crypto'
import { describeKernel, run, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { createBridgeDriver } from './driver.js'

const id = (): string => randomBytes(32).toString('hex')

describeKernel('a mapping left by a failed unpublish (kernel)', () => {
  useHostNetns()

  it('is let go by the stray check, so its host port can be published again', async () => {
    const driver = createBridgeDriver({ owner: 'orphanport' })
    await driver.config({ firewallBackend: 'nftables' })
    const nid = id()
    const [a, b] = [id(), id()]
    try {
      await driver.createNetwork(nid, { addressIPv4: '10.66.0.1/24' })
      await driver.createEndpoint(nid, a, '', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18660 }] })
      // Someone points the port's DNAT element elsewhere: cnm's delete of its own then fails.
      run('nft', ['delete', 'element', 'inet', 'cnm', 'dnat4any', '{ tcp . 18660 }'])
      run('nft', ['add', 'element', 'inet', 'cnm', 'dnat4any', '{ tcp . 18660 : 10.66.0.99 . 80 }'])
      await expect(driver.deleteEndpoint(nid, a)).rejects.toMatchObject({ code: 'ERR_TEARDOWN' })
      await expect(
        driver.createEndpoint(nid, b, '', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18660 }] }),
      ).rejects.toMatchObject({ code: 'ERR_PORT_MAPPED_FOR_IP' })
      const report = await driver.persistence.removeStrays({
        networks: new Map([[nid, driver.persistence.exportNetwork(nid)]]),
        endpoints: new Map(),
      })
      expect(report.errors).toEqual([])
      expect(report.firewallPorts).toEqual(
        expect.arrayContaining([expect.stringContaining('tcp/0.0.0.0:18660->10.66.0.2:80 (its endpoint is gone)')]),
      )
      // Free again: no socket holds it, and a new endpoint publishes it.
      const bind = run('python3', ['-c', 'import socket; socket.socket().bind(("0.0.0.0", 18660))'], { check: false })
      expect(bind.status).toBe(0)
      await driver.createEndpoint(nid, b, '', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18660 }] })
      expect(driver.endpointInfo(nid, b).ports).toEqual([expect.objectContaining({ hostPort: 18660 })])
      await driver.deleteEndpoint(nid, b)
    } finally {
      await driver.deleteNetwork(nid).catch(() => undefined)
      await driver.close()
    }
  })
})
