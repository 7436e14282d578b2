import { describe, expect, it } from 'vitest'
import { ERR_NO_NETWORK, InvalidConfigError, NoNetworkError } from './errors.js'
import { errorCode, hasErrorCode } from './has-error-code.js'

describe('errors', () => {
  it('carry a stable code and a message naming the object', () => {
    const err = new NoNetworkError('abc123')
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe(ERR_NO_NETWORK)
    expect(err.name).toBe('NoNetworkError')
    expect(err.message).toBe('network abc123 not found')
    expect(err.networkId).toBe('abc123')
  })

  it('keep the cause', () => {
    const cause = new Error('EEXIST')
    expect(new InvalidConfigError('bad', { cause }).cause).toBe(cause)
  })
})

describe('hasErrorCode', () => {
  it('matches by code, also for an error from another copy of the package', () => {
    // A "duplicate install": a different class with the same code.
    class NoNetworkErrorCopy extends Error {
      readonly code = ERR_NO_NETWORK
    }
    const copy = new NoNetworkErrorCopy('network x not found')
    expect(copy instanceof NoNetworkError).toBe(false)
    expect(hasErrorCode(copy, ERR_NO_NETWORK)).toBe(true)
    expect(hasErrorCode(new NoNetworkError('x'), 'ERR_OTHER')).toBe(false)
  })

  it('walks the cause chain and survives cycles and non-errors', () => {
    const inner = Object.assign(new Error('inner'), { code: 'EEXIST' })
    const outer = new Error('outer', { cause: inner })
    expect(hasErrorCode(outer, 'EEXIST')).toBe(true)
    const a: { code?: string; cause?: unknown } = {}
    a.cause = a
    expect(hasErrorCode(a, 'X')).toBe(false)
    expect(hasErrorCode(null, 'X')).toBe(false)
    expect(hasErrorCode('ERR_NO_NETWORK', ERR_NO_NETWORK)).toBe(false)
    expect(errorCode(inner)).toBe('EEXIST')
    expect(errorCode(42)).toBeUndefined()
  })
})
