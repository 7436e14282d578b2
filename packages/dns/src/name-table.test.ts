import { describe, expect, it } from 'vitest'
import { NameTable } from './name-table.js'

describe('NameTable', () => {
  it('answers a name and its aliases, in any case, at once', () => {
    const t = new NameTable()
    const g = t.generation
    t.set({ id: 'e1', name: 'Web', aliases: ['www', 'web-ep'], addresses: ['10.1.0.2', 'FD00:1::2'] })
    expect(t.generation).toBeGreaterThan(g)
    for (const n of ['web', 'WEB', 'web.', 'www', 'Web-Ep']) {
      expect(t.lookup(n)).toEqual({ ipv4: ['10.1.0.2'], ipv6: ['fd00:1::2'] })
    }
    expect(t.lookup('db')).toBeUndefined()
    expect(t.get('e1')).toEqual({
      id: 'e1',
      name: 'web',
      aliases: ['www', 'web-ep'],
      addresses: ['10.1.0.2', 'fd00:1::2'],
    })
  })

  it('replaces an entry by id and forgets what it no longer names', () => {
    const t = new NameTable()
    t.set({ id: 'e1', name: 'web', aliases: ['old'], addresses: ['10.1.0.2'] })
    expect(t.lookup('old')).toBeDefined()
    t.set({ id: 'e1', name: 'web', aliases: ['new'], addresses: ['10.1.0.9'] })
    expect(t.lookup('old')).toBeUndefined()
    expect(t.lookup('new')).toEqual({ ipv4: ['10.1.0.9'], ipv6: [] })
    expect(t.reverse('10.1.0.2')).toEqual([])
    expect(t.reverse('10.1.0.9')).toEqual(['web'])
    expect(t.size).toBe(1)
  })

  it('answers every address of a name two entries share (a network alias), until each is deleted', () => {
    const t = new NameTable()
    t.set({ id: 'a', name: 'api-1', aliases: ['api'], addresses: ['10.1.0.2'] })
    t.set({ id: 'b', name: 'api-2', aliases: ['api'], addresses: ['10.1.0.3'] })
    expect(t.lookup('api')?.ipv4).toEqual(['10.1.0.2', '10.1.0.3'])
    expect(t.delete('a')).toBe(true)
    expect(t.lookup('api')?.ipv4).toEqual(['10.1.0.3'])
    expect(t.lookup('api-1')).toBeUndefined()
    expect(t.delete('a')).toBe(false)
    t.clear()
    expect(t.lookup('api')).toBeUndefined()
    expect(t.entries()).toEqual([])
  })

  it('answers PTR with the entry name only, not its aliases', () => {
    const t = new NameTable()
    t.set({ id: 'e1', name: 'web', aliases: ['www'], addresses: ['fd00:1::2'] })
    expect(t.reverse('fd00:1:0::2')).toEqual(['web'])
    expect(t.reverse('not an address')).toEqual([])
  })

  it('refuses a bad entry before changing anything', () => {
    const t = new NameTable()
    t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    const g = t.generation
    expect(() => t.set({ id: 'e1', name: 'web', aliases: ['bad name'], addresses: ['10.1.0.3'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_NAME' }),
    )
    expect(() => t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.300'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG', kind: 'invalid' }),
    )
    expect(() => t.set({ id: 'e1', name: 'web', addresses: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG' }),
    )
    expect(() => t.set({ id: '', name: 'web', addresses: ['10.1.0.3'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG' }),
    )
    expect(t.generation).toBe(g)
    expect(t.lookup('web')?.ipv4).toEqual(['10.1.0.2'])
  })

  it('tells listeners about each change', () => {
    const t = new NameTable()
    let calls = 0
    const stop = t.onChange(() => calls++)
    t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    t.delete('e1')
    stop()
    t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    expect(calls).toBe(2)
  })

  it('does not grow when asked for names it does not hold', () => {
    const t = new NameTable()
    t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    for (let i = 0; i < 10_000; i++) expect(t.lookup(`n${i}`)).toBeUndefined()
    expect(t.lookup('web')).toBeDefined()
  })

  it('shows an entry with `clients` to those client addresses only', () => {
    const t = new NameTable()
    t.set({ id: 'e1', name: 'web', addresses: ['10.1.0.2'] })
    expect(t.scoped).toBe(false)
    // `db` is on another network; the sandbox at 10.1.0.5 (and fd00:1::5) is on both.
    t.set({ id: 'b:db', name: 'db', addresses: ['10.2.0.3'], clients: ['10.1.0.5', 'FD00:1::5'] })
    expect(t.scoped).toBe(true)
    expect(t.lookup('db')).toBeUndefined()
    expect(t.lookup('db', '10.1.0.9')).toBeUndefined()
    expect(t.lookup('db', '10.1.0.5')).toEqual({ ipv4: ['10.2.0.3'], ipv6: [] })
    expect(t.lookup('db', '::ffff:10.1.0.5')).toBeDefined()
    expect(t.lookup('db', 'fd00:1::5')).toBeDefined()
    expect(t.lookup('web', '10.1.0.9')).toBeDefined()
    expect(t.reverse('10.2.0.3', '10.1.0.9')).toEqual([])
    expect(t.reverse('10.2.0.3', '10.1.0.5')).toEqual(['db'])
    expect(t.get('b:db')?.clients).toEqual(['10.1.0.5', 'fd00:1::5'])
    expect(() => t.set({ id: 'x', name: 'x', addresses: ['10.2.0.4'], clients: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG' }),
    )
    expect(() => t.set({ id: 'x', name: 'x', addresses: ['10.2.0.4'], clients: ['me'] })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_DNS_CONFIG' }),
    )
    t.delete('b:db')
    expect(t.scoped).toBe(false)
  })
})
