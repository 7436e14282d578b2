import { ipamToText, type NetworkIpamText } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { endpointOptions } from './endpoint-options.js'
import { ERR_INVALID_ARGUMENT, ERR_INVALID_PUBLISH_SPEC } from './errors.js'
import { type NetworkFlags, networkSpec, parseOpt } from './network-options.js'

const invalid = expect.objectContaining({ code: ERR_INVALID_ARGUMENT })

/** What `networkSpec` gives, its IPAM data as text (what the store keeps). */
function spec(flags: NetworkFlags): { options: Record<string, unknown>; ipam: NetworkIpamText } {
  const out = networkSpec(flags)
  return { options: out.options, ipam: ipamToText(out.ipam) }
}

describe('networkSpec (cnm network create flags → options and IPAM data, parsed once)', () => {
  it('maps --subnet and --gateway to IPAM data (the gateway absent: the driver takes the first host)', () => {
    expect(spec({ subnet: ['172.20.0.0/16'] })).toEqual({ options: {}, ipam: { v4: [{ subnet: '172.20.0.0/16' }] } })
    expect(spec({ subnet: ['172.20.0.0/16'], gateway: ['172.20.0.254'] }).ipam).toEqual({
      v4: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.254' }],
    })
    expect(networkSpec({ subnet: ['10.1.2.0/30'] }).ipam.v4[0]?.subnet).toMatchObject({ cidr: '10.1.2.0/30' })
  })

  it('takes several subnets per family, pairing each gateway, range and aux address with the subnet that holds it', () => {
    expect(
      spec({
        subnet: ['10.1.0.0/24', '10.2.0.0/24', 'fd00:1::/64', 'fd00:2::/64'],
        gateway: ['10.2.0.1', '10.1.0.254'],
        ipRange: ['10.2.0.128/25', 'fd00:2::/80'],
        auxAddress: ['a=10.1.0.3', 'b=10.2.0.3', 'c=fd00:1::3'],
        ipv6: true,
      }),
    ).toEqual({
      options: { enableIPv6: true },
      ipam: {
        v4: [
          { subnet: '10.1.0.0/24', gateway: '10.1.0.254', auxAddresses: { a: '10.1.0.3' } },
          { subnet: '10.2.0.0/24', gateway: '10.2.0.1', ipRange: '10.2.0.128/25', auxAddresses: { b: '10.2.0.3' } },
        ],
        v6: [
          { subnet: 'fd00:1::/64', auxAddresses: { c: 'fd00:1::3' } },
          { subnet: 'fd00:2::/64', ipRange: 'fd00:2::/80' },
        ],
      },
    })
  })

  it('maps the other flags to their options', () => {
    expect(
      spec({
        subnet: ['10.9.0.0/24', 'fd00:cafe:0::/64'],
        gateway: ['fd00:cafe::1'],
        ipv6: true,
        internal: true,
        icc: 'false',
        mtu: '1400',
        ipRange: '10.9.0.128/25',
      }),
    ).toEqual({
      options: { enableIPv6: true, internal: true, enableICC: false, mtu: 1400 },
      ipam: {
        v4: [{ subnet: '10.9.0.0/24', ipRange: '10.9.0.128/25' }],
        v6: [{ subnet: 'fd00:cafe::/64', gateway: 'fd00:cafe::1' }],
      },
    })
    expect(spec({ ipv6: true })).toEqual({ options: { enableIPv6: true }, ipam: {} })
    expect(spec({ icc: 'true' }).options).toEqual({ enableICC: true })
    expect(spec({})).toEqual({ options: {}, ipam: {} })
  })

  it('passes -o key=value through, typing true, false and numbers', () => {
    expect(
      networkSpec({ opt: ['bridgeName=br0', 'allowNonDefaultBridge=true', 'enableIPMasquerade=false', 'mtu=9000'] })
        .options,
    ).toEqual({ bridgeName: 'br0', allowNonDefaultBridge: true, enableIPMasquerade: false, mtu: 9000 })
    expect(parseOpt('bridgeName=a=b')).toEqual(['bridgeName', 'a=b'])
    expect(networkSpec({ options: { enableIPTables: false } }).options).toEqual({ enableIPTables: false })
  })

  it('converts the old address options (-o addressIPv4=…, a REST body’s options) into IPAM data, once', () => {
    expect(
      spec({
        options: { addressIPv4: '10.3.0.254/24', fixedCIDR: '10.3.0.0/25', enableIPv6: true, fixedCIDRv6: 'fd03::/64' },
      }),
    ).toEqual({
      options: { enableIPv6: true },
      ipam: {
        v4: [{ subnet: '10.3.0.0/24', gateway: '10.3.0.254', ipRange: '10.3.0.0/25' }],
        v6: [{ subnet: 'fd03::/64' }],
      },
    })
    expect(spec({ opt: ['addressIPv4=10.4.0.1/24'] }).ipam).toEqual({
      v4: [{ subnet: '10.4.0.0/24', gateway: '10.4.0.1' }],
    })
  })

  it('maps --ipv4=false (with --ipv6) to an IPv6-only network', () => {
    expect(spec({ ipv4: 'false', ipv6: true, subnet: ['fd02::/64'] })).toEqual({
      options: { enableIPv6: true, enableIPv4: false },
      ipam: { v6: [{ subnet: 'fd02::/64' }] },
    })
    expect(spec({ ipv4: 'true' })).toEqual({ options: {}, ipam: {} })
    expect(() => networkSpec({ ipv4: 'false' })).toThrow('--ipv4=false needs --ipv6')
    expect(() => networkSpec({ ipv4: 'false', ipv6: true, subnet: ['10.0.0.0/24'] })).toThrow(
      'an IPv4 --subnet with --ipv4=false',
    )
  })

  it('checks --aux-address name=ip', () => {
    expect(() => networkSpec({ auxAddress: ['10.1.0.2'] })).toThrow('must be name=IP')
    expect(() => networkSpec({ auxAddress: ['r=x'] })).toThrow('must be name=IP')
    expect(() => networkSpec({ auxAddress: ['r=10.1.0.2', 'r=10.1.0.3'] })).toThrow('--aux-address r is given twice')
  })

  it("passes Docker's dotted keys through with their text values (the bridge driver maps them)", () => {
    expect(
      networkSpec({ opt: ['com.docker.network.bridge.name=mybr1', 'com.docker.network.driver.mtu=1450'] }).options,
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
    [{ subnet: ['10.0.0.0/8', '10.1.0.0/16'] }, '--subnet 10.0.0.0/8 and 10.1.0.0/16 overlap'],
    [{ gateway: ['10.0.0.1'] }, 'needs an IPv4 --subnet'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.1.1'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.0'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.255'] }, 'not a host address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['nope'] }, 'is not an IP address'],
    [{ subnet: ['10.0.0.0/24'], gateway: ['10.0.0.1', '10.0.0.2'] }, 'one gateway per subnet (10.0.0.0/24)'],
    [{ subnet: ['fd00::/64'] }, 'needs --ipv6'],
    [{ ipRange: 'fd00::/64' }, 'an IPv6 --ip-range (fd00::/64) needs --ipv6'],
    [{ ipRange: '10.0.0.0/25' }, '--ip-range 10.0.0.0/25: no matching --subnet holds it (none given)'],
    [{ subnet: ['10.0.0.0/24'], ipRange: ['10.0.0.0/25', '10.0.0.128/25'] }, 'one range per subnet (10.0.0.0/24)'],
    [{ subnet: ['10.0.0.0/24'], auxAddress: ['x=10.0.1.2'] }, '--aux-address x=10.0.1.2: no matching --subnet'],
    [{ icc: 'no' }, '--icc "no" must be true or false'],
    [{ mtu: '67' }, '--mtu "67" must be an integer from 68 to 65535'],
    [{ mtu: '1500.5' }, 'must be an integer'],
    [{ opt: ['novalue'] }, 'must be key=value'],
    [{ opt: ['9x=1'] }, 'option name "9x" must be letters, digits and _'],
    [{ opt: ['a..b=1'] }, 'option name "a..b"'],
    [
      { subnet: ['10.0.0.0/24'], opt: ['addressIPv4=10.0.0.1/24'] },
      '-o addressIPv4 sets the subnet, which --subnet already sets',
    ],
    [{ opt: ['addressIPv4=10.0.0.0/24'] }, 'gateway 10.0.0.0 is not a host address'],
    [{ internal: true, opt: ['internal=false'] }, 'which --internal already sets'],
    [{ opt: ['mtu=1', 'mtu=2'] }, 'which -o mtu already sets'],
  ])('refuses %j', (flags, why) => {
    expect(() => networkSpec(flags)).toThrow(invalid)
    expect(() => networkSpec(flags)).toThrow(why)
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
