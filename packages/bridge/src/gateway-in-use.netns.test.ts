import { randomBytes } from 'node:crypto'
import { describeKernel, ipJson, run, uniqueName, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { createBridgeDriver } from './driver.js'
import { ERR_GATEWAY_IN_USE } from './steps/check-gateway.js'

const id = (): string => randomBytes(32).toString('hex')

const links = (): string[] => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
const ruleset = (): string => run('nft', ['list', 'ruleset']).stdout

describeKernel('a gateway that is already a host address (kernel)', () => {
  useHostNetns()

  it('is refused, naming the address and its interface, before anything is created', async () => {
    // The host's own interface (a veth: `dummy` is not in this kernel) holds 10.62.0.5 and fd62::1.
    const [uplink, peer] = [uniqueName('up'), uniqueName('p')]
    run('ip', ['link', 'add', uplink, 'type', 'veth', 'peer', 'name', peer])
    run('ip', ['addr', 'add', '10.62.0.5/24', 'dev', uplink])
    run('ip', ['addr', 'add', 'fd62::1/64', 'dev', uplink, 'nodad'])
    const driver = createBridgeDriver({ owner: 'gateway-check' })
    const created: string[] = []
    try {
      await driver.config({ firewallBackend: 'nftables' })
      const before = { links: links(), rules: ruleset() }
      await expect(driver.createNetwork(id(), { addressIPv4: '10.62.0.5/24' })).rejects.toMatchObject({
        code: ERR_GATEWAY_IN_USE,
        kind: 'conflict',
        message: expect.stringContaining(
          `gateway 10.62.0.5 is already an address of interface ${uplink} (10.62.0.5/24)`,
        ),
      })
      // The IPv6 gateway (the subnet's first address) too.
      await expect(
        driver.createNetwork(id(), { addressIPv4: '10.63.0.1/24', enableIPv6: true, fixedCIDRv6: 'fd62::/64' }),
      ).rejects.toMatchObject({ code: ERR_GATEWAY_IN_USE, message: expect.stringContaining(`fd62::1`) })
      expect({ links: links(), rules: ruleset() }).toEqual(before)

      // Another network's gateway: refused too (its subnet overlaps that network's, which is
      // checked first).
      created.push(id())
      await driver.createNetwork(created[0] ?? '', { addressIPv4: '10.64.0.1/24', bridgeName: uniqueName('brg') })
      const withFirst = links()
      await expect(
        driver.createNetwork(id(), { addressIPv4: '10.64.0.1/16', fixedCIDR: '10.64.128.0/17' }),
      ).rejects.toMatchObject({ code: 'ERR_INVALID_CONFIG', message: expect.stringContaining('10.64.0.0/24') })
      expect(links()).toEqual(withFirst)

      // The control: a free gateway in the same subnet works.
      created.push(id())
      await driver.createNetwork(created[1] ?? '', { addressIPv4: '10.62.0.1/24' })
      const addrs = ipJson<{ addr_info: { local: string }[] }[]>(['addr', 'show']).flatMap((l) =>
        l.addr_info.map((a) => a.local),
      )
      expect(addrs.filter((a) => a === '10.62.0.1' || a === '10.62.0.5')).toHaveLength(2)
    } finally {
      for (const nid of created.reverse()) await driver.deleteNetwork(nid).catch(() => undefined)
      await driver.close()
      run('ip', ['link', 'del', uplink], { check: false })
    }
  })
})
