import * as ip from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import * as api from './index.js'

describe('errors', () => {
  const classes: [new (message: string) => api.IPAllocatorError, string, string][] = [
    [api.NoAvailableIPsError, api.ERR_NO_AVAILABLE_IPS, 'conflict'],
    [api.IPAlreadyAllocatedError, api.ERR_IP_ALREADY_ALLOCATED, 'conflict'],
    [api.IPOutOfRangeError, api.ERR_IP_OUT_OF_RANGE, 'invalid'],
    [api.NetworkAlreadyRegisteredError, api.ERR_NETWORK_ALREADY_REGISTERED, 'conflict'],
    [api.BadSubnetError, api.ERR_BAD_SUBNET, 'invalid'],
    [api.NetworkOverlapsError, api.ERR_NETWORK_OVERLAPS, 'conflict'],
    [api.NameserverOverlapsError, api.ERR_NAMESERVER_OVERLAPS, 'conflict'],
    [api.InvalidStateError, api.ERR_INVALID_STATE, 'invalid'],
  ]

  it.each(classes)('%o carries its code, kind, name and message', (ErrorClass, code, kind) => {
    const err = new ErrorClass('something happened')
    expect(err).toBeInstanceOf(Error)
    expect(err).toBeInstanceOf(api.IPAllocatorError)
    expect(err.code).toBe(code)
    expect(err.kind).toBe(kind)
    expect(err.name).toBe(ErrorClass.name)
    expect(err.message).toBe('something happened')
    expect(code).toMatch(/^ERR_[A-Z_]+$/)
  })

  it('takes the errors of bad text from @cnm/ip: same codes, kind invalid', () => {
    for (const [ErrorClass, code] of [
      [api.InvalidCIDRError, api.ERR_INVALID_CIDR],
      [api.InvalidAddressError, api.ERR_INVALID_ADDRESS],
    ] as const) {
      const err = new ErrorClass('something happened')
      expect(err).toBeInstanceOf(ip.IPError)
      expect(err).toMatchObject({ code, kind: 'invalid', message: 'something happened' })
    }
  })
})

describe('the package entry', () => {
  it('exports the contract and no default', () => {
    expect(Object.keys(api)).not.toContain('default')
    for (const name of [
      'IPAllocator',
      'parseCIDR',
      'networkRange',
      'networksOverlap',
      'checkNameserverOverlaps',
      'checkRouteOverlaps',
      'canonicalAddress',
      'nthHost',
    ]) {
      expect(typeof (api as Record<string, unknown>)[name]).toBe('function')
    }
  })
})
