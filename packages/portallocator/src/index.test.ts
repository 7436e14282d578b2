import { describe, expect, it } from 'vitest'
import * as api from './index.js'

describe('the package entry', () => {
  it('exports the contract and nothing internal', () => {
    expect(Object.keys(api).sort()).toEqual(
      [
        'AllPortsAllocatedError',
        'DEFAULT_PORT_RANGE_END',
        'DEFAULT_PORT_RANGE_START',
        'ERR_ALL_PORTS_ALLOCATED',
        'ERR_INVALID_ADDRESS',
        'ERR_INVALID_PORT',
        'ERR_PORT_ALREADY_ALLOCATED',
        'ERR_UNKNOWN_PROTOCOL',
        'InvalidAddressError',
        'InvalidPortError',
        'PortAllocator',
        'PortAllocatorError',
        'PortAlreadyAllocatedError',
        'UnknownProtocolError',
        'getPortAllocator',
      ].sort(),
    )
    expect(api.DEFAULT_PORT_RANGE_START).toBe(49153)
    expect(api.DEFAULT_PORT_RANGE_END).toBe(65535)
  })
})
