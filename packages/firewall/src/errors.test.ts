import { CnmError } from '@cnm/driverapi'
import { describe, expect, it } from 'vitest'
import { commandError } from './command-error.js'
import {
  ERR_COMMAND_FAILED,
  ERR_INVALID_CONFIG,
  ERR_NOT_SUPPORTED,
  ERR_UNKNOWN_PROTOCOL,
  FirewallError,
} from './errors.js'

describe('FirewallError', () => {
  it('is a CnmError whose kind follows from its code', () => {
    expect(new FirewallError(ERR_INVALID_CONFIG, 'x')).toBeInstanceOf(CnmError)
    expect(new FirewallError(ERR_INVALID_CONFIG, 'x').kind).toBe('invalid')
    expect(new FirewallError(ERR_UNKNOWN_PROTOCOL, 'x').kind).toBe('invalid')
    expect(new FirewallError(ERR_NOT_SUPPORTED, 'x').kind).toBe('unsupported')
    expect(new FirewallError(ERR_COMMAND_FAILED, 'x').kind).toBe('kernel')
    expect(new FirewallError('EEXIST', 'x').kind).toBe('conflict')
    expect(new FirewallError('ENOENT', 'x').kind).toBe('not-found')
    expect(new FirewallError('EPERM', 'x').kind).toBe('kernel')
  })

  it('a failed program: the errno its output names decides code and kind', () => {
    const res = { status: 1, stdout: '', stderr: 'Error: Could not process rule: File exists' }
    expect(commandError('add network', 'nft', res)).toMatchObject({ code: 'EEXIST', kind: 'conflict' })
  })
})
