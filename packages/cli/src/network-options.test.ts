import { describe, expect, it } from 'vitest'
import { endpointOptions } from './endpoint-options.js'
import { ERR_INVALID_ARGUMENT, ERR_INVALID_PUBLISH_SPEC } from './errors.js'
import { networkOptions, parseOpt } from './network-options.js'

const invalid = expect.objectContaining({ code: ERR_INVALID_ARGUMENT })

describe('networkOptions (cnm network create flags → bridge options)', () => {
  it('maps --subnet and --gateway to the bridge address, the gateway defaulting to the first host', () => {
    expect(networkOptions({ subnet: ['172.20.0.0/16'] })).toEqual({ addressIPv4: '172.20.0.1/16' })
    expect(networkOptions({ subnet: ['172.20.0.0/16'], gateway: ['172.20.0.254'] })).toEqual({
      addressIPv4: '172.20.0.254/16',
    })
    expect(networkOptions({ subnet: ['10.1.2.0/30'] })).toEqual({ addressIPv4: '10.1.2.1/30' })
  })

  it('maps an IPv6 --subnet with --ipv6 to fixedCIDRv6, and the flags to their options', () => {
    expect(
      networkOptions({
        subnet: ['10.9.0.0/24', 'fd00:cafe:0::/64'],
        gateway: ['fd00:cafe::1'],
        ipv6: true,
        internal: true,
        icc: 'false',
        mtu: '1400',
        ipRange: '10.9.0.128/25',
      }),
    ).toEqual({
      addressIPv4: '10.9.0.1/24',
      fixedCIDRv6: 'fd00:cafe::/64',
      fixedCIDR: '10.9.0.128/25',
      enableIPv6: true,
      internal: true,
      enableICC: false,
      mtu: 1400,
    })
    expect(networkOptions({ ipv6: true })).toEqual({ enableIPv6: true })
    expect(networkOptions({ icc: 'true' })).toEqual({ enableICC: true })
    expect(networkOptions({})).toEqual({})
  })

  it('passes -o key=value through, typing true, false and numbers', () => {
    expect(
      networkOptions({ opt: ['bridgeName=br0', 'allowNonDefaultBridge=true', 'enableIPMasquerade=false', 'mtu=9000'] }),
    ).toEqual({ bridgeName: 'br0', allowNonDefaultBridge: true, enableIPMasquerade: false, mtu: 9000 })
    expect(parseOpt('bridgeName=a=b')).toEqual(['bridgeName', 'a=b'])
    expect(networkOptions({ options: { enableIPTables: false } })).toEqual({ enableIPTables: false })
  })

  it('maps --ip-range per family: fixedCIDR and ipRangeV6', () => {
    expect(
      networkOptions({
        subnet: ['10.1.0.0/24', 'fd01::/64'],
        ipv6: true,
        ipRange: ['10.1.0.128/25', 'fd01::100/120'],
      }),
    ).toEqual({
      addressIPv4: '10.1.0.1/24',
      fixedCIDRv6: 'fd01::/64',
      enableIPv6: true,
      fixedCIDR: '10.1.0.128/25',
      ipRangeV6: 'fd01::100/120',
    })
  })

  it('maps --ipv4=false (with --ipv6) to an IPv6-only network', () => {
    expect(networkOptions({ ipv4: 'false', ipv6: true, subnet: ['fd02::/64'] })).toEqual({
      fixedCIDRv6: 'fd02::/64',
      enableIPv6: true,
      enableIPv4: false,
    })
    expect(networkOptions({ ipv4: 'true' })).toEqual({})
    expect(() => networkOptions({ ipv4: 'false' })).toThrow('--ipv4=false needs --ipv6')
    expect(() => networkOptions({ ipv4: 'false', ipv6: true, subnet: ['10.0.0.0/24'] })).toThrow(
      'an IPv4 --subnet with --ipv4=false',
    )
  })

  it('maps --aux-address name=ip to auxAddresses', () => {
    expect(networkOptions({ subnet: ['10.1.0.0/24'], auxAddress: ['router=10.1.0.2', 'nas=10.1.0.3'] })).toEqual({
      addressIPv4: '10.1.0.1/24',
      auxAddresses: { router: '10.1.0.2', nas: '10.1.0.3' },
    })
    expect(() => networkOptions({ auxAddress: ['10.1.0.2'] })).toThrow('must be name=IP')
    expect(() => networkOptions({ auxAddress: ['r=x'] })).toThrow('must be name=IP')
    expect(() => networkOptions({ auxAddress: ['r=10.1.0.2', 'r=10.1.0.3'] })).toThrow('--aux-address r is given twice')
  })

  it("passes Docker's dotted keys through with their text values (the bridge driver maps them)", () => {
    expect(
      networkOptions({ opt: ['com.docker.network.bridge.name=mybr1', 'com.docker.network.driver.mtu=1450'] }),
    ).toEqual({ 'com.docker.network.bridge.name': 'mybr1', 'com.docker.network.driver.mtu': '1450' })
    expect(parseOpt('com.docker.network.bridge.enable_icc=false')).toEqual([
      'com.docker.network.bridge.enable_icc',
      'false',
    ])
  })

  it.each([
    [{ subnet: ['172.20.0.5/16'] }, 'it should be 172.20.0.0/16'],
    [{ subnet: ['172.20.0.0/31'] }, 'too small'],
    [{ subnet: ['bogus'] }, 'is not a CIDR'],
    [{ subnet: ['10.0.0.0/33'] }, 'is not a CIDR'],
    [{ subnet: ['10.0.0.0/8', '11.0.0.0/8'] }, 'only one IPv4 --subnet'],
    [{ gateway: ['10.0.0.1'] }, 'needs an IPv4 --subnet'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.1.1'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.0'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.255'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['nope'] }, 'is not an IP address'],
    [{ subnet: ['fd00::/64'] }, 'needs --ipv6'],
    [
      { subnet: ['fd00::/64'], gateway: ['fd00::2'], ipv6: true },
      "IPv6 gateway is always the subnet's first address, fd00::1",
    ],
    [{ ipRange: 'fd00::/64' }, 'an IPv6 --ip-range (fd00::/64) needs --ipv6'],
    [{ ipRange: ['10.0.0.0/25', '10.0.0.128/25'] }, '--ip-range sets fixedCIDR, which --ip-range already sets'],
    [{ icc: 'no' }, '--icc "no" must be true or false'],
    [{ mtu: '67' }, '--mtu "67" must be an integer from 68 to 65535'],
    [{ mtu: '1500.5' }, 'must be an integer'],
    [{ opt: ['novalue'] }, 'must be key=value'],
    [{ opt: ['9x=1'] }, 'option name "9x" must be letters, digits and _'],
    [{ opt: ['a..b=1'] }, 'option name "a..b"'],
    [
      { subnet: ['10.0.0.0/24'], opt: ['addressIPv4=10.0.0.1/24'] },
      '-o addressIPv4 sets addressIPv4, which --subnet already sets',
    ],
    [{ internal: true, opt: ['internal=false'] }, 'which --internal already sets'],
    [{ opt: ['mtu=1', 'mtu=2'] }, 'which -o mtu already sets'],
  ])('refuses %j', (flags, why) => {
    expect(() => networkOptions(flags)).toThrow(invalid)
    expect(() => networkOptions(flags)).toThrow(why)
  })
})

describe('endpointOptions (--publish, --ip, --ip6, --mac-address → endpoint options)', () => {
  it('maps every flag', () => {
    expect(
      endpointOptions({
        publish: ['127.0.0.1::80', '8080-8081:80-81/udp'],
        ip: '10.0.0.9',
        ip6: 'FD00::9',
        macAddress: '02:42:0A:00:00:09',
      }),
    ).toEqual({
      portBindings: [
        { proto: 'tcp', containerPort: 80, hostIP: '127.0.0.1' },
        { proto: 'udp', containerPort: 80, containerPortEnd: 81, hostPort: 8080, hostPortEnd: 8081 },
      ],
      ipv4Address: '10.0.0.9',
      ipv6Address: 'fd00::9',
      macAddress: '02:42:0a:00:00:09',
    })
    expect(endpointOptions({})).toEqual({})
  })

  it('refuses bad values before anything is created', () => {
    expect(() => endpointOptions({ ip: 'fd00::1' })).toThrow('--ip "fd00::1" is not an IPv4 address')
    expect(() => endpointOptions({ ip6: '10.0.0.1' })).toThrow('--ip6 "10.0.0.1" is not an IPv6 address')
    expect(() => endpointOptions({ macAddress: '02:42' })).toThrow(invalid)
    expect(() => endpointOptions({ publish: ['x'] })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_PUBLISH_SPEC }),
    )
  })
})
