import { describe, expect, it } from 'vitest'
import { mayHaveTakenRules } from './firewall-watch.js'

const change = (over: Partial<Parameters<typeof mayHaveTakenRules>[0]>): Parameters<typeof mayHaveTakenRules>[0] => ({
  deleted: [],
  added: [],
  pid: 4242,
  process: 'nft',
  overrun: false,
  ...over,
})
const own = (pid: number): boolean => pid === 1

describe('mayHaveTakenRules: which nf_tables changes set a repair off', () => {
  it('another process deleting from cnm tables (or the tables iptables-nft keeps its chains in)', () => {
    for (const table of ['inet cnm', 'ip nat', 'ip filter', 'ip raw', 'ip6 nat', 'ip6 filter', 'ip6 raw']) {
      expect(mayHaveTakenRules(change({ deleted: [table] }), own), table).toBe(true)
    }
  })

  it("not: additions, other tables, this process's own transactions", () => {
    expect(mayHaveTakenRules(change({ added: ['inet cnm'] }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ deleted: ['inet firewalld', 'ip mangle'] }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ deleted: ['inet cnm'], pid: 1, process: 'node' }), own)).toBe(false)
  })

  it('lost notifications, or a committer the kernel does not name: check', () => {
    expect(mayHaveTakenRules(change({ overrun: true }), own)).toBe(true)
    expect(mayHaveTakenRules(change({ deleted: ['inet cnm'], pid: undefined }), own)).toBe(true)
  })
})
