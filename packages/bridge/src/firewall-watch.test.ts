import { describe, expect, it } from 'vitest'
import { describeDamage, mayHaveTakenRules } from './firewall-watch.js'

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

  it("another process adding to iptables-nft's filter tables (dockerd marking a bridge of its own)", () => {
    for (const table of ['ip filter', 'ip6 filter'])
      expect(mayHaveTakenRules(change({ added: [table] }), own)).toBe(true)
    expect(mayHaveTakenRules(change({ added: ['ip filter'], pid: 1, process: 'node' }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ added: ['ip filter'] }), own, false)).toBe(false) // the iptables backend's
  })

  it("not: other additions, other tables, this process's own transactions", () => {
    expect(mayHaveTakenRules(change({ added: ['inet cnm'] }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ added: ['ip nat', 'inet firewalld'] }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ deleted: ['inet firewalld', 'ip mangle'] }), own)).toBe(false)
    expect(mayHaveTakenRules(change({ deleted: ['inet cnm'], pid: 1, process: 'node' }), own)).toBe(false)
  })

  it('lost notifications, or a committer the kernel does not name: check', () => {
    expect(mayHaveTakenRules(change({ overrun: true }), own)).toBe(true)
    expect(mayHaveTakenRules(change({ deleted: ['inet cnm'], pid: undefined }), own)).toBe(true)
  })
})

describe('describeDamage: what a repair put back, in one line for the log', () => {
  const port = (hostPort: number) => ({
    proto: 'tcp' as const,
    family: 4 as const,
    hostIP: undefined,
    hostPort,
    hostPortEnd: hostPort,
    containerIP: '10.1.0.2',
    containerPort: 80,
    containerPortEnd: 80,
    bridge: 'br-1',
  })

  it('names the missing parts, networks and ports, at most three of each', () => {
    expect(
      describeDamage({
        skeleton: ['table inet cnm'],
        networks: [{ bridge: 'br-1', missing: ['chain fwd-br-1', 'masquerade'] }],
        ports: [port(8080)],
      }),
    ).toBe(
      'table inet cnm; network br-1 (chain fwd-br-1, masquerade); 1 published port (tcp 0.0.0.0:8080 -> 10.1.0.2:80)',
    )
    const many = describeDamage({ skeleton: [], networks: [], ports: [8081, 8082, 8083, 8084, 8085].map(port) })
    expect(many).toBe(
      '5 published ports (tcp 0.0.0.0:8081 -> 10.1.0.2:80, tcp 0.0.0.0:8082 -> 10.1.0.2:80, tcp 0.0.0.0:8083 -> 10.1.0.2:80 and 2 more)',
    )
  })

  it('is empty when nothing was missing', () => {
    expect(describeDamage({ skeleton: [], networks: [], ports: [] })).toBe('')
  })
})
