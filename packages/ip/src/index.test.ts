import { describe, expect, it } from 'vitest'
import * as api from './index.js'

describe('the package entry', () => {
  it('exports the values, parsers and error codes, and no default', () => {
    expect(Object.keys(api)).not.toContain('default')
    for (const name of [
      'parseAddress',
      'tryParseAddress',
      'parseCIDR',
      'tryParseCIDR',
      'unmapped',
      'containsAddress',
      'containsPrefix',
      'networksOverlap',
      'formatAddress',
    ]) {
      expect(typeof (api as Record<string, unknown>)[name]).toBe('function')
    }
    expect(api.ERR_INVALID_ADDRESS).toBe('ERR_INVALID_ADDRESS')
    expect(api.ERR_INVALID_CIDR).toBe('ERR_INVALID_CIDR')
  })

  it('throws errors of the CnmError shape', () => {
    const err = new api.InvalidAddressError('bad', { cause: 'why' })
    expect(err).toBeInstanceOf(Error)
    expect(err).toBeInstanceOf(api.IPError)
    expect(err).toMatchObject({ code: 'ERR_INVALID_ADDRESS', kind: 'invalid', message: 'bad', cause: 'why' })
    expect(new api.InvalidCIDRError('bad')).toMatchObject({ code: 'ERR_INVALID_CIDR', kind: 'invalid' })
    expect('cause' in new api.InvalidCIDRError('bad')).toBe(false)
  })
})
