import type { JoinedEndpoint } from '@cnm/controller'
import type { DnsEntry } from '@cnm/dns'
import { describe, expect, it } from 'vitest'
import { scopedEntriesOf } from './scoped-entries.js'

const ep = (id: string, networkId: string, sandbox: string, ipv4: string): JoinedEndpoint => ({
  id,
  name: id,
  networkId,
  aliases: [],
  ipv4,
  ipv6: undefined,
  sandbox: { id: sandbox, containerID: sandbox, name: undefined, key: `/k/${sandbox}` },
})

/** Every sandbox's scoped entries, merged by network (as the DNS service holds them). */
function scopedEntries(joined: JoinedEndpoint[], served: (networkId: string) => boolean): Map<string, DnsEntry[]> {
  const on = joined.filter((e) => served(e.networkId))
  const out = new Map<string, DnsEntry[]>()
  for (const sandbox of new Set(on.map((e) => e.sandbox.id))) {
    const eps = on.filter((e) => e.sandbox.id === sandbox)
    for (const [networkId, entries] of scopedEntriesOf(eps, (id) => on.filter((e) => e.networkId === id))) {
      out.set(networkId, [...(out.get(networkId) ?? []), ...entries])
    }
  }
  return out
}

describe('names for a sandbox on several networks', () => {
  it("puts each other network's endpoints in its servers' tables, visible to its own addresses only", () => {
    const joined = [
      ep('a1', 'A', 's1', '10.1.0.2'), // s1 on A and B
      ep('b1', 'B', 's1', '10.2.0.2'),
      ep('a2', 'A', 's2', '10.1.0.3'), // s2 on A only
      ep('b3', 'B', 's3', '10.2.0.4'), // s3 on B only
    ]
    const out = scopedEntries(joined, () => true)
    expect(out.get('A')).toEqual([
      { id: 'scoped:s1:a1:b1', name: 'b1', aliases: ['s1'], addresses: ['10.2.0.2'], clients: ['10.1.0.2'] },
      { id: 'scoped:s1:a1:b3', name: 'b3', aliases: ['s3'], addresses: ['10.2.0.4'], clients: ['10.1.0.2'] },
    ])
    expect(out.get('B')?.map((e) => [e.name, e.clients])).toEqual([
      ['a1', ['10.2.0.2']],
      ['a2', ['10.2.0.2']],
    ])
  })

  it('nothing when no sandbox is on two networks with a server', () => {
    const joined = [ep('a1', 'A', 's1', '10.1.0.2'), ep('b1', 'C', 's1', '10.3.0.2'), ep('b2', 'B', 's2', '10.2.0.2')]
    expect(scopedEntries(joined, (id) => id !== 'C').size).toBe(0)
  })
})
