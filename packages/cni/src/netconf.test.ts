import { describe, expect, it } from 'vitest'
import { CniError, cniErrorBody } from './errors.js'
import { decodeNetConf, parseNetConf } from './netconf.js'
import { buildResult } from './result.js'

const conf = { cniVersion: '1.0.0', name: 'n', type: 'cnm' }

describe('parseNetConf', () => {
  it('maps runtimeConfig (portMappings, ips, mac), subnet and options; the network defaults to the name', () => {
    const c = parseNetConf({
      ...conf,
      subnet: '10.88.0.0/16',
      options: { mtu: 1400 },
      runtimeConfig: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'udp', hostIP: '::ffff:127.0.0.1' }],
        ips: ['10.88.0.9/16', 'fd00::9/64'],
        mac: '02:AA:BB:CC:DD:EE',
      },
      'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }],
    })
    expect(c).toMatchObject({
      network: 'n',
      driver: 'bridge',
      options: { addressIPv4: '10.88.0.1/16', mtu: 1400 },
      portBindings: [{ proto: 'udp', containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1' }],
      ipv4: '10.88.0.9',
      ipv6: 'fd00::9',
      mac: '02:aa:bb:cc:dd:ee',
      validAttachments: [{ containerId: 'c1', ifname: 'eth0' }],
    })
    expect(parseNetConf({ ...conf, subnet: '10.9.0.0/24', gateway: '10.9.0.254' }).options).toEqual({
      addressIPv4: '10.9.0.254/24',
    })
  })

  it.each([
    [{ ...conf, cniVersion: '0.2.0' }, 1, 'ERR_CNI_VERSION'],
    [{ ...conf, cniVersion: undefined }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, name: '' }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, network: 'a b' }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, subnet: 'fd00::/64' }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }, 7, 'ERR_CNI_CONFIG'],
    [
      { ...conf, runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 80, protocol: 'icmp' }] } },
      7,
      'ERR_CNI_CONFIG',
    ],
    [{ ...conf, runtimeConfig: { ips: ['10.0.0.1', '10.0.0.2'] } }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, runtimeConfig: { mac: 'zz' } }, 7, 'ERR_CNI_CONFIG'],
    [{ ...conf, prevResult: [] }, 7, 'ERR_CNI_CONFIG'],
  ])('refuses %o (CNI code %i, %s)', (raw, cniCode, code) => {
    expect(() => parseNetConf(raw as Record<string, unknown>)).toThrow(expect.objectContaining({ code, cniCode }))
  })

  it('refuses stdin that is not a JSON object with code 6', () => {
    for (const text of ['', '{', '[]', '42']) {
      expect(() => decodeNetConf(text)).toThrow(expect.objectContaining({ code: 'ERR_CNI_DECODE', cniCode: 6 }))
    }
  })
})

describe('results and errors', () => {
  const facts = {
    bridge: { name: 'br0', mac: 'aa:aa:aa:aa:aa:aa' },
    hostVeth: { name: 'veth1', mac: 'bb:bb:bb:bb:bb:bb' },
    container: { name: 'eth0', mac: '02:42:0a:00:00:02', mtu: undefined, netns: '/run/netns/x' },
    ipv4: { address: '10.0.0.2/24', gateway: '10.0.0.1', defaultRoute: true },
    ipv6: undefined,
  }

  it('writes ips with their interface index, `version` only before 1.0.0; chains after a prevResult', () => {
    const r = buildResult('1.1.0', facts, undefined, undefined)
    expect(r.interfaces[2]).toEqual({ name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: '/run/netns/x' })
    expect(r.ips).toEqual([{ address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 2 }])
    expect(r.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.0.0.1' }])
    expect(buildResult('0.4.0', facts, { nameservers: ['1.1.1.1'] }, undefined)).toMatchObject({
      ips: [{ version: '4', address: '10.0.0.2/24', interface: 2 }],
      dns: { nameservers: ['1.1.1.1'] },
    })
    const prev = {
      interfaces: [{ name: 'x0' }],
      ips: [{ address: '192.0.2.9/24', interface: 0 }],
      dns: { search: ['a'] },
    }
    const chained = buildResult('1.0.0', facts, undefined, prev)
    expect(chained.interfaces.map((i) => i.name)).toEqual(['x0', 'br0', 'veth1', 'eth0'])
    expect(chained.ips.map((i) => i.interface)).toEqual([0, 3])
    expect(chained.dns).toEqual({ search: ['a'] })
  })

  it('an error body carries the CNI code and cnm code and kind; unclassified errors are 199', () => {
    expect(cniErrorBody(new CniError('ERR_X', 'conflict', 100, 'taken'), '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      code: 100,
      msg: 'taken',
      details: 'ERR_X (conflict)',
    })
    expect(
      cniErrorBody(Object.assign(new Error('busy'), { code: 'ERR_STORE', kind: 'unavailable' }), '0.4.0').code,
    ).toBe(11)
    expect(cniErrorBody(new Error('boom'), '1.1.0')).toMatchObject({ code: 199, details: 'ERR_INTERNAL (internal)' })
  })
})
