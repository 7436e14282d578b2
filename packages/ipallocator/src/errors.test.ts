import { describe, expect, it } from 'vitest'
import * as api from './index.js'

describe('errors', () => {
  const classes: [new (message: string) => api.IPAllocatorError, string][] = [
    [api.NoAvailableIPsError, api.ERR_NO_AVAILABLE_IPS],
    [api.IPAlreadyAllocatedError, api.ERR_IP_ALREADY_ALLOCATED],
    [api.IPOutOfRangeError, api.ERR_IP_OUT_OF_RANGE],
    [api.NetworkAlreadyRegisteredError, api.ERR_NETWORK_ALREADY_REGISTERED],
    [api.BadSubnetError, api.ERR_BAD_SUBNET],
    [api.NetworkOverlapsError, api.ERR_NETWORK_OVERLAPS],
    [api.NameserverOverlapsError, api.ERR_NAMESERVER_OVERLAPS],
    [api.InvalidCIDRError, api.ERR_INVALID_CIDR],
    [api.InvalidAddressError, api.ERR_INVALID_ADDRESS],
    [api.InvalidStateError, api.ERR_INVALID_STATE],
  ]

  it.each(classes)('%o carries its code, name and message', (ErrorClass, code) => {
    const err = new ErrorClass('something happened')
    expect(err).toBeInstanceOf(Error)
    expect(err).toBeInstanceOf(api.IPAllocatorError)
    expect(err.code).toBe(code)
    expect(err.name).toBe(ErrorClass.name)
    expect(err.message).toBe('something happened')
    expect(code).toMatch(/^ERR_[A-Z_]+$/)
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
