import { ERR_INVALID_CONFIG, parseIpam } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { electSubnet, parseNameservers, ulaSubnetFor } from './address-election.js'
import { createBridgeDriver } from './driver.js'
import { DEFAULT_ADDRESS_POOLS, parseDriverConfig } from './driver-config.js'
import { parseEndpointConfig } from './endpoint-config.js'
import { hostVethName, macFromIPv4 } from './endpoint-names.js'
import { parseNetworkConfig } from './network-config.js'

const invalid = expect.objectContaining({ code: ERR_INVALID_CONFIG })

describe('network addresses as IPAM values (parsed once, by the edge)', () => {
  it('take the subnet, gateway, range and aux addresses as they are', () => {
    const ipam = parseIpam({
      v4: [
        { subnet: '10.31.0.0/24', gateway: '10.31.0.254', ipRange: '10.31.0.0/25', auxAddresses: { r: '10.31.0.3' } },
      ],
      v6: [{ subnet: 'fd31::/64', ipRange: 'fd31::/80' }],
    })
    const c = parseNetworkConfig({ enableIPv6: true }, ipam)
    expect(c.ipam).toBe(ipam)
    expect(c.addressIPv4).toMatchObject({ address: '10.31.0.254', cidr: '10.31.0.0/24' })
    expect(c.fixedCIDR?.cidr).toBe('10.31.0.0/25')
    expect(c.fixedCIDRv6?.cidr).toBe('fd31::/64')
    expect(c.ipRangeV6?.cidr).toBe('fd31::/80')
    expect(c.auxAddresses.r?.text).toBe('10.31.0.3')
    // no gateway given: the subnet's first host
    expect(parseNetworkConfig({}, parseIpam({ v4: [{ subnet: '10.32.0.0/16' }] })).addressIPv4?.address).toBe(
      '10.32.0.1',
    )
  })

  it('take several subnets per family: the first as before, the later ones with their gateways, ranges and aux addresses', () => {
    const ipam = parseIpam({
      v4: [
        { subnet: '10.33.0.0/24', auxAddresses: { a: '10.33.0.9' } },
        { subnet: '10.34.0.0/24', gateway: '10.34.0.254', ipRange: '10.34.0.128/25', auxAddresses: { b: '10.34.0.9' } },
      ],
      v6: [{ subnet: 'fd33::/64' }, { subnet: 'fd34::/64' }],
    })
    const c = parseNetworkConfig({ enableIPv6: true }, ipam)
    expect(c.addressIPv4?.cidr).toBe('10.33.0.0/24')
    expect(c.fixedCIDRv6?.cidr).toBe('fd33::/64')
    expect(Object.keys(c.auxAddresses)).toEqual(['a'])
    expect(
      c.moreSubnets.map((m) => [m.subnet.cidr, m.gateway.text, m.ipRange?.cidr, Object.keys(m.auxAddresses)]),
    ).toEqual([
      ['10.34.0.0/24', '10.34.0.254', '10.34.0.128/25', ['b']],
      ['fd34::/64', 'fd34::1', undefined, []],
    ])
  })

  it('refuse the old keys beside them, an unusable later subnet, a later IPv6 subnet without IPv6', () => {
    const ipam = parseIpam({ v4: [{ subnet: '10.33.0.0/24' }] })
    expect(() => parseNetworkConfig({ addressIPv4: '10.33.0.1/24' }, ipam)).toThrow('option addressIPv4: the network')
    expect(() =>
      parseNetworkConfig({}, parseIpam({ v4: [{ subnet: '10.33.0.0/24' }, { subnet: '127.3.0.0/24' }] })),
    ).toThrow('subnet 127.3.0.0/24 overlaps 127.0.0.0/8 (loopback)')
    expect(() =>
      parseNetworkConfig(
        {},
        parseIpam({ v4: [{ subnet: '10.33.0.0/24' }, { subnet: '10.36.0.0/24', auxAddresses: { g: '10.36.0.1' } }] }),
      ),
    ).toThrow('aux address g=10.36.0.1 is the gateway of 10.36.0.0/24')
    expect(() => parseNetworkConfig({}, parseIpam({ v4: [{ subnet: '127.1.0.0/24' }] }))).toThrow(
      'subnet 127.1.0.0/24 overlaps 127.0.0.0/8 (loopback)',
    )
  })
})

describe('IPv6 gateways', () => {
  it("take the one given (Docker's IPv6 --gateway), in the first subnet and later ones; else the first host", () => {
    const given = parseNetworkConfig(
      { enableIPv6: true },
      parseIpam({
        v6: [
          { subnet: 'fd33::/64', gateway: 'fd33::9' },
          { subnet: 'fd35::/64', gateway: 'fd35::7' },
        ],
      }),
    )
    expect(given.gatewayV6?.text).toBe('fd33::9')
    expect(given.moreSubnets.map((m) => m.gateway.text)).toEqual(['fd35::7'])
    const none = parseNetworkConfig({ enableIPv6: true }, parseIpam({ v6: [{ subnet: 'fd33::/64' }] }))
    expect(none.gatewayV6).toBeUndefined()
    expect(() =>
      parseNetworkConfig({ enableIPv6: true }, parseIpam({ v6: [{ subnet: 'fd33::/64', gateway: 'fd33::' }] })),
    ).toThrow('gateway fd33:: is not a host address of subnet fd33::/64')
  })
})

describe('network options', () => {
  it("default to Docker's user-facing values", () => {
    expect(parseNetworkConfig({})).toMatchObject({
      enableICC: true,
      enableIPMasquerade: true,
      enableIPTables: true,
      enableIPForwarding: true,
      enableIPv6: false,
      internal: false,
      holdPorts: true,
      bridgeName: undefined,
      mtu: undefined,
    })
  })

  it.each([
    [{ addressIPv4: '10.0.0.1/33' }, 'addressIPv4'],
    [{ addressIPv4: 'banana' }, 'addressIPv4'],
    [{ addressIPv4: '10.0.0.0/24' }, 'host address'],
    [{ bridgeName: 'x'.repeat(16) }, 'bridgeName'],
    [{ bridgeName: 'a/b' }, 'bridgeName'],
    [{ mtu: 67 }, 'mtu'],
    [{ mtu: 65536 }, 'mtu'],
    [{ enableICC: 'no' }, 'enableICC'],
    [{ holdPorts: 'no' }, 'holdPorts'],
    [{ fixedCIDR: '192.168.2.0/24', addressIPv4: '10.1.0.1/16' }, 'not within'],
    [{ fixedCIDRv6: 'fd00::/64' }, 'needs enableIPv6'],
    [{ fixedCIDRv6: '10.0.0.0/8', enableIPv6: true }, 'IPv6'],
    [{ colour: 'blue' }, 'unknown'],
  ])('refuses %j (%s)', (raw, words) => {
    expect(() => parseNetworkConfig(raw)).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG, message: expect.stringContaining(words) }),
    )
  })

  it.each([
    [{ addressIPv4: '0.0.0.1/0' }, '0.0.0.0/0 overlaps 0.0.0.0/8 ("this network")'],
    [{ addressIPv4: '0.1.0.1/16' }, '0.1.0.0/16 overlaps 0.0.0.0/8'],
    [{ addressIPv4: '8.0.0.1/4' }, '0.0.0.0/4 overlaps 0.0.0.0/8'],
    [{ addressIPv4: '127.0.0.1/8' }, '127.0.0.0/8 overlaps 127.0.0.0/8 (loopback)'],
    [{ addressIPv4: '127.5.0.1/24' }, 'loopback'],
    [{ addressIPv4: '64.0.0.1/2' }, '64.0.0.0/2 overlaps 127.0.0.0/8 (loopback)'],
    [{ addressIPv4: '169.254.1.1/24' }, '169.254.1.0/24 overlaps 169.254.0.0/16 (link-local)'],
    [{ addressIPv4: '224.0.0.1/4' }, '224.0.0.0/4 (multicast)'],
    [{ addressIPv4: '239.255.0.1/16' }, 'multicast'],
    [
      { addressIPv4: '224.1.0.1/24', fixedCIDR: '224.1.0.0/25' },
      'subnet 224.1.0.0/24 overlaps 224.0.0.0/4 (multicast)',
    ],
    [{ addressIPv4: '240.0.0.1/4' }, '240.0.0.0/4 (reserved and broadcast)'],
    [{ addressIPv4: '255.255.255.1/30' }, 'reserved and broadcast'],
    [{ enableIPv6: true, fixedCIDRv6: '::/0' }, 'subnet ::/0 overlaps ::/128'],
    [{ enableIPv6: true, fixedCIDRv6: '::1/128' }, '::1/128 (loopback)'],
    [{ enableIPv6: true, fixedCIDRv6: '::/64' }, 'the unspecified address'],
    [{ enableIPv6: true, fixedCIDRv6: 'ff02::/64' }, 'ff02::/64 overlaps ff00::/8 (multicast)'],
    [{ enableIPv6: true, fixedCIDRv6: 'ff00::/8' }, 'multicast'],
    [{ enableIPv6: true, fixedCIDRv6: 'fe80::/64' }, 'fe80::/64 overlaps fe80::/10 (link-local)'],
    [{ enableIPv6: true, fixedCIDRv6: 'febf:1::/64' }, 'link-local'],
  ])('refuses a subnet no network can use: %j', (raw, words) => {
    expect(() => parseNetworkConfig(raw)).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG, kind: 'invalid', message: expect.stringContaining(words) }),
    )
  })

  it.each([
    { addressIPv4: '10.0.0.1/8' },
    { addressIPv4: '1.0.0.1/24' },
    { addressIPv4: '100.64.0.1/10' },
    { addressIPv4: '126.255.255.253/30' },
    { addressIPv4: '128.0.0.1/16' },
    { addressIPv4: '169.253.0.1/16' },
    { addressIPv4: '223.255.255.253/30' },
    { enableIPv6: true, fixedCIDRv6: 'fd00::/64' },
    { enableIPv6: true, fixedCIDRv6: '2001:db8::/32' },
    { enableIPv6: true, fixedCIDRv6: '::2/127' },
    { enableIPv6: true, fixedCIDRv6: 'fec0::/64' },
    { enableIPv6: true, fixedCIDRv6: 'fe00::/9' },
  ])('accepts a usable subnet next to them: %j', (raw) => {
    expect(() => parseNetworkConfig(raw)).not.toThrow()
  })

  it('accepts a fixed CIDR inside the bridge subnet', () => {
    expect(parseNetworkConfig({ addressIPv4: '192.168.1.1/16', fixedCIDR: '192.168.2.0/24' }).fixedCIDR?.cidr).toBe(
      '192.168.2.0/24',
    )
  })

  it('holds parsed values, not text: the steps never parse again', () => {
    const c = parseNetworkConfig({
      addressIPv4: '10.7.0.1/24',
      enableIPv6: true,
      fixedCIDRv6: 'FD00:7::/64',
      ipRangeV6: 'fd00:7::100/120',
      auxAddresses: { router: '10.7.0.2', r6: 'fd00:7::2' },
      hostBindingIPv4: '127.0.0.1',
    })
    expect(c.addressIPv4).toMatchObject({ family: 4, address: '10.7.0.1', prefixLength: 24, cidr: '10.7.0.0/24' })
    expect(c.fixedCIDRv6).toMatchObject({ family: 6, cidr: 'fd00:7::/64' })
    expect(c.ipRangeV6).toMatchObject({ family: 6, cidr: 'fd00:7::100/120' })
    expect(c.auxAddresses.router).toMatchObject({ family: 4, text: '10.7.0.2', value: 0x0a070002n })
    expect(c.auxAddresses.r6).toMatchObject({ family: 6, text: 'fd00:7::2' })
    expect(c.hostBindingIPv4).toMatchObject({ family: 4, text: '127.0.0.1' })
  })

  it('refuses a hostBindingIPv4 that is not an address', () => {
    expect(() => parseNetworkConfig({ hostBindingIPv4: '10.0.0.0/8' })).toThrow(invalid)
    expect(() => parseNetworkConfig({ hostBindingIPv4: 'localhost' })).toThrow('hostBindingIPv4 "localhost"')
  })
})

describe('driver options', () => {
  it('default to the Docker pools and allow forwarding', () => {
    expect(parseDriverConfig({})).toEqual({
      firewallBackend: undefined,
      defaultAddressPools: [...DEFAULT_ADDRESS_POOLS],
      enableIPForwarding: true,
    })
  })

  it('refuse unknown backends, bad pools and unknown keys', () => {
    expect(() => parseDriverConfig({ firewallBackend: 'pf' })).toThrow(invalid)
    expect(() => parseDriverConfig({ defaultAddressPools: [{ base: '10.0.0.0/8', size: 4 }] })).toThrow(invalid)
    expect(() => parseDriverConfig({ defaultAddressPools: [] })).toThrow(invalid)
    expect(() => parseDriverConfig({ nope: 1 })).toThrow(invalid)
  })
})

describe('endpoint options', () => {
  it('parses port bindings, MAC and preferred addresses', () => {
    expect(
      parseEndpointConfig({
        portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080, hostIP: '::FFFF:127.0.0.1' }],
        macAddress: '02:42:AC:11:00:09',
        ipv4Address: '172.18.0.9',
      }),
    ).toEqual({
      portBindings: [{ proto: 'tcp', containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1' }],
      macAddress: '02:42:ac:11:00:09',
      ipv4Address: '172.18.0.9',
      ipv6Address: undefined,
    })
  })

  it.each([
    { portBindings: [{ proto: 'icmp', containerPort: 1 }] },
    { portBindings: [{ proto: 'tcp', containerPort: 70000 }] },
    { portBindings: [{ proto: 'tcp', containerPort: 80, containerPortEnd: 79 }] },
    { macAddress: '01:00:5e:00:00:01' },
    { ipv4Address: 'fd00::1' },
    { bogus: true },
  ])('refuses %j', (raw) => {
    expect(() => parseEndpointConfig(raw)).toThrow(invalid)
  })
})

describe('address election', () => {
  const pools = DEFAULT_ADDRESS_POOLS
  it('takes the first free pool', () => {
    expect(electSubnet(pools, { routes: [], nameservers: [], taken: [] })).toBe('172.17.0.0/16')
  })

  it('skips subnets overlapping routes, nameservers and other networks', () => {
    expect(electSubnet(pools, { routes: ['172.17.5.0/24'], nameservers: [], taken: [] })).toBe('172.18.0.0/16')
    expect(electSubnet(pools, { routes: [], nameservers: ['172.17.0.53', '172.18.0.1'], taken: [] })).toBe(
      '172.19.0.0/16',
    )
    expect(electSubnet(pools, { routes: ['10.0.0.0/8'], nameservers: ['fd00::53'], taken: ['172.17.0.0/16'] })).toBe(
      '172.18.0.0/16',
    )
    expect(
      electSubnet([{ base: '192.168.0.0/16', size: 20 }], { routes: [], nameservers: ['192.168.0.1'], taken: [] }),
    ).toBe('192.168.16.0/20')
  })

  it('fails with ERR_INVALID_CONFIG when everything overlaps', () => {
    expect(() =>
      electSubnet([{ base: '10.0.0.0/24', size: 24 }], { routes: ['10.0.0.0/8'], nameservers: [], taken: [] }),
    ).toThrow(invalid)
  })

  it('reads nameservers and derives ULAs and names', () => {
    expect(parseNameservers('# x\nnameserver 10.255.255.53\nnameserver fe80::1%eth0\nsearch lan\n')).toEqual([
      '10.255.255.53',
      'fe80::1',
    ])
    expect(ulaSubnetFor('0123456789abcdef')).toBe('fd01:2345:6789::/64')
    expect(hostVethName('0123456789abcdef')).toBe('veth0123456789a')
    expect(macFromIPv4('172.17.0.2')).toBe('02:42:ac:11:00:02')
  })
})

describe('driver options', () => {
  it('refuse a conntrack flush delay that is not an integer 0–600000 ms, before anything is made', () => {
    for (const bad of [-1, 0.5, 600_001, Number.NaN, '50' as unknown as number]) {
      expect(() => createBridgeDriver({ conntrackFlushDelayMs: bad }), String(bad)).toThrow(invalid)
    }
    expect(() => createBridgeDriver({ conntrackFlushDelayMs: 0 })).not.toThrow()
    expect(() => createBridgeDriver({ conntrackFlushDelayMs: 600_000 })).not.toThrow()
  })
})
