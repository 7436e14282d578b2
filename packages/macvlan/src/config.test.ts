import { ipamToText, parseIpam } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { parseEndpointConfig } from './endpoint-config.js'
import { configIpam, configOptions, parseNetworkConfig, parseParent } from './network-config.js'

const base = { parent: 'eth1', addressIPv4: '192.168.50.1/24' }

describe('network options', () => {
  it('reads Docker’s names, with bridge mode by default', () => {
    expect(parseNetworkConfig(base)).toMatchObject({
      parent: { name: 'eth1', vlan: undefined },
      mode: 'bridge',
      addressIPv4: '192.168.50.1/24',
      fixedCIDR: undefined,
      enableIPv6: false,
      fixedCIDRv6: undefined,
      gatewayIPv6: undefined,
      internal: false,
      mtu: undefined,
    })
    for (const mode of ['bridge', 'private', 'vepa', 'passthru']) {
      expect(parseNetworkConfig({ ...base, macvlan_mode: mode }).mode).toBe(mode)
    }
  })

  it('reads parent=eth1.20 as VLAN 20 on eth1', () => {
    expect(parseParent('eth1.20')).toEqual({ name: 'eth1.20', vlan: { master: 'eth1', id: 20 } })
    expect(parseParent('br.lan')).toEqual({ name: 'br.lan', vlan: undefined })
    for (const bad of ['eth1.0', 'eth1.4095', 'eth1.020', 'lo.5']) {
      expect(() => parseParent(bad)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }))
    }
  })

  it('takes IPv4 and IPv6 subnets, a range and gateways', () => {
    const c = parseNetworkConfig({
      ...base,
      addressIPv4: '192.168.50.254/24',
      fixedCIDR: '192.168.50.128/25',
      enableIPv6: true,
      fixedCIDRv6: '2001:DB8:1::/64',
      internal: true,
      mtu: 1400,
    })
    expect(c).toMatchObject({
      addressIPv4: '192.168.50.254/24',
      fixedCIDR: '192.168.50.128/25',
      fixedCIDRv6: '2001:db8:1::/64',
      gatewayIPv6: '2001:db8:1::1',
      internal: true,
      mtu: 1400,
    })
    expect(
      parseNetworkConfig({ ...base, enableIPv6: true, fixedCIDRv6: 'fd00::/64', gatewayIPv6: 'fd00::fe' }),
    ).toMatchObject({ gatewayIPv6: 'fd00::fe' })
    // IPv6 only is a network too
    expect(
      parseNetworkConfig({ parent: 'eth1', enableIPv6: true, fixedCIDRv6: 'fd00::/64' }).addressIPv4,
    ).toBeUndefined()
  })

  it('refuses what it cannot do, naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [{}, /needs a parent interface/u],
      [{ addressIPv4: '10.0.0.1/24' }, /dummy/u],
      [{ parent: 'lo', addressIPv4: '10.0.0.1/24' }, /loopback/u],
      [{ parent: 'x/y', addressIPv4: '10.0.0.1/24' }, /parent/u],
      [{ parent: 'eth1' }, /needs a subnet/u],
      [{ ...base, macvlan_mode: 'source' }, /macvlan_mode/u],
      [{ ...base, addressIPv4: '192.168.50.0/24' }, /gateway/u],
      [{ ...base, addressIPv4: '192.168.50.1' }, /CIDR/u],
      [{ ...base, fixedCIDR: '10.0.0.0/24' }, /not within/u],
      [{ ...base, auxAddresses: { nas: '10.0.0.9' } }, /aux address nas=10.0.0.9 is not within/u],
      [{ parent: 'eth1', fixedCIDR: '10.0.0.0/24' }, /fixedCIDR needs addressIPv4/u],
      [{ ...base, enableIPv6: true }, /IPv6 subnet/u],
      [{ ...base, fixedCIDRv6: 'fd00::/64' }, /enableIPv6/u],
      [{ ...base, enableIPv6: true, fixedCIDRv6: 'fd00::/64', gatewayIPv6: 'fd01::1' }, /gateway fd01::1/u],
      [{ ...base, gatewayIPv6: 'fd00::1' }, /gatewayIPv6/u],
      [{ ...base, addressIPv4: '192.168.50.1/31' }, /too small/u],
      [{ ...base, internal: 'yes' }, /internal/u],
      [{ ...base, mtu: 1 }, /mtu/u],
      [{ ...base, enableICC: false }, /unknown macvlan network option "enableICC"/u],
      ['eth1', /object/u],
    ]
    for (const [raw, message] of bad) {
      expect(() => parseNetworkConfig(raw), JSON.stringify(raw)).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_CONFIG',
          kind: 'invalid',
          message: expect.stringMatching(message),
        }),
      )
    }
  })

  it('keeps the validated options in a record that parses back to the same config', () => {
    const c = parseNetworkConfig({ ...base, parent: 'eth1.20', enableIPv6: true, fixedCIDRv6: 'fd00::/64', mtu: 1500 })
    const text = JSON.parse(JSON.stringify({ options: configOptions(c), ipam: ipamToText(configIpam(c)) }))
    expect(parseNetworkConfig(text.options, parseIpam(text.ipam))).toEqual(c)
  })

  it('takes its addresses as IPAM values (several per family: not yet)', () => {
    const ipam = parseIpam({ v4: [{ subnet: '192.168.60.0/24', ipRange: '192.168.60.64/26' }] })
    expect(parseNetworkConfig({ parent: 'eth1' }, ipam)).toMatchObject({
      addressIPv4: '192.168.60.1/24',
      fixedCIDR: '192.168.60.64/26',
    })
    expect(() => parseNetworkConfig({ parent: 'eth1', addressIPv4: '192.168.60.1/24' }, ipam)).toThrow(
      'option addressIPv4: the network',
    )
    const two = parseIpam({ v4: [{ subnet: '192.168.60.0/24' }, { subnet: '192.168.61.0/24' }] })
    expect(() => parseNetworkConfig({ parent: 'eth1' }, two)).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SUPPORTED', kind: 'unsupported' }),
    )
  })
})

describe('endpoint options', () => {
  it('reads addresses and a MAC, canonical', () => {
    expect(
      parseEndpointConfig({ ipv4Address: '192.168.50.9', ipv6Address: 'FD00::9', macAddress: '02:AA:00:00:00:01' }),
    ).toEqual({ ipv4Address: '192.168.50.9', ipv6Address: 'fd00::9', macAddress: '02:aa:00:00:00:01' })
    expect(parseEndpointConfig(undefined)).toEqual({
      ipv4Address: undefined,
      ipv6Address: undefined,
      macAddress: undefined,
    })
    expect(parseEndpointConfig({ portBindings: [] }).ipv4Address).toBeUndefined()
  })

  it('refuses unknown options and bad values, and port bindings as not supported', () => {
    for (const raw of [
      'x',
      [],
      { nope: 1 },
      { ipv4Address: 'fd00::1' },
      { ipv6Address: '10.0.0.1' },
      { macAddress: '01:00:5e:00:00:01' },
    ]) {
      expect(() => parseEndpointConfig(raw), JSON.stringify(raw)).toThrow(
        expect.objectContaining({ code: 'ERR_INVALID_CONFIG' }),
      )
    }
    expect(() => parseEndpointConfig({ portBindings: [{ proto: 'tcp', containerPort: 80 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_NOT_SUPPORTED', kind: 'unsupported' }),
    )
  })
})
