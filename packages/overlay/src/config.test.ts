import { describe, expect, it } from 'vitest'
import { parseEndpointConfig } from './endpoint-config.js'
import { parseAlias } from './marks.js'
import { configOptions, parseNetworkConfig } from './network-config.js'
import { parseEndpointRecord, parseNetworkRecord } from './records.js'

describe('overlay network options', () => {
  it('parses the subnet, range, VNI, internal and MTU, and gives them back in record form', () => {
    const cfg = parseNetworkConfig({ addressIPv4: '10.1.0.1/24', fixedCIDR: '10.1.0.128/25', vni: 42, mtu: 1400 })
    expect(cfg).toEqual({ addressIPv4: '10.1.0.1/24', fixedCIDR: '10.1.0.128/25', vni: 42, internal: false, mtu: 1400 })
    expect(parseNetworkConfig(configOptions(cfg))).toEqual(cfg)
    expect(parseNetworkConfig({ addressIPv4: '10.2.0.1/16', internal: true }).internal).toBe(true)
  })

  it.each([
    [undefined, /must be an object/],
    [{}, /needs addressIPv4/],
    [{ addressIPv4: '10.1.0.0/24' }, /gateway's host address/],
    [{ addressIPv4: '10.1.0.1/31' }, /gateway's host address/],
    [{ addressIPv4: 'fd00::1/64' }, /not an IPv4 CIDR/],
    [{ addressIPv4: '10.1.0.1' }, /not an IPv4 CIDR/],
    [{ addressIPv4: '10.1.0.1/24', fixedCIDR: '10.2.0.0/25' }, /not within/],
    [{ addressIPv4: '10.1.0.1/24', vni: 0 }, /vni 0/],
    [{ addressIPv4: '10.1.0.1/24', vni: 16_777_216 }, /vni/],
    [{ addressIPv4: '10.1.0.1/24', vni: '7' }, /vni/],
    [{ addressIPv4: '10.1.0.1/24', mtu: 100 }, /mtu/],
    [{ addressIPv4: '10.1.0.1/24', internal: 'yes' }, /internal/],
    [{ addressIPv4: '10.1.0.1/24', parent: 'eth0' }, /unknown overlay network option "parent"/],
  ])('refuses %j with ERR_INVALID_CONFIG', (raw, message) => {
    expect(() => parseNetworkConfig(raw)).toThrow(message)
    try {
      parseNetworkConfig(raw)
    } catch (err) {
      expect(err).toMatchObject({ code: 'ERR_INVALID_CONFIG', kind: 'invalid' })
    }
  })
})

describe('overlay endpoint options', () => {
  it('takes an IPv4 address and a unicast MAC, refuses published ports', () => {
    expect(parseEndpointConfig(undefined)).toEqual({ ipv4Address: undefined, macAddress: undefined })
    expect(parseEndpointConfig({ ipv4Address: '10.1.0.9', macAddress: '02:42:0A:01:00:09' })).toEqual({
      ipv4Address: '10.1.0.9',
      macAddress: '02:42:0a:01:00:09',
    })
    expect(parseEndpointConfig({ portBindings: [] }).ipv4Address).toBeUndefined()
    expect(() => parseEndpointConfig({ portBindings: [{ proto: 'tcp', containerPort: 80 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SUPPORTED' }),
    )
    for (const bad of [[], 'x', { ipv4Address: 'fd00::1' }, { macAddress: '01:00:5e:00:00:01' }, { x: 1 }]) {
      expect(() => parseEndpointConfig(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    }
  })
})

describe('overlay marks and records', () => {
  it('reads only overlay aliases (never the bridge or macvlan drivers’ marks)', () => {
    expect(parseAlias('cnm:o:overlay:n1')).toEqual({ owner: 'o', network: 'n1' })
    expect(parseAlias('cnm:o:overlay:n1:e1')).toEqual({ owner: 'o', network: 'n1', endpoint: 'e1' })
    expect(parseAlias('cnm:o:network:n1')).toBeUndefined()
    expect(parseAlias('cnm:o:endpoint:n1:e1')).toBeUndefined()
    expect(parseAlias(undefined)).toBeUndefined()
  })

  it('checks the shape of stored records', () => {
    expect(parseNetworkRecord('n', { version: 1, id: 'n', options: {}, vni: 5 }).vni).toBe(5)
    expect(() => parseNetworkRecord('n', { version: 1, id: 'm', options: {}, vni: 5 })).toThrow(/not an overlay/)
    expect(() => parseNetworkRecord('n', { version: 1, id: 'n', options: {} })).toThrow(/not an overlay/)
    const ep = {
      version: 1,
      id: 'e',
      hostVeth: 'ovhe',
      linkName: 'ovce',
      ifName: 'eth0',
      sandboxKey: '',
      ipv4: '10.1.0.2',
      mac: '02:42:0a:01:00:02',
      options: {},
    }
    expect(parseEndpointRecord('e', ep)).toEqual(ep)
    expect(() => parseEndpointRecord('e', { ...ep, ipv4: 7 })).toThrow(/not an overlay/)
  })
})
