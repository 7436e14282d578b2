import { type ParsedNetworkRules, VXLAN_PORT } from './network-rules.js'
import { describeMapping, expandMapping, type ParsedPortMapping, type PortRule } from './port-mapping.js'

/** The one nftables table cnm owns. */
export const NFT_FAMILY = 'inet'
export const NFT_TABLE = 'cnm'
const T = `${NFT_FAMILY} ${NFT_TABLE}`

/** An nftables script for `nft -f -`, with what each line programs (for error messages). */
export interface NftScript {
  readonly lines: string[]
  /** 1-based line number → the object that line programs. */
  readonly about: Map<number, string>
}

export function script(): NftScript & { add(line: string, about?: string): void } {
  const lines: string[] = []
  const about = new Map<number, string>()
  return {
    lines,
    about,
    add(line: string, what?: string) {
      lines.push(line)
      if (what !== undefined) about.set(lines.length, what)
    },
  }
}

/** The text `nft -f -` reads. */
export function renderNftScript(s: NftScript): string {
  return `${s.lines.join('\n')}\n`
}

/**
 * The chain the user owns, jumped to first from cnm's forward chain (as Docker's DOCKER-USER):
 * `nft add rule inet cnm CNM-USER iifname "br-web" ip daddr 10.0.0.0/8 drop`. It goes with the table
 * when cnm's last network does.
 */
export const USER_CHAIN = 'CNM-USER'

/** Chains of one network, named after its bridge. */
export function networkChains(bridge: string): { fwd: string; in: string; post: string } {
  return { fwd: `n-${bridge}-fwd`, in: `n-${bridge}-in`, post: `n-${bridge}-post` }
}

/** The DNAT map a published port lives in. */
export function dnatMap(r: { family: 4 | 6; hostIP: string | undefined }): string {
  return `dnat${r.family}${r.hostIP === undefined ? 'any' : ''}`
}

export const BASE_CHAINS: [string, string][] = [
  ['prerouting', 'type nat hook prerouting priority -100; policy accept;'],
  ['output', 'type nat hook output priority -100; policy accept;'],
  ['postrouting', 'type nat hook postrouting priority 100; policy accept;'],
  ['forward', 'type filter hook forward priority 0; policy accept;'],
  ['input', 'type filter hook input priority 0; policy accept;'],
  // Before conntrack (raw, -300): a forged source never creates a connection or reaches a hook after it.
  ['antispoof', 'type filter hook prerouting priority -300; policy accept;'],
]

/**
 * The published host ports (family . protocol . port), which a network's masquerade maps to a random
 * source port (CVE-2021-3773): masquerade keeps a container's source port when it can, so a
 * container sending from a published host port would own the reply tuple `peer -> host:port` in
 * conntrack, and the peer's later traffic to that published port would reach it instead of the
 * published container. `pubports` holds one element per element of `dnat4any`/`dnat6any` (the
 * same key, so adding and deleting it goes with the DNAT element and needs no read); `pubports_ip`
 * the ports published on a given host address, where one port may be published on several
 * addresses of a family (its element goes with the last of them). The family is part of the key:
 * an IPv4 flow never takes an IPv6 reply tuple.
 */
const PUBLISHED_PORT_TYPE = 'nf_proto . inet_proto . inet_service'

/** The set a host port's masquerade remap lives in, and its key there (`ipv4 . udp . 5300`). */
export function publishedPortSet(r: { hostIP: string | undefined }): 'pubports' | 'pubports_ip' {
  return r.hostIP === undefined ? 'pubports' : 'pubports_ip'
}

export function publishedPortKey(r: { family: 4 | 6; proto: string }, hostPort: number): string {
  return `ipv${r.family} . ${r.proto} . ${hostPort}`
}

export const MAPS: [string, string, string][] = [
  ['set', 'bridges', 'type ifname;'],
  ['map', 'fwd_in', 'type ifname : verdict;'],
  ['map', 'fwd_out', 'type ifname : verdict;'],
  ['map', 'post4', 'type ipv4_addr : verdict; flags interval;'],
  ['map', 'post6', 'type ipv6_addr : verdict; flags interval;'],
  // Every cnm subnet (the same CIDRs as post4/post6): the input rules find a gateway address by it.
  ['set', 'subnets4', 'type ipv4_addr; flags interval;'],
  ['set', 'subnets6', 'type ipv6_addr; flags interval;'],
  ['map', 'dnat4', 'type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service;'],
  ['map', 'dnat4any', 'type inet_proto . inet_service : ipv4_addr . inet_service;'],
  ['map', 'dnat6', 'type inet_proto . ipv6_addr . inet_service : ipv6_addr . inet_service;'],
  ['map', 'dnat6any', 'type inet_proto . inet_service : ipv6_addr . inet_service;'],
  // The published host ports, for masquerade (see PUBLISHED_PORT_TYPE).
  ['set', 'pubports', `type ${PUBLISHED_PORT_TYPE};`],
  ['set', 'pubports_ip', `type ${PUBLISHED_PORT_TYPE};`],
]

/** The rules of the base chains: constant, and only lookups in the maps above. */
export const BASE_RULES: [string, string[]][] = [
  // A port published on 127.0.0.1 is the host's alone: traffic from an interface to 127.0.0.0/8 (a
  // container's raw frame to its gateway's MAC) is never DNAT-ed, and the input guard drops it.
  // Only the output hook (the host's own connections) publishes to it. (The kernel drops ::1 from
  // an interface before this hook.)
  ['prerouting', ['ip daddr 127.0.0.0/8 return', 'jump published']],
  ['output', ['jump published']],
  [
    'published',
    [
      'dnat ip to meta l4proto . ip daddr . th dport map @dnat4',
      'fib daddr type local dnat ip to meta l4proto . th dport map @dnat4any',
      'dnat ip6 to meta l4proto . ip6 daddr . th dport map @dnat6',
      // ::1 cannot be routed to a bridge (there is no route_localnet for IPv6): leave it alone.
      'ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @dnat6any',
    ],
  ],
  // The user's policy first (`CNM-USER`, as Docker's DOCKER-USER): a drop there is final.
  ['forward', [`jump ${USER_CHAIN}`, 'iifname vmap @fwd_in', 'oifname vmap @fwd_out']],
  // route_localnet=1 on the bridges lets 127.0.0.1 reach published ports; it must not let a container
  // reach the host's loopback services (CVE-2020-8558): only replies of DNAT-ed connections pass.
  // A network's DNS server listens on its gateway addresses (@cnm/dns): a query from a bridge is
  // accepted only for an address of that same bridge, so a sandbox never reaches another network's.
  // DNS to a gateway address (an address of the host inside a cnm subnet) is for that bridge only:
  // not from another interface (the uplink: an open resolver for the LAN) nor from `lo` (the host's
  // users). The host's own DNS services on other addresses (127.0.0.53, the uplink's) are not cnm's.
  // VXLAN from a bridge is dropped: any container (no capability needed) could otherwise send a
  // frame into an overlay network through the host's VXLAN socket, past isolation and antispoof.
  [
    'input',
    [
      'iifname @bridges ip daddr 127.0.0.0/8 ct status ! dnat drop',
      `iifname @bridges udp dport ${VXLAN_PORT} drop`,
      'iifname @bridges meta l4proto { tcp, udp } th dport 53 fib daddr . iif type != local drop',
      'meta l4proto { tcp, udp } th dport 53 ip daddr @subnets4 fib daddr . iif type != local drop',
      'meta l4proto { tcp, udp } th dport 53 ip6 daddr @subnets6 fib daddr . iif type != local drop',
    ],
  ],
  // Strict reverse-path filtering for what comes in from a bridge (rp_filter=1 is IPv4 only and a
  // sysctl, not cnm's): a source the host would not route back through that same bridge is forged
  // (another network's container, any outside address, the host's own) and dropped, so a container
  // cannot cross isolation or make the host reflect to a victim. Bridged traffic between the ports
  // of one bridge never reaches this hook. `::` (an IPv6 DAD probe, MLD before an address) is left
  // alone: nothing can answer it. `0.0.0.0` to a broadcast (DHCP) passes: fib finds the bridge.
  // A broadcast or multicast source passes fib (the subnet's broadcast route is on the bridge), and
  // the host's answer would go to every container of the network, ICC off or not: dropped. fib's
  // `type` says broadcast for 0.0.0.0 too, hence its exception.
  [
    'antispoof',
    [
      'iifname @bridges ip6 saddr :: meta l4proto ipv6-icmp return',
      'iifname @bridges fib saddr . iif oif missing drop',
      'iifname @bridges ip saddr != 0.0.0.0 fib saddr type { broadcast, multicast } drop',
      'iifname @bridges ip6 saddr ff00::/8 drop',
    ],
  ],
  [
    'postrouting',
    [
      'ip saddr vmap @post4',
      'ip6 saddr vmap @post6',
      // 127.0.0.1 -> published port: DNAT-ed in output, routed to the bridge (route_localnet=1 on it).
      'oifname @bridges ip saddr 127.0.0.0/8 masquerade',
    ],
  ],
]

/**
 * Creates what is missing of the table, its base chains and maps, and rewrites the base chains'
 * constant rules (so a damaged skeleton heals). `extraChains` are added before the maps: nft 1.0.6
 * fails (ENOENT) to add an interval-map element that jumps to a chain declared after the map in the
 * same batch.
 */
export function preamble(s: ReturnType<typeof script>, extraChains: string[] = []): void {
  s.add(`add table ${T}`)
  for (const [name, spec] of BASE_CHAINS) s.add(`add chain ${T} ${name} { ${spec} }`)
  s.add(`add chain ${T} published`)
  // The user's chain: created when missing, never flushed or rewritten by cnm.
  s.add(`add chain ${T} ${USER_CHAIN}`)
  for (const name of extraChains) s.add(`add chain ${T} ${name}`)
  for (const [kind, name, spec] of MAPS) s.add(`add ${kind} ${T} ${name} { ${spec} }`)
  for (const [chain, rules] of BASE_RULES) {
    s.add(`flush chain ${T} ${chain}`)
    for (const rule of rules) s.add(`add rule ${T} ${chain} ${rule}`)
  }
}

/** The rules of a network's own chains. */
export function networkChainRules(net: ParsedNetworkRules): [string, string[]][] {
  const c = networkChains(net.bridge)
  const br = `"${net.bridge}"`
  const fwd = [`oifname ${br} ct status dnat accept`, `oifname ${br} ${net.icc ? 'accept' : 'drop'}`]
  if (net.internal) fwd.push('drop')
  else fwd.push('ct status dnat accept', 'oifname @bridges drop', 'accept')
  const into = net.internal ? ['drop'] : ['ct state established,related accept', 'ct status dnat accept', 'drop']
  const post = [`oifname ${br} ct status dnat masquerade`]
  // A source port that is a published host port gets a random one (see PUBLISHED_PORT_TYPE).
  const remap = (set: string): string =>
    `oifname != ${br} meta nfproto . meta l4proto . th sport @${set} masquerade random`
  if (net.masquerade) post.unshift(remap('pubports'), remap('pubports_ip'), `oifname != ${br} masquerade`)
  return [
    [c.fwd, fwd],
    [c.in, into],
    [c.post, post],
  ]
}

/**
 * `addNetwork`: the network's chains, and its entries in the bridge, forward and postrouting maps.
 * With `repair` the forward map entries are `add`ed (a no-op where they are) instead of `create`d
 * (EEXIST where they are): the same network's rules are rewritten whatever is left of them.
 */
export function nftAddNetwork(net: ParsedNetworkRules, repair = false): NftScript {
  const s = script()
  const c = networkChains(net.bridge)
  preamble(s, [c.fwd, c.in, c.post])
  networkLines(s, net, repair)
  return s
}

/** A network's chain rules and map entries (its chains declared already). */
export function networkLines(s: ReturnType<typeof script>, net: ParsedNetworkRules, repair: boolean): void {
  const c = networkChains(net.bridge)
  const what = `network ${net.id} on bridge ${net.bridge}`
  for (const [chain, rules] of networkChainRules(net)) {
    s.add(`flush chain ${T} ${chain}`)
    for (const rule of rules) s.add(`add rule ${T} ${chain} ${rule}`, what)
  }
  const verb = repair ? 'add' : 'create'
  s.add(`${verb} element ${T} fwd_in { "${net.bridge}" comment "${net.id}" : jump ${c.fwd} }`, `${what} already exists`)
  s.add(`${verb} element ${T} fwd_out { "${net.bridge}" : jump ${c.in} }`, `${what} already exists`)
  s.add(`add element ${T} bridges { "${net.bridge}" }`, what)
  for (const subnet of net.subnets) {
    s.add(
      `add element ${T} post${subnet.family} { ${subnet.cidr} : jump ${c.post} }`,
      `subnet ${subnet.cidr} of ${what} (overlaps another network's?)`,
    )
    s.add(`add element ${T} subnets${subnet.family} { ${subnet.cidr} }`, `subnet ${subnet.cidr} of ${what}`)
  }
}

/** What of a network the kernel holds, as read back by the inventory. */
export interface NftNetworkState {
  bridge: string
  inFwdIn: boolean
  inFwdOut: boolean
  inBridges: boolean
  subnets: string[]
  chains: string[]
}

/** `deleteNetwork`: removes exactly what `state` says exists (nothing: an empty script). */
export function nftDeleteNetwork(state: NftNetworkState): NftScript {
  const s = script()
  const what = `network on bridge ${state.bridge}`
  if (state.inFwdIn) s.add(`delete element ${T} fwd_in { "${state.bridge}" }`, what)
  if (state.inFwdOut) s.add(`delete element ${T} fwd_out { "${state.bridge}" }`, what)
  if (state.inBridges) s.add(`delete element ${T} bridges { "${state.bridge}" }`, what)
  for (const cidr of state.subnets) {
    const family = cidr.includes(':') ? 6 : 4
    s.add(`delete element ${T} post${family} { ${cidr} }`, `subnet ${cidr} of ${what}`)
    // Added first (a no-op where it is), so a table written before this set existed deletes too.
    s.add(`add element ${T} subnets${family} { ${cidr} }`, `subnet ${cidr} of ${what}`)
    s.add(`delete element ${T} subnets${family} { ${cidr} }`, `subnet ${cidr} of ${what}`)
  }
  for (const chain of state.chains) {
    s.add(`flush chain ${T} ${chain}`)
    s.add(`delete chain ${T} ${chain}`, `chain ${chain} of ${what}`)
  }
  return s
}

function key(r: PortRule): string {
  return r.hostIP === undefined ? `${r.proto} . ${r.hostPort}` : `${r.proto} . ${r.hostIP} . ${r.hostPort}`
}

function value(r: PortRule): string {
  return `${r.containerIP} . ${r.containerPort}`
}

/**
 * `addPorts`: one DNAT map element per host port (a host port published elsewhere fails with
 * EEXIST). With `skeleton` false the table, chains and maps are taken to exist: the script is only
 * the elements (re-declaring existing objects makes the kernel's commit wait for an RCU grace
 * period, ~16 ms here, against ~2 ms for elements alone).
 */
export function nftAddPorts(maps: ParsedPortMapping[], skeleton = true): NftScript {
  const s = script()
  if (skeleton) preamble(s)
  for (const m of maps) {
    const what = `publish ${describeMapping(m)}`
    for (const r of expandMapping(m)) {
      const comment = r.bridge === undefined ? '' : ` comment "${r.bridge}"`
      s.add(`add element ${T} ${dnatMap(r)} { ${key(r)}${comment} : ${value(r)} }`, what)
      s.add(`add element ${T} ${publishedPortSet(r)} { ${publishedPortKey(r, r.hostPort)} }`, what)
    }
  }
  return s
}

/**
 * `deletePorts`: for each host port, add the element as it should be (a no-op when it is, EEXIST when
 * that host port goes somewhere else, which is then left alone) and delete it, in one transaction.
 * Deleting what is not there is therefore a no-op, and nobody else's mapping is ever removed. The
 * port's element in `pubports` goes the same way; in `pubports_ip` only when `stillPublished` (the
 * `publishedPortKey`s that other host addresses still publish) does not hold it.
 */
export function nftDeletePorts(maps: ParsedPortMapping[], stillPublished: ReadonlySet<string> = new Set()): NftScript {
  const s = script()
  // Declared first (a no-op where they are), so a table written before these sets existed deletes too.
  for (const [kind, name, spec] of MAPS) {
    if (name.startsWith('pubports')) s.add(`add ${kind} ${T} ${name} { ${spec} }`)
  }
  for (const m of maps) {
    const what = `unpublish ${describeMapping(m)}: that host port is published to another destination`
    for (const r of expandMapping(m)) {
      s.add(`add element ${T} ${dnatMap(r)} { ${key(r)} : ${value(r)} }`, what)
      s.add(`delete element ${T} ${dnatMap(r)} { ${key(r)} }`, what)
      const port = publishedPortKey(r, r.hostPort)
      if (r.hostIP !== undefined && stillPublished.has(port)) continue
      s.add(`add element ${T} ${publishedPortSet(r)} { ${port} }`, `unpublish ${describeMapping(m)}`)
      s.add(`delete element ${T} ${publishedPortSet(r)} { ${port} }`, `unpublish ${describeMapping(m)}`)
    }
  }
  return s
}

/** `flush`: the whole table, if it exists. */
export function nftFlush(): NftScript {
  const s = script()
  s.add(`add table ${T}`)
  s.add(`delete table ${T}`)
  return s
}
