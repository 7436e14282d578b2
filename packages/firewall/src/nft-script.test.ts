import { describe, expect, it } from 'vitest'
import { parseNetworkRules } from './network-rules.js'
import {
  networkChainRules,
  nftAddNetwork,
  nftAddPorts,
  nftDeleteNetwork,
  nftDeletePorts,
  nftFlush,
  renderNftScript,
} from './nft-script.js'
import { parsePortMapping } from './port-mapping.js'

const net = parseNetworkRules({ id: 'n1', bridge: 'br0', subnets: ['172.18.0.0/16', 'fd00:1::/64'] })
const body = (lines: string[]): string[] =>
  lines.filter(
    (l) =>
      !l.startsWith('add table') &&
      !/^(add (chain|set|map)|flush chain|add rule inet cnm (prerouting|output|published|forward|input|postrouting|antispoof) )/u.test(
        l,
      ),
  )

describe('nftables rule text', () => {
  it('a network: its chains first, then the maps (nft 1.0.6 needs that order), then its map entries', () => {
    const s = nftAddNetwork(net)
    const text = renderNftScript(s)
    const firstMap = s.lines.findIndex((l) => l.startsWith('add map'))
    const lastChain = s.lines.findLastIndex((l) => l.startsWith('add chain'))
    expect(lastChain).toBeLessThan(firstMap)
    expect(s.lines).toContain('add chain inet cnm n-br0-post')
    expect(text).toContain('add rule inet cnm forward iifname vmap @fwd_in\n')
    expect(text).toContain(
      'add rule inet cnm published fib daddr type local dnat ip to meta l4proto . th dport map @dnat4any\n',
    )
    expect(text).toContain('add rule inet cnm postrouting oifname @bridges ip saddr 127.0.0.0/8 masquerade\n')
    expect(text).toContain('add rule inet cnm input iifname @bridges ip daddr 127.0.0.0/8 ct status ! dnat drop\n')
    expect(text).toContain(
      'add rule inet cnm input iifname @bridges meta l4proto { tcp, udp } th dport 53 fib daddr . iif type != local drop\n',
    )
    // A gateway's DNS only from its own bridge (not lo, not the uplink), and no forged source from a bridge.
    expect(text).toContain(
      'add rule inet cnm input meta l4proto { tcp, udp } th dport 53 ip daddr @subnets4 fib daddr . iif type != local drop\n',
    )
    expect(text).toContain(
      'add chain inet cnm antispoof { type filter hook prerouting priority -300; policy accept; }\n',
    )
    // No VXLAN from a bridge; no broadcast or multicast source from one (0.0.0.0, DHCP's, passes).
    expect(text).toContain('add rule inet cnm input iifname @bridges udp dport 4789 drop\n')
    expect(text).toContain(
      'flush chain inet cnm antispoof\n' +
        'add rule inet cnm antispoof iifname @bridges ip6 saddr :: meta l4proto ipv6-icmp return\n' +
        'add rule inet cnm antispoof iifname @bridges fib saddr . iif oif missing drop\n' +
        'add rule inet cnm antispoof iifname @bridges ip saddr != 0.0.0.0 fib saddr type { broadcast, multicast } drop\n' +
        'add rule inet cnm antispoof iifname @bridges ip6 saddr ff00::/8 drop\n',
    )
    // From an interface, 127.0.0.0/8 is never DNAT-ed; the host's own traffic (output) is.
    expect(text).toContain(
      'flush chain inet cnm prerouting\nadd rule inet cnm prerouting ip daddr 127.0.0.0/8 return\nadd rule inet cnm prerouting jump published\n',
    )
    expect(text).toContain('flush chain inet cnm output\nadd rule inet cnm output jump published\nflush chain')
    expect(body(s.lines)).toEqual([
      'add rule inet cnm n-br0-fwd oifname "br0" ct status dnat accept',
      'add rule inet cnm n-br0-fwd oifname "br0" accept',
      'add rule inet cnm n-br0-fwd ct status dnat accept',
      'add rule inet cnm n-br0-fwd oifname @bridges drop',
      'add rule inet cnm n-br0-fwd accept',
      'add rule inet cnm n-br0-in ct state established,related accept',
      'add rule inet cnm n-br0-in ct status dnat accept',
      'add rule inet cnm n-br0-in drop',
      'add rule inet cnm n-br0-post oifname != "br0" meta nfproto . meta l4proto . th sport @pubports masquerade random',
      'add rule inet cnm n-br0-post oifname != "br0" meta nfproto . meta l4proto . th sport @pubports_ip masquerade random',
      'add rule inet cnm n-br0-post oifname != "br0" masquerade',
      'add rule inet cnm n-br0-post oifname "br0" ct status dnat masquerade',
      'create element inet cnm fwd_in { "br0" comment "n1" : jump n-br0-fwd }',
      'create element inet cnm fwd_out { "br0" : jump n-br0-in }',
      'add element inet cnm bridges { "br0" }',
      'add element inet cnm post4 { 172.18.0.0/16 : jump n-br0-post }',
      'add element inet cnm subnets4 { 172.18.0.0/16 }',
      'add element inet cnm post6 { fd00:1::/64 : jump n-br0-post }',
      'add element inet cnm subnets6 { fd00:1::/64 }',
    ])
    expect(s.about.get(s.lines.indexOf('create element inet cnm fwd_out { "br0" : jump n-br0-in }') + 1)).toBe(
      'network n1 on bridge br0 already exists',
    )
  })

  it('ICC off and internal networks', () => {
    const iccOff = networkChainRules(parseNetworkRules({ ...net, subnets: ['10.0.0.0/24'], icc: false }))
    expect(iccOff[0]?.[1].slice(0, 2)).toEqual(['oifname "br0" ct status dnat accept', 'oifname "br0" drop'])
    const internal = networkChainRules(parseNetworkRules({ ...net, subnets: ['10.0.0.0/24'], internal: true }))
    expect(internal).toEqual([
      ['n-br0-fwd', ['oifname "br0" ct status dnat accept', 'oifname "br0" accept', 'drop']],
      ['n-br0-in', ['drop']],
      ['n-br0-post', ['oifname "br0" ct status dnat masquerade']],
    ])
  })

  it('deleting a network removes only what the kernel holds', () => {
    expect(
      nftDeleteNetwork({
        bridge: 'br0',
        inFwdIn: true,
        inFwdOut: false,
        inBridges: true,
        subnets: ['10.0.0.0/24', 'fd00::/64'],
        chains: ['n-br0-fwd'],
      }).lines,
    ).toEqual([
      'delete element inet cnm fwd_in { "br0" }',
      'delete element inet cnm bridges { "br0" }',
      'delete element inet cnm post4 { 10.0.0.0/24 }',
      'add element inet cnm subnets4 { 10.0.0.0/24 }',
      'delete element inet cnm subnets4 { 10.0.0.0/24 }',
      'delete element inet cnm post6 { fd00::/64 }',
      'add element inet cnm subnets6 { fd00::/64 }',
      'delete element inet cnm subnets6 { fd00::/64 }',
      'flush chain inet cnm n-br0-fwd',
      'delete chain inet cnm n-br0-fwd',
    ])
    expect(
      nftDeleteNetwork({ bridge: 'br0', inFwdIn: false, inFwdOut: false, inBridges: false, subnets: [], chains: [] })
        .lines,
    ).toEqual([])
  })

  it('published ports are one map element per host port, in the map of their family and host address', () => {
    const maps = [
      parsePortMapping({ proto: 'tcp', hostPort: 8080, containerIP: '172.18.0.2', containerPort: 80, bridge: 'br0' }),
      parsePortMapping({
        proto: 'udp',
        hostIP: '10.0.0.1',
        hostPort: 53,
        containerIP: '172.18.0.2',
        containerPort: 53,
      }),
      parsePortMapping({
        proto: 'tcp',
        hostPort: 9000,
        hostPortEnd: 9001,
        containerIP: 'fd00::2',
        containerPort: 80,
        containerPortEnd: 81,
      }),
      parsePortMapping({
        proto: 'sctp',
        hostIP: '2001:db8::1',
        hostPort: 5000,
        containerIP: 'fd00::2',
        containerPort: 5000,
      }),
    ]
    const add = nftAddPorts(maps)
    // Each host port also in the set its masquerade remaps (random source port) by.
    expect(add.lines.filter((l) => l.startsWith('add element'))).toEqual([
      'add element inet cnm dnat4any { tcp . 8080 comment "br0" : 172.18.0.2 . 80 }',
      'add element inet cnm pubports { ipv4 . tcp . 8080 }',
      'add element inet cnm dnat4 { udp . 10.0.0.1 . 53 : 172.18.0.2 . 53 }',
      'add element inet cnm pubports_ip { ipv4 . udp . 53 }',
      'add element inet cnm dnat6any { tcp . 9000 : fd00::2 . 80 }',
      'add element inet cnm pubports { ipv6 . tcp . 9000 }',
      'add element inet cnm dnat6any { tcp . 9001 : fd00::2 . 81 }',
      'add element inet cnm pubports { ipv6 . tcp . 9001 }',
      'add element inet cnm dnat6 { sctp . 2001:db8::1 . 5000 : fd00::2 . 5000 }',
      'add element inet cnm pubports_ip { ipv6 . sctp . 5000 }',
    ])
    expect(add.about.get(add.lines.length)).toBe('publish sctp [2001:db8::1]:5000 -> [fd00::2]:5000')
    const sets = [
      'add set inet cnm pubports { type nf_proto . inet_proto . inet_service; }',
      'add set inet cnm pubports_ip { type nf_proto . inet_proto . inet_service; }',
    ]
    expect(nftDeletePorts(maps.slice(0, 1)).lines).toEqual([
      ...sets,
      'add element inet cnm dnat4any { tcp . 8080 : 172.18.0.2 . 80 }',
      'delete element inet cnm dnat4any { tcp . 8080 }',
      'add element inet cnm pubports { ipv4 . tcp . 8080 }',
      'delete element inet cnm pubports { ipv4 . tcp . 8080 }',
    ])
    // A port another host address still publishes keeps its remap element.
    expect(nftDeletePorts(maps.slice(1, 2), new Set(['ipv4 . udp . 53'])).lines).toEqual([
      ...sets,
      'add element inet cnm dnat4 { udp . 10.0.0.1 . 53 : 172.18.0.2 . 53 }',
      'delete element inet cnm dnat4 { udp . 10.0.0.1 . 53 }',
    ])
    expect(nftDeletePorts(maps.slice(1, 2)).lines.slice(-2)).toEqual([
      'add element inet cnm pubports_ip { ipv4 . udp . 53 }',
      'delete element inet cnm pubports_ip { ipv4 . udp . 53 }',
    ])
  })

  it('flush deletes the table whether or not it exists', () => {
    expect(nftFlush().lines).toEqual(['add table inet cnm', 'delete table inet cnm'])
  })
})
