import { ipamToText } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { ERR_DOCKER_INVALID_REQUEST } from './errors.js'
import { type IpamData, parseCreateNetwork } from './network-options.js'

const NID = 'c25f4d2bd5df21087c9d6e379502630e8fe2dae48afa84f3c927e6a94b7e269e'
const v4: IpamData[] = [{ AddressSpace: 'cnm-local', Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }]

describe('parseCreateNetwork', () => {
  it('maps what dockerd 20.10 sends (seen on the wire) onto the bridge options', () => {
    const cfg = parseCreateNetwork({
      NetworkID: NID,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
      IPv4Data: v4,
      IPv6Data: [],
    })
    expect(cfg).toMatchObject({
      bridge: { bridgeName: 'br-c25f4d2bd5df', allowNonDefaultBridge: true },
      hostBindingIPv4: undefined,
      aux: {},
    })
    expect(ipamToText(cfg.ipam)).toEqual({ v4: [{ subnet: '10.77.0.0/24', gateway: '10.77.0.1' }] })
  })

  it("reads a switch as dockerd does (Go's strconv.ParseBool: t, True, FALSE, 0…)", () => {
    const icc = (v: string) =>
      parseCreateNetwork({
        NetworkID: NID,
        Options: { 'com.docker.network.generic': { 'com.docker.network.bridge.enable_icc': v } },
        IPv4Data: [{ Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24' }],
      }).bridge.enableICC
    for (const v of ['1', 't', 'T', 'true', 'TRUE', 'True']) expect(icc(v), v).toBe(true)
    for (const v of ['0', 'f', 'F', 'false', 'FALSE', 'False']) expect(icc(v), v).toBe(false)
  })

  it('honours -o options, --internal, --ipv6 and auxiliary addresses', () => {
    const cfg = parseCreateNetwork({
      NetworkID: NID,
      Options: {
        'com.docker.network.enable_ipv6': true,
        'com.docker.network.internal': true,
        'com.docker.network.generic': {
          'com.docker.network.bridge.name': 'dk0',
          'com.docker.network.bridge.enable_icc': 'false',
          'com.docker.network.bridge.enable_ip_masquerade': 'false',
          'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1',
          'com.docker.network.driver.mtu': '1400',
          'com.docker.network.container_iface_prefix': 'foo',
        },
      },
      IPv4Data: [{ Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24', AuxAddresses: { router: '10.77.0.5/24' } }],
      IPv6Data: [{ Pool: 'fd00:77::/64', Gateway: 'fd00:77::1/64' }],
    })
    expect(cfg.bridge).toEqual({
      bridgeName: 'dk0',
      allowNonDefaultBridge: true,
      enableICC: false,
      enableIPMasquerade: false,
      hostBindingIPv4: '127.0.0.1',
      mtu: 1400,
      internal: true,
      enableIPv6: true,
    })
    expect(ipamToText(cfg.ipam)).toEqual({
      v4: [{ subnet: '10.77.0.0/24', gateway: '10.77.0.1' }],
      v6: [{ subnet: 'fd00:77::/64', gateway: 'fd00:77::1' }],
    })
    expect(cfg.hostBindingIPv4).toBe('127.0.0.1')
    expect(cfg.aux).toEqual({ '10.77.0.0/24': ['10.77.0.5'] })
    expect(cfg.ifacePrefix).toBe('foo')
  })

  it.each([
    [
      { 'com.docker.network.generic': { 'com.docker.network.bridge.default_bridge': 'true' } },
      v4,
      'option com.docker.network.bridge.default_bridge is not supported by cnm',
    ],
    [{ 'com.example.other': 1 }, v4, 'option com.example.other is not supported'],
    [
      { 'com.docker.network.generic': { 'com.docker.network.container_iface_prefix': 'a/b' } },
      v4,
      'com.docker.network.container_iface_prefix="a/b" is not an interface name prefix',
    ],
    [
      { 'com.docker.network.generic': { 'com.docker.network.container_iface_prefix': 'x'.repeat(13) } },
      v4,
      'is not an interface name prefix',
    ],
    [
      { 'com.docker.network.generic': { 'com.docker.network.bridge.enable_icc': 'maybe' } },
      v4,
      'must be true or false',
    ],
    [{ 'com.docker.network.generic': { 'com.docker.network.driver.mtu': '15x' } }, v4, 'is not an MTU'],
    [
      { 'com.docker.network.generic': { 'com.docker.network.bridge.host_binding_ipv4': '::1' } },
      v4,
      'is not an IPv4 address',
    ],
    [
      {},
      [{ Pool: '10.77.0.0/24', Gateway: '10.78.0.1/24' }],
      'gateway "10.78.0.1/24" is not an address of 10.77.0.0/24',
    ],
    [{}, [{ Pool: '10.77.0.1/24', Gateway: '10.77.0.1/24' }], 'has host bits set'],
    [{}, [{ Pool: 'fd00::/64', Gateway: 'fd00::1/64' }], 'is not an IPv4 CIDR'],
    [{}, [...v4, ...v4], 'subnets 10.77.0.0/24 and 10.77.0.0/24 overlap'],
    [
      {},
      [{ Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24', AuxAddresses: { x: '10.99.0.1' } }],
      'auxiliary address x="10.99.0.1" is not in 10.77.0.0/24',
    ],
    [
      {},
      [{ Pool: '10.77.0.0/24', Gateway: '10.77.0.1/24', AuxAddresses: { g: '10.77.0.1' } }],
      'auxiliary address g=10.77.0.1 is the gateway of 10.77.0.0/24',
    ],
  ])('refuses %j with a message naming the network and what is wrong', (Options, IPv4Data, message) => {
    const err = (() => {
      try {
        parseCreateNetwork({ NetworkID: NID, Options, IPv4Data })
      } catch (e) {
        return e as { code: string; kind: string; message: string }
      }
      throw new Error('accepted')
    })()
    expect(err).toMatchObject({ code: ERR_DOCKER_INVALID_REQUEST, kind: 'invalid' })
    expect(err.message).toContain(`network ${NID}`)
    expect(err.message).toContain(message)
  })

  it('takes several pools per family (docker network create --subnet A --subnet B), each with its gateway', () => {
    const cfg = parseCreateNetwork({
      NetworkID: NID,
      Options: { 'com.docker.network.enable_ipv6': true },
      IPv4Data: [...v4, { Pool: '10.78.0.0/24', Gateway: '10.78.0.254/24', AuxAddresses: { r: '10.78.0.5' } }],
      IPv6Data: [{ Pool: 'fd00:77::/64' }, { Pool: 'fd00:78::/64', Gateway: 'fd00:78::1/64' }],
    })
    expect(ipamToText(cfg.ipam)).toEqual({
      v4: [
        { subnet: '10.77.0.0/24', gateway: '10.77.0.1' },
        { subnet: '10.78.0.0/24', gateway: '10.78.0.254' },
      ],
      v6: [{ subnet: 'fd00:77::/64' }, { subnet: 'fd00:78::/64', gateway: 'fd00:78::1' }],
    })
    expect(cfg.aux).toEqual({ '10.78.0.0/24': ['10.78.0.5'] })
  })

  it("takes any IPv6 gateway of the pool, as Docker's bridge (an --ip-range's first address by default)", () => {
    const cfg = parseCreateNetwork({
      NetworkID: NID,
      IPv4Data: v4,
      IPv6Data: [{ Pool: 'fd00:77::/64', Gateway: 'fd00:77::9/64' }],
    })
    expect(cfg.ipam.v6.map((d) => d.gateway?.text)).toEqual(['fd00:77::9'])
  })
})
