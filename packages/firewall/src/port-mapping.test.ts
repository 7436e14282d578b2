import { describe, expect, it } from 'vitest'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CONFIG, ERR_INVALID_PORT, ERR_UNKNOWN_PROTOCOL } from './errors.js'
import { describeMapping, expandMapping, parsePortMapping, parsePortMappings } from './port-mapping.js'

const m = { proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80 } as const

describe('parsePortMapping', () => {
  it('a wildcard host IP is undefined; ports become ranges of one', () => {
    for (const hostIP of [undefined, '0.0.0.0']) {
      expect(parsePortMapping({ ...m, hostIP })).toEqual({
        proto: 'tcp',
        family: 4,
        hostIP: undefined,
        hostPort: 8080,
        hostPortEnd: 8080,
        containerIP: '172.18.0.2',
        containerPort: 80,
        containerPortEnd: 80,
        bridge: undefined,
      })
    }
    expect(parsePortMapping({ ...m, containerIP: 'fd00::2', hostIP: '::' })).toMatchObject({
      family: 6,
      hostIP: undefined,
    })
  })

  it('canonical addresses', () => {
    expect(parsePortMapping({ ...m, hostIP: '::ffff:10.0.0.1', containerIP: '::ffff:172.18.0.2' })).toMatchObject({
      family: 4,
      hostIP: '10.0.0.1',
      containerIP: '172.18.0.2',
    })
    expect(parsePortMapping({ ...m, hostIP: '2001:DB8::0:1', containerIP: 'FD00::2' })).toMatchObject({
      hostIP: '2001:db8::1',
      containerIP: 'fd00::2',
    })
  })

  it('ranges: equal sizes, or many host ports to one container port', () => {
    const r = parsePortMapping({ ...m, hostPortEnd: 8082, containerPortEnd: 82 })
    expect(expandMapping(r).map((x) => [x.hostPort, x.containerPort])).toEqual([
      [8080, 80],
      [8081, 81],
      [8082, 82],
    ])
    const many = parsePortMapping({ ...m, hostPortEnd: 8081 })
    expect(expandMapping(many).map((x) => [x.hostPort, x.containerPort])).toEqual([
      [8080, 80],
      [8081, 80],
    ])
    expect(describeMapping(r)).toBe('tcp 0.0.0.0:8080-8082 -> 172.18.0.2:80-82')
    expect(
      describeMapping(parsePortMapping({ ...m, proto: 'udp', containerIP: 'fd00::2', hostIP: '2001:db8::1' })),
    ).toBe('udp [2001:db8::1]:8080 -> [fd00::2]:80')
  })

  it.each([
    [{ ...m, proto: 'icmp' }, ERR_UNKNOWN_PROTOCOL],
    [{ ...m, hostPort: 0 }, ERR_INVALID_PORT],
    [{ ...m, hostPort: 70000 }, ERR_INVALID_PORT],
    [{ ...m, hostPort: 80.5 }, ERR_INVALID_PORT],
    [{ ...m, hostPort: '80' }, ERR_INVALID_PORT],
    [{ ...m, containerPort: 65536 }, ERR_INVALID_PORT],
    [{ ...m, hostPortEnd: 8079 }, ERR_INVALID_PORT],
    [{ ...m, hostPortEnd: 8081, containerPortEnd: 83 }, ERR_INVALID_PORT],
    [{ ...m, containerPortEnd: 81 }, ERR_INVALID_PORT],
    [{ ...m, containerIP: '0.0.0.0' }, ERR_INVALID_ADDRESS],
    [{ ...m, containerIP: '172.18.0.300' }, ERR_INVALID_ADDRESS],
    [{ ...m, hostIP: '::1' }, ERR_INVALID_ADDRESS],
    [{ ...m, bridge: 'br/0' }, 'ERR_INVALID_INTERFACE_NAME'],
    [{ ...m, hostport: 1 }, ERR_INVALID_CONFIG],
    ['tcp/8080', ERR_INVALID_CONFIG],
  ])('refuses %j', (raw, code) => {
    expect(() => parsePortMapping(raw)).toThrow(expect.objectContaining({ code }))
  })

  it('a list may not publish one host port twice', () => {
    expect(() =>
      parsePortMappings([m, { ...m, hostPort: 8079, hostPortEnd: 8080, containerPortEnd: undefined }]),
    ).toThrow(
      expect.objectContaining({ code: ERR_INVALID_PORT, message: expect.stringContaining('8080 appears twice') }),
    )
    expect(parsePortMappings([m, { ...m, hostIP: '10.0.0.1' }, { ...m, proto: 'udp' }])).toHaveLength(3)
    expect(() => parsePortMappings(m)).toThrow(expect.objectContaining({ code: ERR_INVALID_CONFIG }))
  })
})
