import { describe, expect, it } from 'vitest'
import { ERR_INVALID_PORT, ERR_UNKNOWN_PROTOCOL } from './errors.js'
import { isValidPort, parsePort, parsePortRange } from './port.js'
import { PROTOCOLS, parseProtocol } from './protocol.js'

describe('ports and protocols', () => {
  it('accepts integers 1-65535 only', () => {
    for (const ok of [1, 80, 65535]) expect(parsePort(ok)).toBe(ok)
    for (const bad of [0, -1, 65536, 1.5, Number.NaN, '80', null, undefined, 80n]) {
      expect(isValidPort(bad)).toBe(false)
      expect(() => parsePort(bad)).toThrow(expect.objectContaining({ code: ERR_INVALID_PORT, port: bad }))
    }
  })

  it('accepts ordered ranges only', () => {
    expect(parsePortRange(1, 65535)).toEqual([1, 65535])
    expect(parsePortRange(80, 80)).toEqual([80, 80])
    expect(() => parsePortRange(81, 80)).toThrow('invalid port range 81-80: the start is above the end')
    expect(() => parsePortRange(0, 80)).toThrow('invalid port range 0-80: the start must be an integer')
    expect(() => parsePortRange(80, 65536)).toThrow('invalid port range 80-65536: the end must be an integer')
  })

  it('knows tcp, udp and sctp, exactly', () => {
    expect(PROTOCOLS).toEqual(['tcp', 'udp', 'sctp'])
    for (const proto of PROTOCOLS) expect(parseProtocol(proto)).toBe(proto)
    for (const bad of ['TCP', 'icmp', '', undefined, 6]) {
      expect(() => parseProtocol(bad)).toThrow(expect.objectContaining({ code: ERR_UNKNOWN_PROTOCOL, protocol: bad }))
    }
  })
})
