import { describe, expect, it } from 'vitest'
import { ERR_INVALID_CONFIG } from './errors.js'
import { parseFirewallOptions } from './options.js'

describe('parseFirewallOptions', () => {
  it('accepts each known backend, and none given', () => {
    expect(parseFirewallOptions({ backend: 'nftables' })).toEqual({ backend: 'nftables' })
    expect(parseFirewallOptions({ backend: 'iptables' })).toEqual({ backend: 'iptables' })
    expect(parseFirewallOptions({ backend: 'none' })).toEqual({ backend: 'none' })
    expect(parseFirewallOptions({})).toEqual({ backend: undefined })
    expect(parseFirewallOptions()).toEqual({ backend: undefined })
  })

  it('rejects an unknown backend with ERR_INVALID_CONFIG naming it', () => {
    expect(() => parseFirewallOptions({ backend: 'ipfw' })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG, message: expect.stringContaining('"ipfw"') }),
    )
  })

  it('rejects unknown options and non-objects', () => {
    expect(() => parseFirewallOptions({ backnd: 'nftables' })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_CONFIG }),
    )
    expect(() => parseFirewallOptions('nftables')).toThrow(expect.objectContaining({ code: ERR_INVALID_CONFIG }))
  })
})
