import { randomBytes } from 'node:crypto'
import { describeKernel, ipJson, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { createBridgeDriver } from './driver.js'

const id = (): string => randomBytes(32).toString('hex')

describeKernel('what cannot work is refused (kernel)', () => {
  useHostNetns()

  it('a port published on an internal network is refused before anything is created', async () => {
    const driver = createBridgeDriver({ owner: 'refusals' })
    await driver.config({ firewallBackend: 'nftables' })
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.61.0.1/24', internal: true })
    const links = (): string[] => ipJson<{ ifname: string }[]>(['link', 'show']).map((l) => l.ifname)
    const before = links()
    await expect(
      driver.createEndpoint(nid, id(), '', { portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 18061 }] }),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      kind: 'invalid',
      message: expect.stringMatching(/internal/u),
    })
    expect(links()).toEqual(before)
    expect(
      (await driver.persistence.removeStrays({ networks: new Map(), endpoints: new Map() })).firewallPorts,
    ).toEqual([])
    // Without ports the same endpoint is fine (the positive control), and an IPv6 address on this
    // IPv4-only network is refused.
    const ok = id()
    await driver.createEndpoint(nid, ok, '', {})
    await expect(driver.createEndpoint(nid, id(), '', { ipv6Address: 'fd00::5' })).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
    })
    await driver.deleteEndpoint(nid, ok)
    await driver.deleteNetwork(nid)
    await driver.close()
  })
})
