import { describe, expect, it } from 'vitest'
import { parseNetworkRules } from './network-rules.js'
import { type NftTableState, parseNftTable } from './nft-inventory.js'
import { BASE_CHAINS, BASE_RULES, MAPS, networkChainRules, networkChains } from './nft-script.js'
import { nftDamage } from './nft-verify.js'
import { parsePortMapping } from './port-mapping.js'

const net = parseNetworkRules({ id: 'n1', bridge: 'br0', subnets: ['172.18.0.0/16'] })
const port = parsePortMapping({ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80 })
const c = networkChains('br0')

/** What the kernel holds after `addNetwork(net)` and `addPorts([port])`, as `parseNftTable` reads it. */
function whole(): NftTableState {
  const rules = new Map<string, number>()
  for (const [chain, list] of [...BASE_RULES, ...networkChainRules(net)]) rules.set(chain, list.length)
  const sets = new Map<string, { key: unknown; comment: string | undefined; value: unknown }[]>(
    MAPS.map(([, name]) => [name, []]),
  )
  sets.set('fwd_in', [{ key: 'br0', comment: 'n1', value: { jump: { target: c.fwd } } }])
  sets.set('fwd_out', [{ key: 'br0', comment: undefined, value: { jump: { target: c.in } } }])
  sets.set('bridges', [{ key: 'br0', comment: undefined, value: undefined }])
  sets.set('post4', [
    { key: { prefix: { addr: '172.18.0.0', len: 16 } }, comment: undefined, value: { jump: { target: c.post } } },
  ])
  sets.set('subnets4', [{ key: { prefix: { addr: '172.18.0.0', len: 16 } }, comment: undefined, value: undefined }])
  sets.set('dnat4any', [{ key: { concat: ['tcp', 8080] }, comment: undefined, value: { concat: ['172.18.0.2', 80] } }])
  sets.set('pubports', [{ key: { concat: ['ipv4', 'tcp', 8080] }, comment: undefined, value: undefined }])
  return {
    exists: true,
    chains: [...BASE_CHAINS.map(([n]) => n), 'published', c.fwd, c.in, c.post],
    sets,
    rules,
  }
}

const expected = { networks: [net], ports: [port] }

describe('nftDamage: what of the rules the kernel lacks', () => {
  it('nothing when everything is there', () => {
    expect(nftDamage(whole(), expected)).toEqual({ skeleton: [], networks: [], ports: [] })
  })

  it('a missing table: everything', () => {
    expect(nftDamage(parseNftTable(undefined), expected)).toEqual({
      skeleton: ['table inet cnm missing'],
      networks: [{ bridge: 'br0', missing: ['all of it'] }],
      ports: [port],
    })
  })

  it("a port's masquerade remap element missing: the port; a table of an older cnm: the sets and the network's rules", () => {
    const s = whole()
    s.sets.set('pubports', [])
    expect(nftDamage(s, expected)).toEqual({ skeleton: [], networks: [], ports: [port] })
    s.sets.delete('pubports')
    s.sets.delete('pubports_ip')
    s.rules.set(c.post, 2) // `oifname != "br0" masquerade` and the hairpin's, without the remaps
    const d = nftDamage(s, expected)
    expect(d.skeleton).toEqual(['set pubports missing', 'set pubports_ip missing'])
    expect(d.networks).toEqual([{ bridge: 'br0', missing: ['chain n-br0-post holds 2 of its 4 rules'] }])
    expect(d.ports).toEqual([port])
  })

  it('a flushed chain, a deleted rule, a deleted element, a port elsewhere', () => {
    const s = whole()
    s.rules.delete('published') // flushed
    s.rules.set(c.post, (s.rules.get(c.post) ?? 0) - 1) // one rule deleted
    s.sets.set('post4', []) // the subnet's elements deleted
    s.sets.set('subnets4', [])
    s.sets.set('dnat4any', [
      { key: { concat: ['tcp', 8080] }, comment: undefined, value: { concat: ['172.18.0.9', 80] } },
    ])
    const d = nftDamage(s, expected)
    expect(d.skeleton).toEqual([expect.stringMatching(/^chain published holds 0 of its \d+ rules$/u)])
    expect(d.networks).toEqual([
      {
        bridge: 'br0',
        missing: [
          expect.stringMatching(/^chain n-br0-post holds \d+ of its \d+ rules$/u),
          'element 172.18.0.0/16 of post4 missing',
          'element 172.18.0.0/16 of subnets4 missing',
        ],
      },
    ])
    expect(d.ports).toEqual([port])
  })
})
