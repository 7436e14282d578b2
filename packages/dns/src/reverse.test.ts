import { describe, expect, it } from 'vitest'
import { addressOfReverseName, reverseName } from './reverse.js'

describe('reverse names', () => {
  it('writes the in-addr.arpa and ip6.arpa names', () => {
    expect(reverseName('10.1.0.2')).toBe('2.0.1.10.in-addr.arpa')
    expect(reverseName('fd00:1::2')).toBe(`2.${'0.'.repeat(23)}1.0.0.0.0.0.d.f.ip6.arpa`)
  })

  it('reads them back, and nothing partial', () => {
    expect(addressOfReverseName('2.0.1.10.in-addr.arpa')?.text).toBe('10.1.0.2')
    expect(addressOfReverseName(reverseName('2001:db8::53'))?.text).toBe('2001:db8::53')
    expect(addressOfReverseName('1.10.in-addr.arpa')).toBeUndefined()
    expect(addressOfReverseName('300.0.1.10.in-addr.arpa')).toBeUndefined()
    expect(addressOfReverseName('x.0.ip6.arpa')).toBeUndefined()
    expect(addressOfReverseName('web')).toBeUndefined()
  })
})
