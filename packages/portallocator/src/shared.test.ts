import { describe, expect, it } from 'vitest'
import { PortAllocator } from './port-allocator.js'
import { systemPortRange } from './port-range.js'
import { getPortAllocator } from './shared.js'

describe('getPortAllocator', () => {
  it('returns the same allocator on every call, on the kernel range, in sync with the OS', () => {
    const shared = getPortAllocator()
    expect(shared).toBeInstanceOf(PortAllocator)
    expect(getPortAllocator()).toBe(shared)
    expect({ begin: shared.begin, end: shared.end }).toEqual(systemPortRange())
    expect(shared.syncWithOS).toBe(true)
  })

  it('shares state: a port reserved through one reference is taken for every caller', () => {
    const port = getPortAllocator().requestPort('127.0.0.1', 'tcp')
    try {
      expect(() => getPortAllocator().requestPort('127.0.0.1', 'tcp', port)).toThrow(/already allocated/)
    } finally {
      getPortAllocator().releasePort('127.0.0.1', 'tcp', port)
    }
  })
})
