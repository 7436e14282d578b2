import { describe, expect, it } from 'vitest'
import { EMPTY_IPAM, ipamFromOptions, ipamSubnets, ipamToText, isEmptyIpam, parseIpam } from './ipam.js'

describe('parseIpam / ipamToText', () => {
  it('parses several subnets per family into values and back to the same text', () => {
    const text = {
      v4: [
        { subnet: '10.1.0.0/24', gateway: '10.1.0.1', auxAddresses: { router: '10.1.0.2' } },
        { subnet: '10.2.0.0/24', gateway: '10.2.0.254', ipRange: '10.2.0.128/25' },
      ],
      v6: [{ subnet: '2001:db8:1::/64' }],
    }
    const ipam = parseIpam(text)
    expect(ipam.v4.map((d) => d.subnet.cidr)).toEqual(['10.1.0.0/24', '10.2.0.0/24'])
    expect(ipam.v4[1]?.gateway?.text).toBe('10.2.0.254')
    expect(ipam.v4[0]?.auxAddresses.get('router')?.text).toBe('10.1.0.2')
    expect(ipamSubnets(ipam).map((p) => p.cidr)).toEqual(['10.1.0.0/24', '10.2.0.0/24', '2001:db8:1::/64'])
    expect(ipamToText(ipam)).toEqual(text)
    expect(parseIpam(ipamToText(ipam))).toEqual(ipam)
  })

  it('refuses what cannot be one network, naming the value (ERR_INVALID_CONFIG, kind invalid)', () => {
    const bad: [unknown, string][] = [
      [{ v4: [{ subnet: '10.1.0.7/24' }] }, 'host bits set: 10.1.0.0/24'],
      [{ v4: [{ subnet: '2001:db8::/64' }] }, 'is not an IPv4 CIDR'],
      [{ v4: [{ subnet: '10.1.0.0/24', gateway: '10.9.0.1' }] }, 'gateway 10.9.0.1 is not a host address'],
      [{ v4: [{ subnet: '10.1.0.0/24', gateway: '10.1.0.255' }] }, 'gateway 10.1.0.255 is not a host address'],
      [{ v4: [{ subnet: '10.1.0.0/24', ipRange: '10.1.1.0/25' }] }, 'ip range 10.1.1.0/25 is not within'],
      [{ v4: [{ subnet: '10.1.0.0/16' }, { subnet: '10.1.2.0/24' }] }, 'subnets 10.1.0.0/16 and 10.1.2.0/24 overlap'],
      [{ v4: [{ subnet: '10.1.0.0/24', gateway: '10.1.0.1', auxAddresses: { gw: '10.1.0.1' } }] }, 'is the gateway'],
      [{ v4: [{ subnet: '10.1.0.0/24', auxAddresses: { 'a/b': '10.1.0.3' } }] }, 'aux address name'],
      [{ v4: [{ subnet: '10.1.0.0/24', vlan: 3 }] }, 'unknown IPAM field "vlan"'],
      [{ v5: [] }, 'unknown IPAM field "v5"'],
    ]
    for (const [text, message] of bad) {
      expect(() => parseIpam(text), JSON.stringify(text)).toThrow(
        expect.objectContaining({
          code: 'ERR_INVALID_CONFIG',
          kind: 'invalid',
          message: expect.stringContaining(message),
        }),
      )
    }
  })
})

describe('ipamFromOptions (the old option keys, converted once at an edge)', () => {
  it('turns addressIPv4 (gateway/len), fixedCIDR, fixedCIDRv6, ipRangeV6 and auxAddresses into values', () => {
    const { options, ipam } = ipamFromOptions({
      addressIPv4: '10.5.0.254/24',
      fixedCIDR: '10.5.0.128/25',
      enableIPv6: true,
      fixedCIDRv6: 'fd00:5::/64',
      ipRangeV6: 'fd00:5::/80',
      auxAddresses: { a: '10.5.0.3', b: 'fd00:5::3' },
      mtu: 1400,
    })
    expect(options).toEqual({ enableIPv6: true, mtu: 1400 })
    expect(ipamToText(ipam)).toEqual({
      v4: [{ subnet: '10.5.0.0/24', gateway: '10.5.0.254', ipRange: '10.5.0.128/25', auxAddresses: { a: '10.5.0.3' } }],
      v6: [{ subnet: 'fd00:5::/64', ipRange: 'fd00:5::/80', auxAddresses: { b: 'fd00:5::3' } }],
    })
  })

  it('leaves options without address keys alone (the driver picks a subnet)', () => {
    const opts = { internal: true }
    expect(ipamFromOptions(opts)).toEqual({ options: opts, ipam: EMPTY_IPAM })
    expect(isEmptyIpam(ipamFromOptions(undefined).ipam)).toBe(true)
  })

  it('refuses an aux address no subnet holds, and a range without its subnet', () => {
    expect(() => ipamFromOptions({ addressIPv4: '10.5.0.1/24', auxAddresses: { x: '10.6.0.1' } })).toThrow(
      'aux address x=10.6.0.1 is not within the subnet 10.5.0.0/24',
    )
    expect(() => ipamFromOptions({ ipRangeV6: 'fd00::/80' })).toThrow('ipRangeV6 needs fixedCIDRv6')
  })
})
