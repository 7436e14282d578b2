import { describe, expect, it } from 'vitest'
import { parseAddressPoolFlags } from './address-pools.js'

describe('--default-address-pool (as dockerd)', () => {
  it('parses base=CIDR[,size=N], in order, with the family default size', () => {
    expect(parseAddressPoolFlags(['base=10.10.0.0/16,size=24', 'base=fd10::/48', 'size=20,base=10.20.0.0/14'])).toEqual(
      [
        { base: '10.10.0.0/16', size: 24 },
        { base: 'fd10::/48', size: 64 },
        { base: '10.20.0.0/14', size: 20 },
      ],
    )
    expect(parseAddressPoolFlags(['base=10.10.0.0/16'])).toEqual([{ base: '10.10.0.0/16', size: 24 }])
  })

  it.each([
    ['10.10.0.0/16', 'must be base=CIDR[,size=N]'],
    ['base=10.10.0.0/16,colour=red', 'must be base=CIDR[,size=N]'],
    ['base=10.10.0.0/16,base=10.11.0.0/16', 'must be base=CIDR[,size=N]'],
    ['base=nope', 'base is not a CIDR'],
    ['base=10.10.0.0/16,size=8', 'size must be from 16 to 30'],
    ['base=10.10.0.0/16,size=31', 'size must be from 16 to 30'],
    ['base=10.10.0.0/16,size=x', 'size must be from 16 to 30'],
  ])('refuses %s', (text, words) => {
    expect(() => parseAddressPoolFlags([text])).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringContaining(words) }),
    )
  })
})
