import { describe, expect, it } from 'vitest'
import {
  canonicalIP,
  ERR_INVALID_TRANSPORT_ADDRESS,
  formatTransportAddress,
  parseTransportAddress,
  validatePort,
  validateTransportAddress,
} from './transport-address.js'

describe('transport addresses', () => {
  it.each([
    [{ proto: 'tcp', ip: '0.0.0.0', port: 8080 }, 'tcp/0.0.0.0:8080'],
    [{ proto: 'udp', ip: '::1', port: 53 }, 'udp/[::1]:53'],
    [{ proto: 'sctp', ip: '10.0.0.1', port: 65535 }, 'sctp/10.0.0.1:65535'],
  ] as const)('%j round-trips as %s', (addr, text) => {
    expect(formatTransportAddress(addr)).toBe(text)
    expect(parseTransportAddress(text)).toEqual(addr)
  })

  it('formats a block with its end port', () => {
    expect(formatTransportAddress({ proto: 'tcp', ip: '::', port: 8000, endPort: 8002 })).toBe('tcp/[::]:8000-8002')
    expect(formatTransportAddress({ proto: 'tcp', ip: '::', port: 8000, endPort: 8000 })).toBe('tcp/[::]:8000')
  })

  it.each(['tcp/0.0.0.0:0', 'tcp/0.0.0.0:70000', 'icmp/1.2.3.4:1', 'tcp/::1:80', 'tcp/[1.2.3.4]:80', 'tcp/1.2.3:80'])(
    'refuses %s',
    (text) => {
      expect(() => parseTransportAddress(text)).toThrow(
        expect.objectContaining({ code: ERR_INVALID_TRANSPORT_ADDRESS }),
      )
    },
  )

  it('canonical IPs', () => {
    expect(canonicalIP('FD00:0::1')).toBe('fd00::1')
    expect(canonicalIP('::ffff:10.1.2.3')).toBe('10.1.2.3')
    expect(canonicalIP('fe80::1%eth0')).toBeUndefined()
    expect(canonicalIP(7)).toBeUndefined()
  })

  it('validates address objects and ports', () => {
    expect(validateTransportAddress({ proto: 'udp', ip: 'FD00::2', port: 53 }, 'container address')).toEqual({
      proto: 'udp',
      ip: 'fd00::2',
      port: 53,
    })
    expect(validateTransportAddress({ proto: 'tcp', ip: '::', port: 1 }, 'host address', true).ip).toBe('::')
    for (const bad of [null, { proto: 'tcp', ip: '::', port: 1 }, { proto: 'tcp', ip: '1.2.3.4', port: 1.5 }]) {
      expect(() => validateTransportAddress(bad, 'container address')).toThrow(
        expect.objectContaining({ code: ERR_INVALID_TRANSPORT_ADDRESS, message: expect.stringContaining('container') }),
      )
    }
    expect(validatePort(0, 'host port', true)).toBe(0)
    expect(() => validatePort(0, 'host port')).toThrow(expect.objectContaining({ code: ERR_INVALID_TRANSPORT_ADDRESS }))
  })
})
