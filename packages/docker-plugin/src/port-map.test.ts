import { describe, expect, it } from 'vitest'
import { parsePortMap, published, servable } from './port-map.js'

describe('parsePortMap', () => {
  it("reads libnetwork's port bindings: protocol numbers, empty host addresses, ranges, -P (host port 0)", () => {
    const options = {
      'com.docker.network.endpoint.exposedports': [
        { Proto: 6, Port: 80 },
        { Proto: 17, Port: 53 },
      ],
      'com.docker.network.portmap': [
        { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 },
        { Proto: 17, IP: null, Port: 53, HostIP: '127.0.0.1', HostPort: 5353, HostPortEnd: 5353 },
        { Proto: 132, IP: '', Port: 9, HostIP: '::', HostPort: 0, HostPortEnd: 0 },
        { Proto: 6, IP: '', Port: 81, HostIP: '', HostPort: 9000, HostPortEnd: 9010 },
      ],
    }
    expect(parsePortMap('endpoint e', options)).toEqual([
      { proto: 'tcp', containerPort: 80, hostPort: 8080 },
      { proto: 'udp', containerPort: 53, hostPort: 5353, hostIP: '127.0.0.1' },
      { proto: 'sctp', containerPort: 9, hostIP: '::' },
      { proto: 'tcp', containerPort: 81, hostPort: 9000, hostPortEnd: 9010 },
    ])
  })

  it("gives a binding without a host address the network's host_binding_ipv4", () => {
    const options = { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: '', HostPort: 8080 }] }
    expect(parsePortMap('endpoint e', options, '127.0.0.1')).toEqual([
      { proto: 'tcp', containerPort: 80, hostPort: 8080, hostIP: '127.0.0.1' },
    ])
  })

  it('takes no options, null maps and empty lists as no ports', () => {
    expect(parsePortMap('endpoint e', undefined)).toEqual([])
    expect(parsePortMap('endpoint e', { 'com.docker.network.portmap': null })).toEqual([])
    expect(
      parsePortMap('endpoint e', { 'com.docker.network.portmap': [], 'com.docker.network.endpoint.exposedports': [] }),
    ).toEqual([])
  })

  it.each([
    [{ 'com.docker.network.portmap': [{ Proto: 1, Port: 80 }] }, 'protocol 1 is not tcp (6), udp (17) or sctp (132)'],
    [{ 'com.docker.network.portmap': [{ Proto: 6, Port: 0 }] }, 'Port 0 must be a port 1–65535'],
    [
      { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 70000 }] },
      'HostPort 70000 must be a port 0–65535',
    ],
    [
      { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 9000, HostPortEnd: 8000 }] },
      'range 9000-8000 is reversed',
    ],
    [
      { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostIP: 'localhost' }] },
      'HostIP "localhost" is not an IP address',
    ],
    [{ 'com.docker.network.portmap': {} }, 'must be an array'],
    [{ 'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: -1 }] }, 'must be a port'],
  ])('refuses %j naming the endpoint', (options, message) => {
    expect(() => parsePortMap('endpoint e1', options)).toThrow(
      expect.objectContaining({ code: 'ERR_DOCKER_INVALID_REQUEST' }),
    )
    expect(() => parsePortMap('endpoint e1', options)).toThrow(/^endpoint e1: /u)
    expect(() => parsePortMap('endpoint e1', options)).toThrow(message)
  })
})

describe('published', () => {
  const port = {
    proto: 'tcp' as const,
    containerIP: '10.0.0.2',
    containerPort: 80,
    containerPortEnd: 80,
    hostIP: '0.0.0.0',
    hostPort: 8080,
    hostPortEnd: 8080,
  }
  it('matches bindings by protocol and container port, and by host port when asked', () => {
    expect(published([{ proto: 'tcp', containerPort: 80 }], [port])).toBe(true)
    expect(published([{ proto: 'udp', containerPort: 80 }], [port])).toBe(false)
    expect(published([{ proto: 'tcp', containerPort: 80, hostPort: 8080 }], [port], true)).toBe(true)
    expect(published([{ proto: 'tcp', containerPort: 80, hostPort: 8081 }], [port], true)).toBe(false)
    expect(published([{ proto: 'tcp', containerPort: 80 }], [port], true)).toBe(false)
    expect(published([], [])).toBe(true)
  })
})

describe('servable', () => {
  const b = (hostIP?: string) => ({
    proto: 'tcp' as const,
    containerPort: 80,
    hostPort: 8080,
    ...(hostIP ? { hostIP } : {}),
  })

  it("leaves out a binding on a host address of a family the endpoint has no address of (Docker's bridge, its proxy off)", () => {
    const all = [b(), b('0.0.0.0'), b('::'), b('::1'), b('192.0.2.7'), b('2001:db8::7')]
    expect(servable(all, { ipv4: '10.0.0.2/24', ipv6: undefined })).toEqual([b(), b('0.0.0.0'), b('192.0.2.7')])
    expect(servable(all, { ipv4: undefined, ipv6: 'fd00::2/64' })).toEqual([b(), b('::'), b('::1'), b('2001:db8::7')])
    expect(servable(all, { ipv4: '10.0.0.2/24', ipv6: 'fd00::2/64' })).toEqual(all)
  })
})
