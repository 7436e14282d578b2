import { CnmError, ERR_NOT_SUPPORTED } from '@cnm/driverapi'
import { ERR_PORT_ALREADY_ALLOCATED } from '@cnm/portallocator'
import { describe, expect, it } from 'vitest'
import {
  ERR_INVALID_PORT_RANGE,
  ERR_INVALID_TRANSPORT_ADDRESS,
  ERR_PORT_MAPPED_FOR_IP,
  ERR_PORT_NOT_MAPPED,
  PortMapperError,
} from './errors.js'

describe('PortMapperError', () => {
  it('is a CnmError whose kind follows from its code', () => {
    expect(new PortMapperError(ERR_PORT_NOT_MAPPED, 'x')).toBeInstanceOf(CnmError)
    expect(new PortMapperError(ERR_INVALID_TRANSPORT_ADDRESS, 'x').kind).toBe('invalid')
    expect(new PortMapperError(ERR_INVALID_PORT_RANGE, 'x').kind).toBe('invalid')
    expect(new PortMapperError(ERR_PORT_MAPPED_FOR_IP, 'x').kind).toBe('conflict')
    expect(new PortMapperError(ERR_PORT_NOT_MAPPED, 'x').kind).toBe('not-found')
    expect(new PortMapperError(ERR_PORT_ALREADY_ALLOCATED, 'x').kind).toBe('conflict')
    expect(new PortMapperError(ERR_NOT_SUPPORTED, 'x').kind).toBe('unsupported')
  })
})
