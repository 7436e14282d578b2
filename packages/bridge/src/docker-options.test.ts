import { ERR_INVALID_CONFIG, ERR_NOT_SUPPORTED } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { auxAddressesText } from './aux-addresses.js'
import { fromDockerOptions } from './docker-options.js'
import { parseNetworkConfig } from './network-config.js'

describe("Docker's bridge options", () => {
  it('map onto cnm options, with Docker string values converted', () => {
    expect(
      fromDockerOptions({
        'com.docker.network.bridge.name': 'mybr1',
        'com.docker.network.bridge.enable_icc': 'false',
        'com.docker.network.bridge.enable_ip_masquerade': '0',
        'com.docker.network.driver.mtu': '1450',
        'com.docker.network.bridge.default_bridge': 'false',
        addressIPv4: '10.9.0.1/24',
      }),
    ).toEqual({
      bridgeName: 'mybr1',
      enableICC: false,
      enableIPMasquerade: false,
      mtu: 1450,
      addressIPv4: '10.9.0.1/24',
    })
    expect(fromDockerOptions({ 'com.docker.network.bridge.enable_icc': true })).toEqual({ enableICC: true })
  })

  it('go through parseNetworkConfig, so the CLI, REST API, Docker plugin and library take them alike', () => {
    expect(
      parseNetworkConfig({ 'com.docker.network.bridge.name': 'mybr1', 'com.docker.network.driver.mtu': 9000 }),
    ).toMatchObject({ bridgeName: 'mybr1', mtu: 9000 })
    // Checked as cnm's own option would be.
    expect(() => parseNetworkConfig({ 'com.docker.network.bridge.name': 'x'.repeat(16) })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG, message: expect.stringContaining('bridgeName') }),
    )
    expect(() => parseNetworkConfig({ 'com.docker.network.driver.mtu': '9k' })).toThrow(
      expect.objectContaining({
        code: ERR_INVALID_CONFIG,
        message: expect.stringContaining('com.docker.network.driver.mtu'),
      }),
    )
  })

  it.each([
    [
      { 'com.docker.network.bridge.name': 'a', bridgeName: 'b' },
      'bridgeName is given twice (also as com.docker.network.bridge.name)',
    ],
    [
      { bridgeName: 'b', 'com.docker.network.bridge.name': 'a' },
      'com.docker.network.bridge.name sets bridgeName, which bridgeName already sets',
    ],
    [{ 'com.docker.network.bridge.enable_icc': 'maybe' }, 'must be true or false'],
    [
      { 'com.docker.network.bridge.colour': 'blue' },
      'unknown Docker bridge network option "com.docker.network.bridge.colour"',
    ],
  ])('refuses %j, naming the keys', (raw, words) => {
    expect(() => fromDockerOptions(raw)).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG, kind: 'invalid', message: expect.stringContaining(words) }),
    )
  })

  it('refuses a Docker option cnm does not have, by name, as unsupported', () => {
    expect(() => fromDockerOptions({ 'com.docker.network.bridge.inhibit_ipv4': 'true' })).toThrow(
      expect.objectContaining({
        code: ERR_NOT_SUPPORTED,
        kind: 'unsupported',
        message: expect.stringContaining('com.docker.network.bridge.inhibit_ipv4'),
      }),
    )
  })

  it('maps host_binding_ipv4 to hostBindingIPv4 (the default host address of published ports)', () => {
    expect(fromDockerOptions({ 'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1' })).toEqual({
      hostBindingIPv4: '127.0.0.1',
    })
  })
})

describe('aux addresses (Docker --aux-address)', () => {
  it('are validated: names, addresses, within a given subnet, IPv6 only with IPv6', () => {
    expect(
      auxAddressesText(
        parseNetworkConfig({ addressIPv4: '10.7.0.1/24', auxAddresses: { router: '10.7.0.2', 'nas.1': '10.7.0.3' } })
          .auxAddresses,
      ),
    ).toEqual({ router: '10.7.0.2', 'nas.1': '10.7.0.3' })
    expect(
      auxAddressesText(
        parseNetworkConfig({ enableIPv6: true, fixedCIDRv6: 'fd07::/64', auxAddresses: { r6: 'FD07::0002' } })
          .auxAddresses,
      ),
    ).toEqual({ r6: 'fd07::2' })
    for (const [aux, words] of [
      [{ router: 'banana' }, 'is not an IP address'],
      [{ 'bad name': '10.7.0.2' }, 'must be 1-64'],
      [{ a: '10.7.0.2', b: '10.7.0.2' }, 'aux addresses a and b are both 10.7.0.2'],
      [{ far: '10.8.0.2' }, 'aux address far=10.8.0.2 is not within the subnet 10.7.0.0/24'],
      [{ r6: 'fd07::2' }, 'no IPv6 subnet holds it'],
    ] as const) {
      expect(() => parseNetworkConfig({ addressIPv4: '10.7.0.1/24', auxAddresses: aux })).toThrow(
        expect.objectContaining({ code: ERR_INVALID_CONFIG, message: expect.stringContaining(words) }),
      )
    }
    expect(() => parseNetworkConfig({ auxAddresses: ['10.7.0.2'] })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('auxAddresses must be an object') }),
    )
  })
})

describe('ipRangeV6 (Docker --ip-range for IPv6)', () => {
  it('lies within the IPv6 subnet and needs IPv6', () => {
    expect(
      parseNetworkConfig({ enableIPv6: true, fixedCIDRv6: 'fd07::/64', ipRangeV6: 'fd07::100/120' }).ipRangeV6?.cidr,
    ).toBe('fd07::100/120')
    expect(() => parseNetworkConfig({ ipRangeV6: 'fd07::100/120' })).toThrow('ipRangeV6 needs fixedCIDRv6')
    expect(() => parseNetworkConfig({ fixedCIDRv6: 'fd07::/64', ipRangeV6: 'fd07::100/120' })).toThrow(
      'fixedCIDRv6 needs enableIPv6',
    )
    expect(() => parseNetworkConfig({ enableIPv6: true, fixedCIDRv6: 'fd07::/64', ipRangeV6: 'fd08::/120' })).toThrow(
      'ip range fd08::/120 is not within subnet fd07::/64',
    )
    expect(() => parseNetworkConfig({ enableIPv6: true, fixedCIDRv6: 'fd07::/64', ipRangeV6: '10.0.0.0/24' })).toThrow(
      'is not an IPv6 CIDR',
    )
  })
})

describe('IPv6-only networks (enableIPv4: false)', () => {
  it('need IPv6 and take no IPv4 option', () => {
    expect(parseNetworkConfig({ enableIPv4: false, enableIPv6: true })).toMatchObject({ enableIPv4: false })
    expect(parseNetworkConfig({})).toMatchObject({ enableIPv4: true })
    expect(() => parseNetworkConfig({ enableIPv4: false })).toThrow('a network needs IPv4 or IPv6')
    expect(() => parseNetworkConfig({ enableIPv4: false, enableIPv6: true, addressIPv4: '10.0.0.1/24' })).toThrow(
      'addressIPv4 is an IPv4 option, and enableIPv4 is false',
    )
  })
})
