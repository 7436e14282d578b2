import { describe, expect, it } from 'vitest'
import {
  HOST_ACCEPT_CHAIN,
  hostAcceptLines,
  hostFlushLines,
  hostMissing,
  hostObjects,
  hostRemoveLines,
  parseForwardChains,
  readHostTable,
} from './host-forward.js'

// What nft 1.0.6 prints here for `iptables -P FORWARD DROP` plus a user's `inet filter` table.
const CHAINS = JSON.stringify({
  nftables: [
    { metainfo: { version: '1.0.6' } },
    {
      chain: {
        family: 'ip',
        table: 'filter',
        name: 'FORWARD',
        handle: 1,
        type: 'filter',
        hook: 'forward',
        prio: 0,
        policy: 'drop',
      },
    },
    {
      chain: {
        family: 'ip',
        table: 'filter',
        name: 'INPUT',
        handle: 2,
        type: 'filter',
        hook: 'input',
        prio: 0,
        policy: 'accept',
      },
    },
    { chain: { family: 'ip', table: 'filter', name: HOST_ACCEPT_CHAIN, handle: 3 } },
    {
      chain: {
        family: 'inet',
        table: 'cnm',
        name: 'forward',
        handle: 4,
        type: 'filter',
        hook: 'forward',
        prio: 0,
        policy: 'accept',
      },
    },
    {
      chain: {
        family: 'inet',
        table: 'cnm',
        name: 'prerouting',
        handle: 5,
        type: 'nat',
        hook: 'prerouting',
        prio: -100,
        policy: 'accept',
      },
    },
    {
      chain: {
        family: 'inet',
        table: 'my fw',
        name: 'fwd',
        handle: 6,
        type: 'filter',
        hook: 'forward',
        prio: 0,
        policy: 'drop',
      },
    },
    {
      chain: {
        family: 'inet',
        table: 'filter',
        name: 'forward',
        handle: 7,
        type: 'filter',
        hook: 'forward',
        prio: 0,
        policy: 'drop',
      },
    },
  ],
})

const accept = (key: string, bridge: string, handle: number) => ({
  rule: {
    family: 'ip',
    table: 'filter',
    chain: HOST_ACCEPT_CHAIN,
    handle,
    expr: [{ match: { op: '==', left: { meta: { key } }, right: bridge } }, { accept: null }],
  },
})

const IP_FILTER = JSON.stringify({
  nftables: [
    { table: { family: 'ip', name: 'filter', handle: 1 } },
    {
      chain: {
        family: 'ip',
        table: 'filter',
        name: 'FORWARD',
        handle: 1,
        type: 'filter',
        hook: 'forward',
        policy: 'drop',
      },
    },
    { chain: { family: 'ip', table: 'filter', name: HOST_ACCEPT_CHAIN, handle: 3 } },
    {
      rule: {
        family: 'ip',
        table: 'filter',
        chain: 'FORWARD',
        handle: 9,
        expr: [{ jump: { target: HOST_ACCEPT_CHAIN } }],
      },
    },
    // The user's own rule with a counter, and one accepting eth0: neither is cnm's.
    {
      rule: {
        family: 'ip',
        table: 'filter',
        chain: 'FORWARD',
        handle: 2,
        expr: [
          { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'eth0' } },
          { counter: {} },
          { accept: null },
        ],
      },
    },
    accept('iifname', 'br-a', 10),
    accept('oifname', 'br-a', 11),
    accept('iifname', 'br-b', 12),
  ],
})

describe('host forward chains', () => {
  const read = () => {
    const chains = parseForwardChains(CHAINS, ['inet cnm'])
    readHostTable(
      chains.filter((c) => c.table === 'filter' && c.family === 'ip'),
      IP_FILTER,
    )
    return chains
  }

  it('finds filter chains on the forward hook of other tables, skipping cnm and names it would not quote', () => {
    const chains = read()
    expect(chains.map((c) => `${c.family} ${c.table} ${c.chain} ${c.policy}`)).toEqual([
      'ip filter FORWARD drop',
      'inet filter forward drop',
    ])
    expect(parseForwardChains(CHAINS, ['inet cnm', 'ip filter', 'ip6 filter']).map((c) => c.table)).toEqual(['filter'])
    expect(chains[0]?.jumps).toEqual([9])
    expect([...(chains[0]?.accepts ?? [])]).toEqual([
      ['br-a', { iif: [10], oif: [11] }],
      ['br-b', { iif: [12], oif: [] }],
    ])
  })

  it('adds only what a bridge lacks: the chain, its accepts, the jump first in the base chain', () => {
    const lines = hostAcceptLines(read(), 'br-b').map(([l]) => l)
    expect(lines).toEqual([
      'add rule ip filter CNM-ACCEPT oifname "br-b" accept',
      'add chain inet filter CNM-ACCEPT',
      'add rule inet filter CNM-ACCEPT iifname "br-b" accept',
      'add rule inet filter CNM-ACCEPT oifname "br-b" accept',
      'insert rule inet filter forward jump CNM-ACCEPT',
    ])
    expect(hostAcceptLines(read(), 'br-a').map(([l]) => l)).not.toContain(
      'add rule ip filter CNM-ACCEPT iifname "br-a" accept',
    )
  })

  it('reports what is missing, removes one bridge by handle, and flushes jumps then chains', () => {
    const chains = read()
    expect(hostMissing(chains, 'br-a')).toEqual(['accept in inet filter forward (policy drop)'])
    expect(hostMissing(chains, 'br-b')).toEqual([
      'accept in ip filter FORWARD (policy drop)',
      'accept in inet filter forward (policy drop)',
    ])
    expect(hostRemoveLines(chains, 'br-a').map(([l]) => l)).toEqual([
      'delete rule ip filter CNM-ACCEPT handle 10',
      'delete rule ip filter CNM-ACCEPT handle 11',
    ])
    expect(hostFlushLines(chains).map(([l]) => l)).toEqual([
      'delete rule ip filter FORWARD handle 9',
      'flush chain ip filter CNM-ACCEPT',
      'delete chain ip filter CNM-ACCEPT',
    ])
    expect(hostObjects(chains)).toEqual(['nft ip filter FORWARD jump CNM-ACCEPT', 'nft ip filter CNM-ACCEPT'])
  })
})
