import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { sortInventory } from './inventory.js'
import { nftInventory, nftNetworkState, parseNftTable } from './nft-inventory.js'

// `nft -j list table inet cnm` after network n1 (br0) and three published ports, from nft 1.0.6.
const fixture = readFileSync(new URL('../test/fixtures/nft-table.json', import.meta.url), 'utf8')

describe('reading table inet cnm back', () => {
  it('lists networks and ports (ranges port by port)', () => {
    expect(sortInventory(nftInventory(parseNftTable(fixture)))).toEqual({
      backend: 'nftables',
      objects: ['table inet cnm'],
      networks: [{ id: 'net1', bridge: 'br0', subnets: ['172.18.0.0/16', 'fd00:1::/64'] }],
      ports: [
        { proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80, bridge: 'br0' },
        { proto: 'tcp', hostPort: 9000, containerIP: 'fd00:1::2', containerPort: 80 },
        { proto: 'tcp', hostPort: 9001, containerIP: 'fd00:1::2', containerPort: 81 },
        { proto: 'udp', hostIP: '10.0.0.1', hostPort: 53, containerIP: '172.18.0.2', containerPort: 53 },
      ],
    })
  })

  it('finds what a network on a bridge holds, to delete exactly that', () => {
    const state = parseNftTable(fixture)
    expect(nftNetworkState(state, 'br0')).toEqual({
      bridge: 'br0',
      inFwdIn: true,
      inFwdOut: true,
      inBridges: true,
      subnets: ['172.18.0.0/16', 'fd00:1::/64'],
      chains: ['n-br0-fwd', 'n-br0-in', 'n-br0-post'],
    })
    expect(nftNetworkState(state, 'br1')).toMatchObject({ inFwdIn: false, subnets: [], chains: [] })
  })

  it('no table: nothing owned', () => {
    expect(nftInventory(parseNftTable(undefined))).toEqual({
      backend: 'nftables',
      objects: [],
      networks: [],
      ports: [],
    })
  })
})
