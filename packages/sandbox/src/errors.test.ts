import { CnmError } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import {
  ERR_INVALID_SANDBOX_KEY,
  ERR_NO_INTERFACE,
  ERR_NO_SANDBOX,
  ERR_SANDBOX_DESTROYED,
  ERR_SANDBOX_EXISTS,
  SandboxError,
} from './errors.js'

describe('SandboxError', () => {
  it('is a CnmError whose kind follows from its code', () => {
    expect(new SandboxError(ERR_NO_SANDBOX, 'x')).toBeInstanceOf(CnmError)
    expect(new SandboxError(ERR_INVALID_SANDBOX_KEY, 'x').kind).toBe('invalid')
    expect(new SandboxError(ERR_SANDBOX_EXISTS, 'x').kind).toBe('conflict')
    expect(new SandboxError(ERR_NO_SANDBOX, 'x').kind).toBe('not-found')
    expect(new SandboxError(ERR_NO_INTERFACE, 'x').kind).toBe('not-found')
    expect(new SandboxError(ERR_SANDBOX_DESTROYED, 'x').kind).toBe('unavailable')
    expect(new SandboxError('EEXIST', 'interface eth0 already exists').kind).toBe('conflict')
  })
})
