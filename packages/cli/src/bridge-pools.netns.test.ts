import { existsSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createController, type NetworkController } from '@cnm/controller'
import { describeKernel, ipJson, useHostNetns } from '@cnm/netlink/testing'
import { afterAll, expect, it } from 'vitest'
import { parseAddressPoolFlags } from './address-pools.js'
import { bridgeWithPools } from './bridge-pools.js'

// What `cnm serve --default-address-pool` gives the controller: networks created without a subnet
// get theirs from the daemon's pools, at every start (the flag wins over what the store recorded).

describeKernel('--default-address-pool: the bridge driver elects from the daemon pools (kernel)', () => {
  const host = useHostNetns()
  const tmp = mkdtempSync(path.join(tmpdir(), 'cnm-pools-'))
  afterAll(() => rmSync(tmp, { recursive: true, force: true }))

  const open = (pools: string[]): Promise<NetworkController> =>
    createController({
      storePath: path.join(tmp, 'cnm.db'),
      sandboxDir: path.join(host.dir, 'sb'),
      drivers: bridgeWithPools(parseAddressPoolFlags(pools)),
    })
  const addresses = (bridge: string): string[] =>
    (
      ipJson<{ addr_info: { local: string; prefixlen: number; family: string }[] }[]>(['addr', 'show', bridge])[0]
        ?.addr_info ?? []
    )
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`)

  it('networks without --subnet take the next free subnet of the pools; a restart with other pools keeps the old ones', async () => {
    let c = await open(['base=10.110.0.0/16,size=24'])
    try {
      const driver = await c.newNetworkDriver('bridge', {})
      const a = await c.newNetwork(driver, 'pa', {})
      const b = await c.newNetwork(driver, 'pb', {})
      expect([a.inspect().subnet, b.inspect().subnet]).toEqual(['10.110.0.0/24', '10.110.1.0/24'])
      expect(addresses(a.inspect().device ?? '')).toEqual(['10.110.0.1/24'])
    } finally {
      await c.close()
    }
    c = await open(['base=10.120.0.0/16,size=26'])
    try {
      const driver = await c.newNetworkDriver('bridge', {})
      const n = await c.newNetwork(driver, 'pc', {})
      expect(n.inspect().subnet).toBe('10.120.0.0/26')
      expect(c.networks().map((x) => [x.name, x.inspect().subnet])).toEqual(
        expect.arrayContaining([
          ['pa', '10.110.0.0/24'],
          ['pb', '10.110.1.0/24'],
        ]),
      )
      for (const x of c.networks()) await x.delete()
    } finally {
      await c.close()
      // Only when empty (anything left there is for the harness to report); absent when unused.
      if (existsSync(path.join(host.dir, 'sb'))) rmdirSync(path.join(host.dir, 'sb'))
    }
  })
})
