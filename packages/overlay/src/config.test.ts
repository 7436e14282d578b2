import { parseIpam } from '@cnm/driverapi'
import { parseCIDR } from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import { parseEndpointConfig } from './endpoint-config.js'
import { parseAlias } from './marks.js'
import { ipv6FromMac, macFromId, macFromIPv4 } from './names.js'
import { configOptions, parseNetworkConfig } from './network-config.js'
import { parseEndpointRecord, parseNetworkRecord } from './records.js'

describe('overlay network options', () => {
  it('parses the subnet, range, VNI, internal and MTU, and gives them back in record form', () => {
    const cfg = parseNetworkConfig({ addressIPv4: '10.1.0.1/24', fixedCIDR: '10.1.0.128/25', vni: 42, mtu: 1400 })
    expect(cfg).toMatchObject({ vni: 42, internal: false, mtu: 1400, ipv6: undefined })
    expect(cfg.ipv4?.subnet.cidr).toBe('10.1.0.0/24')
    expect(cfg.ipv4?.gateway.text).toBe('10.1.0.1')
    expect(cfg.ipRange?.cidr).toBe('10.1.0.128/25')
    expect(configOptions(cfg)).toEqual({ addressIPv4: '10.1.0.1/24', fixedCIDR: '10.1.0.128/25', vni: 42, mtu: 1400 })
    expect(parseNetworkConfig(configOptions(cfg))).toEqual(cfg)
    expect(parseNetworkConfig({ addressIPv4: '10.2.0.1/16', internal: true }).internal).toBe(true)
  })

  it('parses a dual-stack network: its IPv6 subnet (a /80 or larger), with enableIPv6', () => {
    const cfg = parseNetworkConfig({ addressIPv4: '10.1.0.1/24', enableIPv6: true, fixedCIDRv6: 'FD00:1:0:0::/64' })
    expect(cfg.ipv6?.subnet.cidr).toBe('fd00:1::/64')
    expect(cfg.ipv6?.gateway.text).toBe('fd00:1::1')
    expect(configOptions(cfg)).toMatchObject({ enableIPv6: true, fixedCIDRv6: 'fd00:1::/64' })
    expect(parseNetworkConfig(configOptions(cfg))).toEqual(cfg)
    expect(parseNetworkConfig({ addressIPv4: '10.1.0.1/24', fixedCIDRv6: 'fd00:1::/80' }).ipv6?.subnet.cidr).toBe(
      'fd00:1::/80',
    )
    expect(parseNetworkConfig({ addressIPv4: '10.1.0.1/24', enableIPv6: false }).ipv6).toBeUndefined()
  })

  it('parses an IPv6-only network (enableIPv4 false) and gives it back in record form', () => {
    const cfg = parseNetworkConfig({ enableIPv4: false, enableIPv6: true, fixedCIDRv6: 'fd00:2::/64' })
    expect(cfg).toMatchObject({ ipv4: undefined, ipRange: undefined })
    expect(cfg.ipv6?.subnet.cidr).toBe('fd00:2::/64')
    expect(configOptions(cfg)).toEqual({ enableIPv4: false, enableIPv6: true, fixedCIDRv6: 'fd00:2::/64' })
    expect(parseNetworkConfig(configOptions(cfg))).toEqual(cfg)
  })

  it('holds the IPAM values it is given, and a record in the old text form reads back to the same values and text', () => {
    const ipam = parseIpam({
      v4: [{ subnet: '10.7.0.0/24', gateway: '10.7.0.254', ipRange: '10.7.0.64/26' }],
      v6: [{ subnet: 'fd00:7::/64' }],
    })
    const cfg = parseNetworkConfig({ vni: 77 }, ipam)
    // The very values handed in, not text parsed again.
    expect(cfg.ipv4?.subnet).toBe(ipam.v4[0]?.subnet)
    expect(cfg.ipv4?.gateway).toBe(ipam.v4[0]?.gateway)
    expect(cfg.ipRange).toBe(ipam.v4[0]?.ipRange)
    expect(cfg.ipv6?.subnet).toBe(ipam.v6[0]?.subnet)
    // The etcd record keeps the keys older hosts read.
    const record = {
      addressIPv4: '10.7.0.254/24',
      fixedCIDR: '10.7.0.64/26',
      vni: 77,
      enableIPv6: true,
      fixedCIDRv6: 'fd00:7::/64',
    }
    expect(configOptions(cfg)).toEqual(record)
    const back = parseNetworkConfig(record)
    expect(back).toEqual(cfg)
    expect(configOptions(back)).toEqual(record)
  })

  it.each([
    [{ addressIPv4: '10.1.0.1/24', enableIPv6: true }, /needs its IPv6 subnet/],
    [{ addressIPv4: '10.1.0.1/24', enableIPv6: 'yes', fixedCIDRv6: 'fd00::/64' }, /enableIPv6 must be a boolean/],
    [{ addressIPv4: '10.1.0.1/24', enableIPv6: false, fixedCIDRv6: 'fd00::/64' }, /enableIPv6 false/],
    [{ addressIPv4: '10.1.0.1/24', fixedCIDRv6: '10.2.0.0/24' }, /not an IPv6 CIDR/],
    [{ addressIPv4: '10.1.0.1/24', fixedCIDRv6: 'fd00::' }, /not an IPv6 CIDR/],
    [{ addressIPv4: '10.1.0.1/24', fixedCIDRv6: 'fd00::/96' }, /too small: use a \/80/],
    [{ enableIPv4: false }, /IPv6-only overlay network \(enableIPv4 false\) needs an IPv6 subnet/],
    [{ enableIPv4: false, addressIPv4: '10.1.0.1/24', fixedCIDRv6: 'fd00::/64' }, /takes no IPv4 subnet/],
    [{ enableIPv4: 'no', fixedCIDRv6: 'fd00::/64' }, /enableIPv4 must be a boolean/],
    [{ fixedCIDRv6: 'fd00::/64' }, /needs an IPv4 subnet/],
  ])('refuses the IPv6 options %j with ERR_INVALID_CONFIG', (raw, message) => {
    expect(() => parseNetworkConfig(raw)).toThrow(message)
    expect(() => parseNetworkConfig(raw)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
  })

  it.each([
    [undefined, /must be an object/],
    [{}, /needs an IPv4 subnet/],
    [{ addressIPv4: '10.1.0.0/24' }, /gateway 10.1.0.0 is not a host address/],
    [{ addressIPv4: '10.1.0.1/31' }, /too small/],
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
    expect(parseEndpointConfig(undefined)).toEqual({
      ipv4Address: undefined,
      ipv6Address: undefined,
      macAddress: undefined,
    })
    expect(parseEndpointConfig({ ipv4Address: '10.1.0.9', macAddress: '02:42:0A:01:00:09' })).toEqual({
      ipv4Address: '10.1.0.9',
      ipv6Address: undefined,
      macAddress: '02:42:0a:01:00:09',
    })
    expect(parseEndpointConfig({ ipv6Address: 'FD00:1::9' }).ipv6Address).toBe('fd00:1::9')
    expect(parseEndpointConfig({ portBindings: [] }).ipv4Address).toBeUndefined()
    expect(() => parseEndpointConfig({ portBindings: [{ proto: 'tcp', containerPort: 80 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SUPPORTED' }),
    )
    for (const bad of [
      [],
      'x',
      { ipv4Address: 'fd00::1' },
      { ipv6Address: '10.1.0.9' },
      { macAddress: '01:00:5e:00:00:01' },
      { x: 1 },
    ]) {
      expect(() => parseEndpointConfig(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    }
  })
})

describe('overlay IPv6 addresses', () => {
  it('derives an IPv6-only endpoint’s MAC from its id: locally administered unicast, another on each attempt', () => {
    const mac = macFromId('abcdef012345')
    expect(mac).toMatch(/^02(:[0-9a-f]{2}){5}$/u)
    expect(macFromId('abcdef012345')).toBe(mac)
    expect(macFromId('abcdef012345', 1)).not.toBe(mac)
  })

  it('puts the MAC in the low 48 bits of the subnet, as Docker does', () => {
    expect(ipv6FromMac(parseCIDR('fd00:1::/64'), '02:42:0a:01:00:02')).toBe('fd00:1::242:a01:2')
    expect(ipv6FromMac(parseCIDR('fd00:1:2:3:4::/80'), macFromIPv4('10.9.8.7'))).toBe('fd00:1:2:3:4:242:a09:807')
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
    expect(parseEndpointRecord('e', { ...ep, ipv6: 'fd00:1::242:a01:2' }).ipv6).toBe('fd00:1::242:a01:2')
    expect(() => parseEndpointRecord('e', { ...ep, ipv4: 7 })).toThrow(/not an overlay/)
    expect(() => parseEndpointRecord('e', { ...ep, ipv6: 7 })).toThrow(/not an overlay/)
    const { ipv4: _, ...v6only } = { ...ep, ipv6: 'fd00:1::2:1' }
    expect(parseEndpointRecord('e', v6only).ipv4).toBeUndefined()
    expect(() => parseEndpointRecord('e', { ...v6only, ipv6: undefined })).toThrow(/not an overlay/)
  })
})
