import { cidrOverlaps, type IPFamily, parseCIDR } from './address.js'
import { FirewallError } from './errors.js'
import { DOCKER_CHAIN, isDockerChain } from './host-forward.js'
import type { InventoryNetwork, InventoryPort } from './inventory.js'
import { hasChain, renderTokens, rulesOf, type SavedRuleset, sameSpec } from './iptables-save.js'
import { type ParsedNetworkRules, VXLAN_PORT } from './network-rules.js'
import { describeMapping, type ParsedPortMapping, type PortProtocol } from './port-mapping.js'

/** The chains cnm owns in every iptables family, and the jumps into them from the built-in chains. */
export const IPT_DNAT = 'CNM-DNAT'
export const IPT_POSTROUTING = 'CNM-POSTROUTING'
export const IPT_FORWARD = 'CNM-FORWARD'
export const IPT_ISOLATION = 'CNM-ISOLATION'
export const IPT_INPUT = 'CNM-INPUT'
/** Anti-spoofing, in the `raw` table (before conntrack; `rpfilter` is valid only there and in mangle). */
export const IPT_RAW = 'CNM-PREROUTING'
/** The user's chain (as Docker's DOCKER-USER): jumped to first from FORWARD, never rewritten by cnm. */
export const IPT_USER = 'CNM-USER'
/**
 * Masquerade with a random source port for traffic whose source port is a published host port
 * (CVE-2021-3773): masquerade keeps a container's source port when it can, so a container sending
 * from a published host port would own the reply tuple `peer -> host:port` in conntrack, and the
 * peer's later traffic to that published port would reach it instead of the published container.
 * One rule per published mapping (its protocol and host port range, whatever its host address),
 * jumped to from each masqueraded subnet's rules just before their plain MASQUERADE.
 */
export const IPT_MASQ_PUBLISHED = 'CNM-MASQ-PUBLISHED'

/**
 * route_localnet=1 on the bridges lets 127.0.0.1 reach published ports; it must not let a container
 * reach the host's loopback services (CVE-2020-8558): traffic to 127.0.0.0/8 that did not come in on
 * `lo` passes only as part of a DNAT-ed connection. A constant rule of the skeleton (IPv4 only).
 */
export const LOCALNET_GUARD = [
  '-d',
  '127.0.0.0/8',
  '!',
  '-i',
  'lo',
  '-m',
  'conntrack',
  '!',
  '--ctstate',
  'DNAT',
  '-j',
  'DROP',
]

/**
 * A port published on 127.0.0.1 is the host's alone: traffic from an interface to 127.0.0.0/8 (a
 * container's raw frame to its gateway's MAC) never enters CNM-DNAT from PREROUTING, and
 * LOCALNET_GUARD drops it; only OUTPUT (the host's own connections) publishes to it. IPv4 only:
 * the kernel drops ::1 from an interface before PREROUTING.
 */
const NOT_LOOPBACK_V4 = ['!', '-d', '127.0.0.0/8']

/** A jump from a built-in chain into one of cnm's, with its match in IPv4 (if any). */
interface SkeletonJump {
  builtin: string
  target: string
  v4?: string[]
}

/** The tables cnm writes to, in the order a restore input lists them. */
export type IptTable = 'nat' | 'filter' | 'raw'
export const IPT_TABLES: readonly IptTable[] = ['nat', 'filter', 'raw']

export const SKELETON: Record<IptTable, { chains: string[]; jumps: SkeletonJump[] }> = {
  nat: {
    chains: [IPT_DNAT, IPT_POSTROUTING, IPT_MASQ_PUBLISHED],
    jumps: [
      { builtin: 'PREROUTING', target: IPT_DNAT, v4: NOT_LOOPBACK_V4 },
      { builtin: 'OUTPUT', target: IPT_DNAT },
      { builtin: 'POSTROUTING', target: IPT_POSTROUTING },
    ],
  },
  filter: {
    chains: [IPT_FORWARD, IPT_ISOLATION, IPT_INPUT, IPT_USER],
    jumps: [
      { builtin: 'FORWARD', target: IPT_FORWARD },
      // Inserted after CNM-FORWARD's, so first: the user's policy comes before cnm's accepts.
      { builtin: 'FORWARD', target: IPT_USER },
      { builtin: 'INPUT', target: IPT_INPUT },
    ],
  },
  raw: { chains: [IPT_RAW], jumps: [{ builtin: 'PREROUTING', target: IPT_RAW }] },
}

/** The rule spec of a skeleton jump in a family (what `iptables-save` prints after `-A <builtin>`). */
export function jumpSpec(jump: SkeletonJump, family: IPFamily): string[] {
  return [...(family === 4 ? (jump.v4 ?? []) : []), '-j', jump.target]
}

function targetOf(rule: readonly string[]): string | undefined {
  const i = rule.indexOf('-j')
  return i < 0 ? undefined : rule[i + 1]
}

/** Chains of one network, named after its bridge (at most 24 characters: iptables allows 28). */
export function iptNetworkChains(bridge: string): { fwd: string; in: string; post: string } {
  return { fwd: `CNM-FWD-${bridge}`, in: `CNM-IN-${bridge}`, post: `CNM-POST-${bridge}` }
}

/** Whether a chain name is one of cnm's. */
export function isOwnedChain(chain: string): boolean {
  return chain.startsWith('CNM-')
}

/** Input for one `iptables-restore --noflush` call, with what each line programs. */
export class RestoreInput {
  readonly #tables = new Map<string, { line: string; about: string | undefined }[]>()

  /** Adds a line (`:CHAIN - [0:0]`, `-A …`, `-D …`, `-F …`, `-X …`) to `table`. */
  add(table: string, tokens: readonly string[], about?: string): void {
    let lines = this.#tables.get(table)
    if (!lines) {
      lines = []
      this.#tables.set(table, lines)
    }
    lines.push({ line: tokens[0]?.startsWith(':') ? tokens.join(' ') : renderTokens(tokens), about })
  }

  get empty(): boolean {
    return this.#tables.size === 0
  }

  /** The restore text, and line number → object for error messages. */
  render(): { text: string; about: Map<number, string> } {
    const out: string[] = []
    const about = new Map<number, string>()
    for (const [table, lines] of this.#tables) {
      out.push(`*${table}`)
      for (const l of lines) {
        out.push(l.line)
        if (l.about !== undefined) about.set(out.length, l.about)
      }
      out.push('COMMIT')
    }
    return { text: `${out.join('\n')}\n`, about }
  }
}

/** Adds whatever of the skeleton (`CNM-*` base chains, the jumps into them, their constant rules) `saved` lacks. */
export function ensureSkeleton(input: RestoreInput, saved: SavedRuleset, tables: IptTable[], family: IPFamily): void {
  for (const table of tables) {
    const { chains, jumps } = SKELETON[table]
    for (const chain of chains) if (!hasChain(saved, table, chain)) input.add(table, [`:${chain} - [0:0]`])
    for (const jump of jumps) {
      const { builtin, target } = jump
      const spec = jumpSpec(jump, family)
      const ours = rulesOf(saved, table, builtin).filter((r) => targetOf(r) === target)
      // A jump of an older skeleton (PREROUTING's without its match) is replaced.
      for (const stale of ours.filter((r) => !sameSpec(r, spec))) input.add(table, ['-D', builtin, ...stale])
      if (ours.some((r) => sameSpec(r, spec))) continue
      // FORWARD: first, ahead of rules others keep there (as Docker's own chain is).
      input.add(table, builtin === 'FORWARD' ? ['-I', builtin, '1', ...spec] : ['-A', builtin, ...spec])
    }
  }
  if (tables.includes('filter') && family === 4) {
    const guarded = rulesOf(saved, 'filter', IPT_INPUT).some((r) => sameSpec(r, LOCALNET_GUARD))
    if (!guarded) input.add('filter', ['-A', IPT_INPUT, ...LOCALNET_GUARD])
  }
}

/**
 * A network's DNS server listens on its gateway addresses (@cnm/dns), which are local addresses of
 * the host: DNS from the bridge to an address that is not the bridge's own is dropped, so a sandbox
 * never reaches another network's server (the nftables backend's `fib daddr . iif type != local`).
 */
export function dnsIsolationRules(bridge: string): string[][] {
  return (['udp', 'tcp'] as const).map((p) => [
    '-A',
    IPT_INPUT,
    '-i',
    bridge,
    '-p',
    p,
    '-m',
    p,
    '--dport',
    '53',
    '-m',
    'addrtype',
    '!',
    '--dst-type',
    'LOCAL',
    '--limit-iface-in',
    '-j',
    'DROP',
  ])
}

/**
 * VXLAN from the bridge is dropped (the nftables backend's `iifname @bridges udp dport 4789 drop`):
 * any container (no capability needed) could otherwise send a frame into an overlay network through
 * the host's VXLAN socket, past isolation and anti-spoofing. In IPv4 and IPv6.
 */
export function vxlanGuardRule(bridge: string): string[] {
  return ['-A', IPT_INPUT, '-i', bridge, '-p', 'udp', '-m', 'udp', '--dport', String(VXLAN_PORT), '-j', 'DROP']
}

/**
 * DNS to a gateway address is for that bridge only: a query for an address in one of the network's
 * subnets (the host's only ones there are its gateways) that comes in on any other interface (the
 * uplink, `lo`) is dropped. The host's other DNS services (127.0.0.53, the uplink's address) are not
 * touched. (nftables: `th dport 53 ip daddr @subnets4 fib daddr . iif type != local drop`.)
 */
export function gatewayDnsRules(net: ParsedNetworkRules, family: IPFamily): string[][] {
  return net.subnets
    .filter((s) => s.family === family)
    .flatMap((s) =>
      (['udp', 'tcp'] as const).map((p) => [
        '-A',
        IPT_INPUT,
        '-d',
        s.cidr,
        '!',
        '-i',
        net.bridge,
        '-p',
        p,
        '-m',
        p,
        '--dport',
        '53',
        '-j',
        'DROP',
      ]),
    )
}

/**
 * Strict reverse-path filtering for what comes in from the bridge: a source the host would not route
 * back through that bridge (another network's container, an outside or a host address) is forged
 * and dropped before conntrack (the nftables backend's `fib saddr . iif oif missing drop`).
 */
export function antispoofRule(bridge: string): string[] {
  return ['-A', IPT_RAW, '-i', bridge, '-m', 'rpfilter', '--invert', '-j', 'DROP']
}

/**
 * No broadcast or multicast source from the bridge: the host's answer would go to every container
 * of the network, ICC off or not (the nftables backend's `fib saddr type { broadcast, multicast }`).
 * IPv4's rpfilter already refuses a broadcast source (it takes unicast routes only), ip6tables'
 * lets a multicast one through. addrtype calls 0.0.0.0 BROADCAST too, hence DHCP's exception;
 * ip6tables' addrtype has no BROADCAST, so a prefix there. Written as iptables-save prints them.
 */
export function castSourceRule(bridge: string, family: IPFamily): string[] {
  if (family === 6) return ['-A', IPT_RAW, '-s', 'ff00::/8', '-i', bridge, '-j', 'DROP']
  return [
    '-A',
    IPT_RAW,
    '!',
    '-s',
    '0.0.0.0/32',
    '-i',
    bridge,
    '-m',
    'addrtype',
    '--src-type',
    'BROADCAST,MULTICAST',
    '-j',
    'DROP',
  ]
}

/**
 * Whether a rule of CNM-INPUT or CNM-PREROUTING (tokens after `-A <chain>`) belongs to the network
 * on `bridge`: `-i <bridge> …`, or `[!] -s|-d <address> [!] -i <bridge> …`.
 */
function isInputRuleOf(rule: readonly string[], bridge: string): boolean {
  const rest = rule[0] === '!' ? rule.slice(1) : rule
  if (rest[0] === '-i') return rest[1] === bridge
  if (rest[0] !== '-s' && rest[0] !== '-d') return false
  const iface = rest[2] === '!' ? rest.slice(3) : rest.slice(2)
  return iface[0] === '-i' && iface[1] === bridge
}

function hostMask(family: IPFamily): string {
  return family === 4 ? '/32' : '/128'
}

/** A plain interface name (no `+` wildcard), as iptables-save prints it. */
const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/u

/**
 * Docker's bridges in one family: the interfaces `saved`'s filter table sends to its chain `DOCKER`
 * (`-o docker0 -j DOCKER`, from FORWARD or, Docker 28, DOCKER-BRIDGE), and those Docker's own chains
 * name (`-o`/`-i` in DOCKER-ISOLATION-STAGE-1, DOCKER-INTERNAL…: an `--internal` network has only
 * its isolation drops), but cnm's own (the bridges with a `CNM-FWD-<bridge>` chain, and `own`): a
 * cnm bridge never has Docker's mark, this is a guard.
 */
export function iptDockerBridges(saved: SavedRuleset, own: readonly string[] = []): string[] {
  const out: string[] = []
  for (const r of saved.get('filter')?.rules ?? []) {
    const chain = r[0] === '-A' ? r[1] : undefined
    const flags = targetOf(r) === DOCKER_CHAIN || isDockerChain(chain) ? ['-o'] : []
    if (isDockerChain(chain)) flags.push('-i')
    for (const flag of flags) {
      const i = r.indexOf(flag)
      const name = r[i + 1]
      if (i < 0 || r[i - 1] === '!' || name === undefined || !IFNAME.test(name) || out.includes(name)) continue
      if (own.includes(name) || hasChain(saved, 'filter', iptNetworkChains(name).fwd)) continue
      out.push(name)
    }
  }
  return out
}

/** The rule of a network's forward chain that returns its traffic to a Docker bridge to FORWARD. */
export function dockerReturnRule(bridge: string, docker: string): string[] {
  return ['-A', iptNetworkChains(bridge).fwd, '-o', docker, '-j', 'RETURN']
}

/**
 * The filter and nat rules of one network in one family. `docker`: Docker's bridges
 * ({@link iptDockerBridges}): traffic from the bridge to one of them goes back to FORWARD, ahead of
 * the network's accepts and after its drops (an internal network's), so that Docker's own rules
 * decide it (its published ports and replies pass, the rest meets its policy DROP).
 */
export function networkRules(
  net: ParsedNetworkRules,
  family: IPFamily,
  docker: readonly string[] = [],
): { filter: string[][]; nat: string[][]; raw: string[][] } {
  const c = iptNetworkChains(net.bridge)
  const b = net.bridge
  const dnat = ['-m', 'conntrack', '--ctstate', 'DNAT']
  const filter: string[][] = [
    ['-A', IPT_FORWARD, '-i', b, '-m', 'comment', '--comment', net.id, '-j', c.fwd],
    ['-A', IPT_FORWARD, '-o', b, '-j', c.in],
    ['-A', IPT_ISOLATION, '-o', b, '-j', 'DROP'],
    ['-A', c.fwd, '-o', b, ...dnat, '-j', 'ACCEPT'],
    ['-A', c.fwd, '-o', b, '-j', net.icc ? 'ACCEPT' : 'DROP'],
  ]
  filter.push(...dnsIsolationRules(b), ...gatewayDnsRules(net, family), vxlanGuardRule(b))
  if (net.internal) filter.push(['-A', c.fwd, '-j', 'DROP'], ['-A', c.in, '-j', 'DROP'])
  else {
    for (const x of docker) if (x !== b) filter.push(dockerReturnRule(b, x))
    filter.push(
      ['-A', c.fwd, ...dnat, '-j', 'ACCEPT'],
      ['-A', c.fwd, '-j', IPT_ISOLATION],
      ['-A', c.fwd, '-j', 'ACCEPT'],
      ['-A', c.in, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
      ['-A', c.in, ...dnat, '-j', 'ACCEPT'],
      ['-A', c.in, '-j', 'DROP'],
    )
  }
  const nat: string[][] = [['-A', IPT_POSTROUTING, '-j', c.post]]
  if (family === 4) nat.push(['-A', c.post, '-s', '127.0.0.0/8', '-o', b, '-j', 'MASQUERADE'])
  for (const s of net.subnets.filter((x) => x.family === family)) {
    if (net.masquerade) {
      nat.push(
        ['-A', c.post, '-s', s.cidr, '!', '-o', b, '-j', IPT_MASQ_PUBLISHED],
        ['-A', c.post, '-s', s.cidr, '!', '-o', b, '-j', 'MASQUERADE'],
      )
    }
    nat.push(['-A', c.post, '-s', s.cidr, '-o', b, ...dnat, '-j', 'MASQUERADE'])
  }
  return { filter, nat, raw: [antispoofRule(b), castSourceRule(b, family)] }
}

/** The subnets of the networks in `saved` (from their hairpin masquerade rules), by bridge. */
function existingSubnets(saved: SavedRuleset): [string, string][] {
  const out: [string, string][] = []
  for (const chain of saved.get('nat')?.chains ?? []) {
    const bridge = chain.match(/^CNM-POST-(.+)$/u)?.[1]
    if (!bridge) continue
    for (const r of rulesOf(saved, 'nat', chain)) {
      if (r[0] === '-s' && r[2] === '-o' && r.includes('DNAT') && r[1]) out.push([bridge, r[1]])
    }
  }
  return out
}

/** `addNetwork` in one family; EEXIST when the network's chains are already there. */
export function iptAddNetwork(net: ParsedNetworkRules, family: IPFamily, saved: SavedRuleset): RestoreInput {
  const c = iptNetworkChains(net.bridge)
  const what = `network ${net.id} on bridge ${net.bridge}`
  if (hasChain(saved, 'filter', c.fwd) || hasChain(saved, 'filter', c.in) || hasChain(saved, 'nat', c.post)) {
    throw new FirewallError('EEXIST', `${what} already exists (IPv${family})`)
  }
  for (const [bridge, cidr] of existingSubnets(saved)) {
    const clash = net.subnets.find((s) => s.family === family && cidrOverlaps(s, parseCIDR(cidr)))
    if (clash) {
      throw new FirewallError(
        'EEXIST',
        `subnet ${clash.cidr} of ${what} overlaps ${cidr} of the network on bridge ${bridge}`,
      )
    }
  }
  const input = new RestoreInput()
  ensureSkeleton(input, saved, [...IPT_TABLES], family)
  input.add('filter', [`:${c.fwd} - [0:0]`])
  input.add('filter', [`:${c.in} - [0:0]`])
  input.add('nat', [`:${c.post} - [0:0]`])
  const rules = networkRules(net, family, iptDockerBridges(saved, [net.bridge]))
  for (const r of rules.filter) input.add('filter', r, what)
  for (const r of rules.nat) input.add('nat', r, what)
  for (const r of rules.raw) input.add('raw', r, what)
  return input
}

/**
 * A repair of a network that lacks only returns to Docker bridges (one created after the network):
 * each inserted just ahead of the network's first accept (`-m conntrack --ctstate DNAT -j ACCEPT`),
 * the rest of the chain left as it is. Undefined when anything else is missing or that accept is
 * not there: the network is then rewritten whole.
 */
export function iptAddDockerReturns(
  net: ParsedNetworkRules,
  family: IPFamily,
  saved: SavedRuleset,
  own: readonly string[] = [],
): RestoreInput | undefined {
  const rules = networkRules(net, family, iptDockerBridges(saved, [net.bridge, ...own]))
  const missing = (['filter', 'nat', 'raw'] as const).flatMap((table) =>
    rules[table].filter((r) => !rulesOf(saved, table, r[1] ?? '').some((have) => sameSpec(have, r.slice(2)))),
  )
  const c = iptNetworkChains(net.bridge)
  const at = rulesOf(saved, 'filter', c.fwd).findIndex((r) =>
    sameSpec(r, ['-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT']),
  )
  if (at < 0 || missing.some((r) => r[1] !== c.fwd || targetOf(r) !== 'RETURN')) return undefined
  const input = new RestoreInput()
  for (const r of missing)
    input.add('filter', ['-I', c.fwd, String(at + 1), ...r.slice(2)], `return to Docker bridge ${r[3]}`)
  return input
}

/** `deleteNetwork` in one family: the network's jumps, rules and chains, as far as they exist. */
export function iptDeleteNetwork(bridge: string, saved: SavedRuleset): RestoreInput {
  const c = iptNetworkChains(bridge)
  const input = new RestoreInput()
  const what = `network on bridge ${bridge}`
  const unlink = (table: string, from: string, pick: (r: string[]) => boolean): void => {
    for (const r of rulesOf(saved, table, from).filter(pick)) input.add(table, ['-D', from, ...r], what)
  }
  const target = (r: string[]): string | undefined => r[r.indexOf('-j') + 1]
  unlink('filter', IPT_FORWARD, (r) => target(r) === c.fwd || target(r) === c.in)
  unlink('filter', IPT_ISOLATION, (r) => sameSpec(r, ['-o', bridge, '-j', 'DROP']))
  unlink('filter', IPT_INPUT, (r) => isInputRuleOf(r, bridge))
  unlink('nat', IPT_POSTROUTING, (r) => target(r) === c.post)
  unlink('raw', IPT_RAW, (r) => isInputRuleOf(r, bridge))
  for (const [table, chain] of [
    ['filter', c.fwd],
    ['filter', c.in],
    ['nat', c.post],
  ] as const) {
    if (!hasChain(saved, table, chain)) continue
    input.add(table, ['-F', chain], what)
    input.add(table, ['-X', chain], what)
  }
  return input
}

/**
 * Undoes an `addNetwork` that failed part-way (iptables-restore commits table by table): the
 * network's jumps, rules and chains as they are now, and whatever of the skeleton `before` lacked.
 * Chains that go are flushed, then deleted, and rules inside them are not deleted one by one
 * (iptables-nft refuses, EBUSY, to delete a chain whose rules a batch both deleted and flushed).
 */
export function iptUndoAddNetwork(
  bridge: string,
  now: SavedRuleset,
  before: SavedRuleset,
  family: IPFamily,
): RestoreInput {
  const input = new RestoreInput()
  const c = iptNetworkChains(bridge)
  const what = `undo network on bridge ${bridge}`
  for (const table of IPT_TABLES) {
    const { chains, jumps } = SKELETON[table]
    const fresh = chains.filter((ch) => hasChain(now, table, ch) && !hasChain(before, table, ch))
    const own = { filter: [c.fwd, c.in], nat: [c.post], raw: [] }[table]
    const mine = own.filter((ch) => hasChain(now, table, ch))
    for (const from of chains.filter((ch) => !fresh.includes(ch))) {
      for (const r of rulesOf(now, table, from)) {
        const target = r[r.indexOf('-j') + 1] ?? ''
        const isolation = from === IPT_ISOLATION && sameSpec(r, ['-o', bridge, '-j', 'DROP'])
        const dns = (from === IPT_INPUT || from === IPT_RAW) && isInputRuleOf(r, bridge)
        if (mine.includes(target) || isolation || dns) input.add(table, ['-D', from, ...r], what)
      }
    }
    for (const jump of jumps) {
      const spec = jumpSpec(jump, family)
      // One of an older skeleton counts: the add replaced it, and the new one stays in its place.
      const had = rulesOf(before, table, jump.builtin).some((r) => targetOf(r) === jump.target)
      const has = rulesOf(now, table, jump.builtin).some((r) => sameSpec(r, spec))
      if (has && !had) input.add(table, ['-D', jump.builtin, ...spec], what)
    }
    for (const chain of [...mine, ...fresh]) input.add(table, ['-F', chain], what)
    for (const chain of [...mine, ...fresh]) input.add(table, ['-X', chain], what)
  }
  return input
}

/** `flush` in one family: every jump into a `CNM-*` chain, then every such chain. */
export function iptFlush(saved: SavedRuleset): RestoreInput {
  const input = new RestoreInput()
  for (const [table, t] of saved) {
    const owned = [...t.chains].filter(isOwnedChain)
    for (const r of t.rules) {
      const chain = r[1] ?? ''
      const target = r[r.indexOf('-j') + 1] ?? ''
      if (!isOwnedChain(chain) && isOwnedChain(target)) input.add(table, ['-D', ...r.slice(1)])
    }
    for (const chain of owned) input.add(table, ['-F', chain])
    for (const chain of owned) input.add(table, ['-X', chain])
  }
  return input
}

function endpoint(ip: string, port: string): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`
}

/** The DNAT rule spec (tokens after `-A CNM-DNAT`) of a mapping. */
export function dnatSpec(m: ParsedPortMapping): string[] {
  const spec: string[] = []
  if (m.hostIP !== undefined) spec.push('-d', `${m.hostIP}${hostMask(m.family)}`)
  // ::1 cannot be routed to a bridge (there is no route_localnet for IPv6): leave it alone.
  else if (m.family === 6) spec.push('!', '-d', '::1/128')
  const dport = m.hostPortEnd === m.hostPort ? `${m.hostPort}` : `${m.hostPort}:${m.hostPortEnd}`
  spec.push('-p', m.proto, '-m', m.proto, '--dport', dport)
  if (m.hostIP === undefined) spec.push('-m', 'addrtype', '--dst-type', 'LOCAL')
  if (m.bridge !== undefined) spec.push('-m', 'comment', '--comment', m.bridge)
  let to = `${m.containerPort}`
  if (m.containerPortEnd !== m.containerPort) to = `${m.containerPort}-${m.containerPortEnd}/${m.hostPort}`
  spec.push('-j', 'DNAT', '--to-destination', endpoint(m.containerIP, to))
  return spec
}

/** Reads a DNAT rule spec back into a mapping (undefined for anything cnm did not write). */
export function parseDnatSpec(spec: readonly string[], family: IPFamily): ParsedPortMapping | undefined {
  const text = renderTokens(spec)
  const m = text.match(
    /^(?:-d (\S+)\/(?:32|128) |! -d ::1\/128 )?-p (tcp|udp|sctp) -m \w+ --dport (\d+)(?::(\d+))?( -m addrtype --dst-type LOCAL)?(?: -m comment --comment (\S+))? -j DNAT --to-destination \[?([0-9a-fA-F.:]+?)\]?:(\d+)(?:-(\d+)\/\d+)?$/u,
  )
  if (!m) return undefined
  const hostPort = Number(m[3])
  const containerPort = Number(m[8])
  return {
    proto: m[2] as PortProtocol,
    family,
    hostIP: m[1],
    hostPort,
    hostPortEnd: m[4] === undefined ? hostPort : Number(m[4]),
    containerIP: m[7] ?? '',
    containerPort,
    containerPortEnd: m[9] === undefined ? containerPort : Number(m[9]),
    bridge: m[6]?.replace(/^"|"$/gu, ''),
  }
}

/** The rule spec (tokens after `-A CNM-MASQ-PUBLISHED`) that remaps a mapping's host ports as source ports. */
export function masqPublishedSpec(m: Pick<ParsedPortMapping, 'proto' | 'hostPort' | 'hostPortEnd'>): string[] {
  const sport = m.hostPortEnd === m.hostPort ? `${m.hostPort}` : `${m.hostPort}:${m.hostPortEnd}`
  return ['-p', m.proto, '-m', m.proto, '--sport', sport, '-j', 'MASQUERADE', '--random']
}

/**
 * How many {@link IPT_MASQ_PUBLISHED} rules of each spec the DNAT rules `dnat` call for (one per
 * mapping: two host addresses publishing one port hold a rule each), by rendered spec.
 */
function masqPublishedWanted(dnat: readonly (ParsedPortMapping | undefined)[]): Map<string, number> {
  const wanted = new Map<string, number>()
  for (const m of dnat) {
    if (!m) continue
    const key = renderTokens(masqPublishedSpec(m))
    wanted.set(key, (wanted.get(key) ?? 0) + 1)
  }
  return wanted
}

/**
 * Publishing (`add`) adds {@link IPT_MASQ_PUBLISHED} rules, unpublishing deletes them, so that each
 * spec of `touched` (the mappings of the call) is held as often as the DNAT rules `after` the call
 * ask for: publishing adds what is missing (a ruleset written before the chain existed, a rule
 * deleted by hand: a repair), unpublishing deletes what no DNAT rule needs any more.
 */
function reconcileMasqPublished(
  input: RestoreInput,
  saved: SavedRuleset,
  touched: readonly ParsedPortMapping[],
  after: readonly (ParsedPortMapping | undefined)[],
  verb: 'add' | 'delete',
): void {
  const held = masqPublishedHeld(saved)
  const wanted = masqPublishedWanted(after)
  const done = new Set<string>()
  for (const m of touched) {
    const spec = masqPublishedSpec(m)
    const key = renderTokens(spec)
    if (done.has(key)) continue
    done.add(key)
    const have = held.get(key) ?? 0
    const want = wanted.get(key) ?? 0
    const about = `masquerade to a random port from published ${describeMapping(m)}`
    if (verb === 'add') for (let i = have; i < want; i++) input.add('nat', ['-A', IPT_MASQ_PUBLISHED, ...spec], about)
    else for (let i = want; i < have; i++) input.add('nat', ['-D', IPT_MASQ_PUBLISHED, ...spec], about)
  }
}

/** How many times each rule spec (rendered) is held in {@link IPT_MASQ_PUBLISHED}. */
export function masqPublishedHeld(saved: SavedRuleset): Map<string, number> {
  const held = new Map<string, number>()
  for (const r of rulesOf(saved, 'nat', IPT_MASQ_PUBLISHED)) {
    const key = renderTokens(r)
    held.set(key, (held.get(key) ?? 0) + 1)
  }
  return held
}

function withoutComment(spec: readonly string[]): string[] {
  const i = spec.indexOf('comment')
  return i > 0 && spec[i - 1] === '-m' ? [...spec.slice(0, i - 1), ...spec.slice(i + 3)] : [...spec]
}

function overlap(a: ParsedPortMapping, b: ParsedPortMapping): boolean {
  return a.proto === b.proto && a.hostIP === b.hostIP && a.hostPort <= b.hostPortEnd && b.hostPort <= a.hostPortEnd
}

interface ExistingDnat {
  spec: string[]
  mapping: ParsedPortMapping | undefined
}

function existingDnat(saved: SavedRuleset, family: IPFamily): ExistingDnat[] {
  return rulesOf(saved, 'nat', IPT_DNAT).map((spec) => ({ spec, mapping: parseDnatSpec(spec, family) }))
}

/**
 * `addPorts` in one family. A mapping already there exactly is skipped; one whose host ports are
 * published elsewhere is EEXIST (checked before anything is written). Returns the mappings it adds.
 */
export function iptAddPorts(
  maps: ParsedPortMapping[],
  family: IPFamily,
  saved: SavedRuleset,
): { input: RestoreInput; added: ParsedPortMapping[] } {
  const input = new RestoreInput()
  const existing = existingDnat(saved, family)
  const added: ParsedPortMapping[] = []
  ensureSkeleton(input, saved, ['nat'], family)
  for (const m of maps) {
    const spec = dnatSpec(m)
    const same = existing.find((e) => sameSpec(withoutComment(e.spec), withoutComment(spec)))
    if (same) continue
    const clash = existing.find((e) => e.mapping !== undefined && overlap(e.mapping, m))
    if (clash?.mapping) {
      throw new FirewallError(
        'EEXIST',
        `publish ${describeMapping(m)}: host port already published (${describeMapping(clash.mapping)})`,
      )
    }
    input.add('nat', ['-A', IPT_DNAT, ...spec], `publish ${describeMapping(m)}`)
    added.push(m)
  }
  reconcileMasqPublished(input, saved, maps, [...existing.map((e) => e.mapping), ...added], 'add')
  return { input, added }
}

/**
 * `deletePorts` in one family: deletes each mapping's rule when it is there (a missing one is a
 * no-op); a host port published to another destination is EEXIST and left alone.
 */
export function iptDeletePorts(maps: ParsedPortMapping[], family: IPFamily, saved: SavedRuleset): RestoreInput {
  const input = new RestoreInput()
  const existing = existingDnat(saved, family)
  const left = [...existing]
  for (const m of maps) {
    const target = withoutComment(dnatSpec(m))
    const same = existing.find((e) => sameSpec(withoutComment(e.spec), target))
    if (same) {
      input.add('nat', ['-D', IPT_DNAT, ...same.spec], `unpublish ${describeMapping(m)}`)
      left.splice(left.indexOf(same), 1)
      continue
    }
    const clash = existing.find((e) => e.mapping && overlap(e.mapping, m))
    if (clash?.mapping) {
      throw new FirewallError(
        'EEXIST',
        `unpublish ${describeMapping(m)}: that host port is published to another destination (${describeMapping(clash.mapping)})`,
      )
    }
  }
  reconcileMasqPublished(
    input,
    saved,
    maps,
    left.map((e) => e.mapping),
    'delete',
  )
  return input
}

/** Inventory parts of one family. */
export function iptInventory(
  saved: SavedRuleset,
  family: IPFamily,
): { objects: string[]; networks: InventoryNetwork[]; ports: InventoryPort[] } {
  const prog = family === 4 ? 'iptables' : 'ip6tables'
  const objects: string[] = []
  const networks = new Map<string, InventoryNetwork>()
  for (const [table, t] of saved) {
    for (const chain of [...t.chains].filter(isOwnedChain)) {
      objects.push(`${prog} ${table} ${chain}`)
      const bridge = chain.match(/^CNM-(?:FWD|IN|POST)-(.+)$/u)?.[1]
      if (bridge && !networks.has(bridge)) networks.set(bridge, { id: undefined, bridge, subnets: [] })
    }
    for (const r of t.rules) {
      const target = r[r.indexOf('-j') + 1] ?? ''
      if (!isOwnedChain(r[1] ?? '') && isOwnedChain(target)) objects.push(`${prog} ${table} ${r[1]} -j ${target}`)
    }
  }
  for (const net of networks.values()) {
    const c = iptNetworkChains(net.bridge)
    const jump = rulesOf(saved, 'filter', IPT_FORWARD).find((r) => r[r.indexOf('-j') + 1] === c.fwd)
    const comment = jump?.indexOf('--comment') ?? -1
    if (jump && comment >= 0) net.id = jump[comment + 1]
    net.subnets.push(
      ...existingSubnets(saved)
        .filter(([b]) => b === net.bridge)
        .map(([, cidr]) => cidr),
    )
  }
  const ports: InventoryPort[] = []
  for (const { mapping: m } of existingDnat(saved, family)) {
    if (!m) continue
    for (let p = m.hostPort; p <= m.hostPortEnd; p++) {
      const shift = m.containerPortEnd !== m.containerPort ? p - m.hostPort : 0
      ports.push({
        proto: m.proto,
        ...(m.hostIP === undefined ? {} : { hostIP: m.hostIP }),
        hostPort: p,
        containerIP: m.containerIP,
        containerPort: m.containerPort + shift,
        ...(m.bridge === undefined ? {} : { bridge: m.bridge }),
      })
    }
  }
  return { objects, networks: [...networks.values()], ports }
}
