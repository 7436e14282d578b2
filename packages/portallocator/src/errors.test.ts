import { describe, expect, it } from 'vitest'
import {
  AllPortsAllocatedError,
  ERR_ALL_PORTS_ALLOCATED,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_PORT,
  ERR_PORT_ALREADY_ALLOCATED,
  ERR_UNKNOWN_PROTOCOL,
  InvalidAddressError,
  InvalidPortError,
  PortAllocatorError,
  PortAlreadyAllocatedError,
  UnknownProtocolError,
} from './errors.js'

describe('errors', () => {
  it('each is an Error subclass with a stable code and name', () => {
    const cases: Array<[Error & { code: string }, string, string]> = [
      [new PortAlreadyAllocatedError('0.0.0.0', 80), ERR_PORT_ALREADY_ALLOCATED, 'PortAlreadyAllocatedError'],
      [new AllPortsAllocatedError(), ERR_ALL_PORTS_ALLOCATED, 'AllPortsAllocatedError'],
      [new UnknownProtocolError('icmp'), ERR_UNKNOWN_PROTOCOL, 'UnknownProtocolError'],
      [new InvalidPortError(70000), ERR_INVALID_PORT, 'InvalidPortError'],
      [new InvalidAddressError('x'), ERR_INVALID_ADDRESS, 'InvalidAddressError'],
    ]
    for (const [err, code, name] of cases) {
      expect(err).toBeInstanceOf(Error)
      expect(err).toBeInstanceOf(PortAllocatorError)
      expect(err.code).toBe(code)
      expect(err.name).toBe(name)
    }
  })

  it('the codes are their own names', () => {
    for (const code of [
      ERR_PORT_ALREADY_ALLOCATED,
      ERR_ALL_PORTS_ALLOCATED,
      ERR_UNKNOWN_PROTOCOL,
      ERR_INVALID_PORT,
      ERR_INVALID_ADDRESS,
    ]) {
      expect(code).toMatch(/^ERR_[A-Z_]+$/)
    }
  })

  it('PortAlreadyAllocatedError carries ip, port and ipPort, and says when the OS holds the port', () => {
    const err = new PortAlreadyAllocatedError('192.168.1.1', 8080)
    expect(err.message).toBe('Bind for 192.168.1.1:8080 failed: port is already allocated')
    expect(err).toMatchObject({ ip: '192.168.1.1', port: 8080, ipPort: '192.168.1.1:8080', byOS: false })
    const os = new PortAlreadyAllocatedError('::1', 22, true)
    expect(os.ipPort).toBe('[::1]:22')
    expect(os.message).toMatch(/^Bind for \[::1\]:22 failed: port is already allocated \(the OS already uses it/)
    expect(os.byOS).toBe(true)
  })

  it('messages name what was wrong', () => {
    expect(new AllPortsAllocatedError().message).toBe('all ports are allocated')
    expect(new UnknownProtocolError('icmp').message).toBe('unknown protocol "icmp": expected tcp, udp or sctp')
    expect(new UnknownProtocolError(undefined).message).toBe('unknown protocol undefined: expected tcp, udp or sctp')
    expect(new UnknownProtocolError({}).message).toBe('unknown protocol (object): expected tcp, udp or sctp')
    expect(new InvalidPortError(70000).message).toBe('invalid port 70000: expected an integer from 1 to 65535')
    expect(new InvalidAddressError('10.0.0.256').message).toBe(
      'invalid IP address "10.0.0.256": expected an IPv4 or IPv6 address',
    )
  })
})
