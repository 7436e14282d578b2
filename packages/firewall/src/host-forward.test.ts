import { describe, expect, it } from 'vitest'
import {
  dockerBridgesOf,
  HOST_ACCEPT_CHAIN,
  type HostForwardChain,
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

describe("host forward chains beside Docker's bridges", () => {
  const rule = (chain: string, handle: number, expr: unknown[]) => ({
    rule: { family: 'ip', table: 'filter', chain, handle, expr },
  })
  const oif = (name: string) => ({ match: { op: '==', left: { meta: { key: 'oifname' } }, right: name } })
  // What iptables-nft writes for Docker 20.10 (`-A FORWARD -o docker0 -j DOCKER`) and 28.x
  // (`-A DOCKER-BRIDGE -o br-… -j DOCKER`), a wildcard and a negated match that name no bridge, a
  // return cnm wrote, and a stale one naming cnm's own bridge br-a.
  const TABLE = JSON.stringify({
    nftables: [
      { chain: { family: 'ip', table: 'filter', name: HOST_ACCEPT_CHAIN, handle: 3 } },
      rule('FORWARD', 9, [{ jump: { target: HOST_ACCEPT_CHAIN } }]),
      rule('FORWARD', 20, [oif('docker0'), { counter: { packets: 0, bytes: 0 } }, { jump: { target: 'DOCKER' } }]),
      rule('DOCKER-BRIDGE', 21, [oif('br-1a2b3c4d5e6f'), { counter: null }, { jump: { target: 'DOCKER' } }]),
      rule('FORWARD', 22, [oif('veth*'), { jump: { target: 'DOCKER' } }]),
      rule('FORWARD', 23, [
        { match: { op: '!=', left: { meta: { key: 'oifname' } }, right: 'eth9' } },
        { jump: { target: 'DOCKER' } },
      ]),
      rule('FORWARD', 24, [oif('eth1'), { jump: { target: 'DOCKER-USER' } }]),
      // A cnm bridge marked (never happens): guarded, no return for it.
      rule('FORWARD', 25, [oif('br-b'), { jump: { target: 'DOCKER' } }]),
      rule(HOST_ACCEPT_CHAIN, 30, [oif('docker0'), { return: null }]),
      rule(HOST_ACCEPT_CHAIN, 31, [oif('br-a'), { counter: {} }, { return: null }]),
      accept('iifname', 'br-a', 10),
      accept('oifname', 'br-a', 11),
      accept('iifname', 'br-b', 12),
      accept('oifname', 'br-b', 13),
    ],
  })
  const read = () => {
    const chains = parseForwardChains(CHAINS, ['inet cnm', 'inet filter'])
    readHostTable(chains, TABLE)
    return chains
  }

  it("reads Docker's marks from any chain of the table, and cnm's returns", () => {
    const [h] = read()
    expect(h?.dockerBridges).toEqual(['docker0', 'br-1a2b3c4d5e6f', 'br-b'])
    expect([...(h?.returns ?? [])]).toEqual([
      ['docker0', [30]],
      ['br-a', [31]],
    ])
    expect(dockerBridgesOf(h as HostForwardChain, 'br-c')).toEqual(['docker0', 'br-1a2b3c4d5e6f'])
    expect(dockerBridgesOf(h as HostForwardChain, 'br-c', ['docker0'])).toEqual(['br-1a2b3c4d5e6f'])
  })

  it('a new bridge: a return for each Docker bridge ahead of the accepts; none for a cnm bridge', () => {
    expect(hostAcceptLines(read(), 'br-c').map(([l]) => l)).toEqual([
      'insert rule ip filter CNM-ACCEPT oifname "br-1a2b3c4d5e6f" return',
      'add rule ip filter CNM-ACCEPT iifname "br-c" accept',
      'add rule ip filter CNM-ACCEPT oifname "br-c" accept',
    ])
    // br-a: its own stale return goes; the missing Docker return is reported for every network.
    expect(hostAcceptLines(read(), 'br-a').map(([l]) => l)).toEqual([
      'insert rule ip filter CNM-ACCEPT oifname "br-1a2b3c4d5e6f" return',
      'delete rule ip filter CNM-ACCEPT handle 31',
    ])
    expect(hostMissing(read(), 'br-a')).toEqual([
      'return to Docker bridge br-1a2b3c4d5e6f in ip filter CNM-ACCEPT',
      'no return for its own bridge in ip filter CNM-ACCEPT',
    ])
    expect(hostMissing(read(), 'br-b')).toEqual(['return to Docker bridge br-1a2b3c4d5e6f in ip filter CNM-ACCEPT'])
  })

  it('without a Docker bridge nothing changes; the chain goes with its returns on flush', () => {
    const chains = parseForwardChains(CHAINS, ['inet cnm', 'inet filter'])
    readHostTable(chains, IP_FILTER)
    expect(chains[0]?.dockerBridges).toEqual([])
    expect(hostMissing(chains, 'br-a')).toEqual([])
    expect(hostFlushLines(read()).map(([l]) => l)).toEqual([
      'delete rule ip filter FORWARD handle 9',
      'flush chain ip filter CNM-ACCEPT',
      'delete chain ip filter CNM-ACCEPT',
    ])
  })
})
