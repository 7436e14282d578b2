import type { JoinedEndpoint, NetworkInspect } from '@cnm/controller'
import { describe, expect, it } from 'vitest'
import { dnsEntryOf, dnsPlanOf } from './dns-plan.js'

const net = (over: Partial<NetworkInspect>): NetworkInspect => ({
  id: 'n1',
  name: 'web',
  driver: 'bridge',
  options: {},
  device: 'br-web',
  subnet: '10.1.0.0/24',
  gateway: '10.1.0.1',
  subnetIPv6: undefined,
  gatewayIPv6: undefined,
  internal: false,
  icc: true,
  endpoints: [],
  ...over,
})

const ep = (over: Partial<JoinedEndpoint> = {}): JoinedEndpoint => ({
  id: 'e1',
  name: 'webep',
  networkId: 'n1',
  aliases: [],
  ipv4: '10.1.0.2',
  ipv6: undefined,
  sandbox: { id: 's1', containerID: 'c1', name: undefined, key: '/run/cnm/netns/c1' },
  ...over,
})

describe('which networks get a DNS server', () => {
  it('bridge networks, on their gateways (both families); internal ones without forwarding', () => {
    expect(dnsPlanOf(net({ subnetIPv6: 'fd00:1::/64', gatewayIPv6: 'fd00:1::1' }))).toEqual({
      networkId: 'n1',
      networkName: 'web',
      addresses: ['10.1.0.1', 'fd00:1::1'],
      subnets: ['10.1.0.0/24', 'fd00:1::/64'],
      forward: true,
    })
    expect(dnsPlanOf(net({ internal: true }))?.forward).toBe(false)
  })

  it('not null, macvlan, or a network without a gateway on the host', () => {
    expect(dnsPlanOf(net({ driver: 'null', gateway: undefined, subnet: undefined }))).toBeUndefined()
    expect(dnsPlanOf(net({ driver: 'macvlan' }))).toBeUndefined()
    // dockerd's (through the plugin): its containers ask Docker's own DNS.
    expect(dnsPlanOf(net({ name: `docker-${'ab'.repeat(32)}` }))).toBeUndefined()
    expect(dnsPlanOf(net({ name: `docker-${'ab'.repeat(6)}` }))).toBeDefined()
    expect(dnsPlanOf(net({ gateway: undefined }))).toBeUndefined()
  })
})

describe("an endpoint's names", () => {
  it('container name first (PTR), then endpoint name, container id (and short id), aliases; duplicates and non-DNS names left out', () => {
    const long = 'a'.repeat(64)
    expect(
      dnsEntryOf(
        ep({
          aliases: ['www', 'WEB', 'front.end'],
          ipv6: 'fd00:1::2',
          sandbox: { id: 's1', containerID: long, name: 'web', key: '/k' },
        }),
      ),
    ).toEqual({
      id: 'e1',
      name: 'web',
      aliases: ['webep', 'aaaaaaaaaaaa', 'www', 'front.end'],
      addresses: ['10.1.0.2', 'fd00:1::2'],
    })
    // Without a container name, the endpoint name answers PTR.
    expect(dnsEntryOf(ep())).toEqual({ id: 'e1', name: 'webep', aliases: ['c1'], addresses: ['10.1.0.2'] })
  })

  it('no entry for an endpoint without addresses', () => {
    expect(dnsEntryOf(ep({ ipv4: undefined }))).toBeUndefined()
  })
})
