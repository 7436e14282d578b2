import { describe, expect, it } from 'vitest'
import { ERR_INVALID_TRANSPORT_ADDRESS, formatTransportAddress, parseTransportAddress } from './transport-address.js'

describe('transport addresses', () => {
  it.each([
    [{ proto: 'tcp', ip: '0.0.0.0', port: 8080 }, 'tcp/0.0.0.0:8080'],
    [{ proto: 'udp', ip: '::1', port: 53 }, 'udp/[::1]:53'],
    [{ proto: 'sctp', ip: '10.0.0.1', port: 65535 }, 'sctp/10.0.0.1:65535'],
  ] as const)('%j round-trips as %s', (addr, text) => {
    expect(formatTransportAddress(addr)).toBe(text)
    expect(parseTransportAddress(text)).toEqual(addr)
  })

  it.each(['tcp/0.0.0.0:0', 'tcp/0.0.0.0:70000', 'icmp/1.2.3.4:1', 'tcp/::1:80', 'tcp/[1.2.3.4]:80', 'tcp/1.2.3:80'])(
    'refuses %s',
    (text) => {
      expect(() => parseTransportAddress(text)).toThrow(
        expect.objectContaining({ code: ERR_INVALID_TRANSPORT_ADDRESS }),
      )
    },
  )
})
