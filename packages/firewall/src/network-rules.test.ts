import { describe, expect, it } from 'vitest'
import { ERR_INVALID_CIDR, ERR_INVALID_CONFIG, ERR_INVALID_INTERFACE_NAME } from './errors.js'
import { parseNetworkRef, parseNetworkRules } from './network-rules.js'

const base = { id: 'n1', bridge: 'br-4f2a9c0d1e3b', subnets: ['172.18.0.1/16', 'fd00:1::/64'] }

describe('parseNetworkRules', () => {
  it('applies the defaults and canonical subnets', () => {
    const net = parseNetworkRules(base)
    expect(net).toMatchObject({ id: 'n1', bridge: 'br-4f2a9c0d1e3b', icc: true, masquerade: true, internal: false })
    expect(net.subnets.map((s) => s.cidr)).toEqual(['172.18.0.0/16', 'fd00:1::/64'])
  })

  it('an internal network is never masqueraded; duplicates collapse', () => {
    const net = parseNetworkRules({
      ...base,
      internal: true,
      masquerade: true,
      subnets: ['10.0.0.0/24', '10.0.0.9/24'],
    })
    expect(net).toMatchObject({ internal: true, masquerade: false })
    expect(net.subnets.map((s) => s.cidr)).toEqual(['10.0.0.0/24'])
  })

  it.each([
    ['', ERR_INVALID_INTERFACE_NAME],
    ['a-sixteen-chars!', ERR_INVALID_INTERFACE_NAME],
    ['br0123456789abcd', ERR_INVALID_INTERFACE_NAME],
    ['br/0', ERR_INVALID_INTERFACE_NAME],
    ['br+', ERR_INVALID_INTERFACE_NAME],
    ['br 0', ERR_INVALID_INTERFACE_NAME],
    ['-br', ERR_INVALID_INTERFACE_NAME],
  ])('refuses bridge %j', (bridge, code) => {
    expect(() => parseNetworkRules({ ...base, bridge })).toThrow(
      expect.objectContaining({ code, message: expect.stringContaining(JSON.stringify(bridge)) }),
    )
  })

  it('refuses bad ids, subnets, flags and unknown options', () => {
    const bad = (raw: unknown, code: string) =>
      expect(() => parseNetworkRules(raw)).toThrow(expect.objectContaining({ code }))
    bad({ ...base, id: 'a/b' }, ERR_INVALID_CONFIG)
    bad({ ...base, id: 'x'.repeat(129) }, ERR_INVALID_CONFIG)
    bad({ ...base, subnets: [] }, ERR_INVALID_CIDR)
    bad({ ...base, subnets: '10.0.0.0/8' }, ERR_INVALID_CIDR)
    bad({ ...base, subnets: ['10.0.0.0/33'] }, ERR_INVALID_CIDR)
    bad({ ...base, subnets: ['10.0.0.0/16', '10.0.3.0/24'] }, ERR_INVALID_CIDR)
    bad({ ...base, icc: 'no' }, ERR_INVALID_CONFIG)
    bad({ ...base, masquarade: false }, ERR_INVALID_CONFIG)
    bad(null, ERR_INVALID_CONFIG)
    bad([], ERR_INVALID_CONFIG)
  })

  it('a network to delete needs only its bridge', () => {
    expect(parseNetworkRef({ bridge: 'br0' })).toBe('br0')
    expect(() => parseNetworkRef({ bridge: 'br/0' })).toThrow(
      expect.objectContaining({ code: ERR_INVALID_INTERFACE_NAME }),
    )
  })
})
