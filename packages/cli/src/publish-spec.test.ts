import { describe, expect, it } from 'vitest'
import { ERR_INVALID_PUBLISH_SPEC } from './errors.js'
import { formatPortBinding, parsePublishSpec } from './publish-spec.js'

describe('parsePublishSpec (docker run -p syntax)', () => {
  it.each([
    ['80', { proto: 'tcp', containerPort: 80 }],
    ['8080:80', { proto: 'tcp', containerPort: 80, hostPort: 8080 }],
    ['8080:80/udp', { proto: 'udp', containerPort: 80, hostPort: 8080 }],
    ['5000:5000/sctp', { proto: 'sctp', containerPort: 5000, hostPort: 5000 }],
    ['127.0.0.1:8080:80', { proto: 'tcp', containerPort: 80, hostIP: '127.0.0.1', hostPort: 8080 }],
    ['127.0.0.1::80', { proto: 'tcp', containerPort: 80, hostIP: '127.0.0.1' }],
    ['[::1]:8080:80/tcp', { proto: 'tcp', containerPort: 80, hostIP: '::1', hostPort: 8080 }],
    ['[2001:DB8:0::1]::80', { proto: 'tcp', containerPort: 80, hostIP: '2001:db8::1' }],
    [
      '8080-8081:80-81/tcp',
      { proto: 'tcp', containerPort: 80, containerPortEnd: 81, hostPort: 8080, hostPortEnd: 8081 },
    ],
    ['7000-7002', { proto: 'tcp', containerPort: 7000, containerPortEnd: 7002 }],
    [
      '0.0.0.0:9000-9001:90-91/udp',
      { proto: 'udp', containerPort: 90, containerPortEnd: 91, hostIP: '0.0.0.0', hostPort: 9000, hostPortEnd: 9001 },
    ],
    ['80-80', { proto: 'tcp', containerPort: 80 }],
  ])('%s', (spec, binding) => {
    expect(parsePublishSpec(spec)).toEqual(binding)
  })

  it.each([
    ['', 'it is empty'],
    ['http', 'container port "http" is not a port'],
    ['0', 'container port 0 is out of range'],
    ['70000:80', 'host port 70000 is out of range'],
    ['8080:80/icmp', 'protocol "icmp" must be tcp, udp or sctp'],
    ['8080:80/TCP', 'protocol "TCP"'],
    ['8080:', 'the container port is missing'],
    ['81-80', 'range 81-80 is reversed'],
    ['8080-8082:80-81', 'differ in size'],
    ['8080-8081:80', 'differ in size'],
    ['8080:80-81', 'differ in size'],
    ['::1:8080:80', 'an IPv6 host address goes in brackets'],
    ['[::1]8080:80', 'expected [IPv6]:hostPort:containerPort'],
    ['localhost:8080:80', 'host address "localhost" is not an IP address'],
    ['10.0.0.256:8080:80', 'is not an IP address'],
    [':8080:80', 'the host address is empty'],
    ['8080:80/tcp/udp', 'container port "80/tcp" is not a port'],
    ['a:b:c:d', 'expected [hostIP:][hostPort:]containerPort'],
  ])('refuses %j', (spec, why) => {
    expect(() => parsePublishSpec(spec)).toThrow(expect.objectContaining({ code: ERR_INVALID_PUBLISH_SPEC }))
    expect(() => parsePublishSpec(spec)).toThrow(why)
  })

  it('names the spec in the message', () => {
    expect(() => parsePublishSpec('8080:80/icmp')).toThrow('invalid --publish "8080:80/icmp": ')
  })
})

describe('formatPortBinding', () => {
  it('shows ports as docker ps does', () => {
    const p = {
      proto: 'tcp',
      hostIP: '0.0.0.0',
      hostPort: 8080,
      hostPortEnd: 8080,
      containerPort: 80,
      containerPortEnd: 80,
    }
    expect(formatPortBinding(p)).toBe('0.0.0.0:8080->80/tcp')
    expect(formatPortBinding({ ...p, hostIP: '::1', hostPortEnd: 8081, containerPortEnd: 81, proto: 'udp' })).toBe(
      '[::1]:8080-8081->80-81/udp',
    )
  })
})
