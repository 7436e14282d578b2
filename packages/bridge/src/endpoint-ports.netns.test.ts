import { randomBytes } from 'node:crypto'
import { describeKernel, ipJson, run, useHostNetns } from '@cnm/netlink/testing'
import { expect, it } from 'vitest'
import { createBridgeDriver } from './driver.js'
import { hostVethName } from './endpoint-names.js'

// publishPorts / unpublishPorts on an endpoint that exists (what Docker's Program/Revoke
// ExternalConnectivity need), read back with `nft`, `ss` and `ip -d`: all or none, exactly the ports
// named taken back, an internal network refused.

const id = (): string => randomBytes(32).toString('hex')
const ruleset = (): string => run('nft', ['list', 'ruleset']).stdout
const held = (): string => run('ss', ['-Hltnu']).stdout
const hairpin = (dev: string): unknown =>
  ipJson<{ linkinfo?: { info_slave_data?: { hairpin?: boolean } } }[]>(['-d', 'link', 'show', 'dev', dev])[0]?.linkinfo
    ?.info_slave_data?.hairpin

describeKernel('bridge: ports published on an existing endpoint (kernel)', () => {
  useHostNetns()

  it('publishes and unpublishes on an existing endpoint, all or none, and refuses an internal network', async () => {
    const driver = createBridgeDriver({ owner: 'epports' })
    await driver.config({ firewallBackend: 'nftables' })
    const nid = id()
    await driver.createNetwork(nid, { addressIPv4: '10.62.0.1/24' })
    const eid = id()
    await driver.createEndpoint(nid, eid, '', {})
    const hostVeth = hostVethName(eid)
    const before = ruleset()
    expect(driver.endpointInfo(nid, eid).ports).toEqual([])

    const made = await driver.publishPorts(nid, eid, [{ proto: 'tcp', containerPort: 80, hostPort: 18062 }])
    expect(made).toMatchObject([{ proto: 'tcp', containerIP: '10.62.0.2', hostIP: '0.0.0.0', hostPort: 18062 }])
    expect(driver.endpointInfo(nid, eid).ports).toEqual(made)
    expect(ruleset()).toMatch(/tcp \. 18062 .*: 10\.62\.0\.2 \. 80/u) // the DNAT map
    expect(held()).toMatch(/0\.0\.0\.0:18062\b/u)
    expect(hairpin(hostVeth)).toBe(true)
    expect(driver.persistence.exportEndpoint(nid, eid)).toMatchObject({ ports: [{ hostPort: 18062 }] })

    // A second call whose last binding cannot be had publishes none of its bindings, and keeps the first.
    await expect(
      driver.publishPorts(nid, eid, [
        { proto: 'udp', containerPort: 53, hostPort: 18063 },
        { proto: 'tcp', containerPort: 81, hostPort: 18062 },
      ]),
    ).rejects.toMatchObject({ code: 'ERR_PORT_MAPPED_FOR_IP', kind: 'conflict' })
    expect(driver.endpointInfo(nid, eid).ports).toEqual(made)
    expect(ruleset()).not.toMatch(/\b18063\b/u)
    expect(held()).not.toMatch(/:18063\b/u)

    // More ports, then exactly the named ones taken back.
    const more = await driver.publishPorts(nid, eid, [{ proto: 'udp', containerPort: 53, hostPort: 18063 }])
    await driver.unpublishPorts(nid, eid, made)
    expect(driver.endpointInfo(nid, eid).ports).toEqual(more)
    expect(ruleset()).not.toMatch(/\b18062\b/u)
    expect(held()).not.toMatch(/:18062\b/u)
    await driver.unpublishPorts(nid, eid, more)
    expect(driver.endpointInfo(nid, eid).ports).toEqual([])
    expect(ruleset()).toBe(before)
    expect(held()).not.toMatch(/:1806[23]\b/u)

    // An internal network: refused before anything changes.
    const internal = id()
    await driver.createNetwork(internal, { addressIPv4: '10.63.0.1/24', internal: true })
    const ie = id()
    await driver.createEndpoint(internal, ie, '', {})
    const quiet = ruleset()
    await expect(
      driver.publishPorts(internal, ie, [{ proto: 'tcp', containerPort: 80, hostPort: 18064 }]),
    ).rejects.toMatchObject({
      code: 'ERR_INVALID_CONFIG',
      kind: 'invalid',
      message: expect.stringMatching(/internal/u),
    })
    expect(ruleset()).toBe(quiet)

    await driver.deleteEndpoint(internal, ie)
    await driver.deleteNetwork(internal)
    await driver.deleteEndpoint(nid, eid)
    await driver.deleteNetwork(nid)
    await driver.close()
  })
})
