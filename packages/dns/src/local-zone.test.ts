import { parseCIDR } from '@cnm/ip'
import { describe, expect, it } from 'vitest'
import { answerLocally, type LocalZone } from './local-zone.js'
import { NameTable } from './name-table.js'
import { reverseName } from './reverse.js'
import { RCODE } from './wire.js'

function zone(domain?: string): LocalZone {
  const names = new NameTable()
  names.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['10.1.0.2', 'fd00:1::2'] })
  return { names, domain, subnets: [parseCIDR('10.1.0.0/24'), parseCIDR('fd00:1::/64')], ttl: 60 }
}

describe('answerLocally', () => {
  it('answers A, AAAA and ANY for a name, keeping the case of the question', () => {
    const z = zone('cnm.internal')
    expect(answerLocally(z, { name: 'WEB', type: 'A' })).toEqual({
      rcode: RCODE.NOERROR,
      answers: [{ type: 'A', name: 'WEB', ttl: 60, data: '10.1.0.2' }],
    })
    expect(answerLocally(z, { name: 'www.cnm.internal', type: 'AAAA' })?.answers).toEqual([
      { type: 'AAAA', name: 'www.cnm.internal', ttl: 60, data: 'fd00:1::2' },
    ])
    expect(answerLocally(z, { name: 'web', type: 'ANY' as 'A' })?.answers.map((a) => a.type)).toEqual(['A', 'AAAA'])
  })

  it('has no data for other types of a name it holds', () => {
    expect(answerLocally(zone(), { name: 'web', type: 'MX' })).toEqual({ rcode: RCODE.NOERROR, answers: [] })
  })

  it('says NXDOMAIN for short names and names in its domain that it does not hold', () => {
    const z = zone('cnm.internal')
    expect(answerLocally(z, { name: 'db', type: 'A' })?.rcode).toBe(RCODE.NXDOMAIN)
    expect(answerLocally(z, { name: 'db.cnm.internal', type: 'MX' })?.rcode).toBe(RCODE.NXDOMAIN)
    expect(answerLocally(z, { name: 'cnm.internal', type: 'A' })?.rcode).toBe(RCODE.NOERROR)
  })

  it('leaves everything else to the upstreams', () => {
    const z = zone('cnm.internal')
    expect(answerLocally(z, { name: 'example.org', type: 'A' })).toBeUndefined()
    expect(answerLocally(z, { name: 'com', type: 'NS' })).toBeUndefined()
    expect(answerLocally(z, { name: 'web', type: 'A', class: 'CH' })).toBeUndefined()
    expect(answerLocally(z, { name: reverseName('192.0.2.1'), type: 'PTR' })).toBeUndefined()
  })

  it('answers PTR for its addresses, NXDOMAIN inside its subnets', () => {
    const z = zone('cnm.internal')
    expect(answerLocally(z, { name: reverseName('10.1.0.2').toUpperCase(), type: 'PTR' })?.answers).toEqual([
      { type: 'PTR', name: reverseName('10.1.0.2').toUpperCase(), ttl: 60, data: 'web.cnm.internal' },
    ])
    expect(answerLocally(zone(), { name: reverseName('fd00:1::2'), type: 'PTR' })?.answers[0]).toMatchObject({
      data: 'web',
    })
    expect(answerLocally(z, { name: reverseName('10.1.0.77'), type: 'PTR' })?.rcode).toBe(RCODE.NXDOMAIN)
    expect(answerLocally(z, { name: reverseName('fd00:1::77'), type: 'PTR' })?.rcode).toBe(RCODE.NXDOMAIN)
    expect(answerLocally(z, { name: reverseName('10.1.0.2'), type: 'A' })).toEqual({ rcode: 0, answers: [] })
  })
})
