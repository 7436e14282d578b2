/**
 * Living beside the host's firewall (nftables backend). A packet is forwarded only when every base
 * chain on the forward hook accepts it: cnm's `accept` ends only cnm's own chain. So where another
 * table has a filter chain on the forward hook (iptables-nft's `ip filter FORWARD` with policy DROP,
 * as Docker sets it; a hand-written `inet filter forward` with `policy drop`), cnm keeps, in that
 * table, a chain it owns, `CNM-ACCEPT`, jumped to from the top of that base chain, that accepts its
 * bridges' traffic (as Docker's DOCKER-FORWARD). cnm's own table still decides: its forward chain's
 * drops (isolation, internal networks, ICC off, the user's `CNM-USER` chain) are final whatever the
 * order of the chains. The rules are written in the subset iptables-nft reads back
 * (`-j CNM-ACCEPT`, `-i br -j ACCEPT`), so `iptables-save` keeps working.
 *
 * Docker's own bridges: a dockerd beside cnm protects its bridges (docker0, br-<id>) from other
 * interfaces only through the forward policy DROP, and marks each of them in the same table with a
 * rule sending the traffic *to* it to its chain `DOCKER` (`-o docker0 -j DOCKER`, in FORWARD or,
 * Docker 28, DOCKER-BRIDGE). Accepting everything from a cnm bridge would let cnm's containers reach
 * every port of Docker's containers, so `CNM-ACCEPT` first returns (`oifname "docker0" return`,
 * `-o docker0 -j RETURN`) traffic to each interface so marked: Docker's own rules decide it
 * (published ports and replies pass, the rest meets its policy). Never for one of cnm's bridges.
 * A RETURN whose Docker bridge is gone is left (see {@link hostAcceptLines}).
 */

/** The chain cnm owns in another table's forward path. */
export const HOST_ACCEPT_CHAIN = 'CNM-ACCEPT'

/** The chain Docker sends the traffic to its bridges to (`-o docker0 -j DOCKER`): its mark on them. */
export const DOCKER_CHAIN = 'DOCKER'

/** Names written into scripts unquoted: anything else is left alone (never cnm's to program). */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/u
const FAMILIES = new Set(['ip', 'ip6', 'inet'])

type Json = unknown

/** A base chain of another table on the forward hook, with what cnm keeps there. */
export interface HostForwardChain {
  family: string
  table: string
  chain: string
  policy: string
  /** Handles of the rules of `chain` that jump to {@link HOST_ACCEPT_CHAIN}. */
  jumps: number[]
  /** Whether the table has {@link HOST_ACCEPT_CHAIN}. */
  hasAcceptChain: boolean
  /** The accept rules in {@link HOST_ACCEPT_CHAIN}: bridge → handles (`iifname` and `oifname`). */
  accepts: Map<string, { iif: number[]; oif: number[] }>
  /** Interfaces the table sends to {@link DOCKER_CHAIN}, or Docker's own chains name: Docker's bridges. */
  dockerBridges: string[]
  /** The return rules in {@link HOST_ACCEPT_CHAIN}: interface → handles (`oifname "X" return`). */
  returns: Map<string, number[]>
}

/**
 * The filter base chains on the forward hook, from `nft -j list chains`, but those of the tables
 * in `skip` (`inet cnm`; with the iptables backend also `ip filter` and `ip6 filter`, its own).
 */
export function parseForwardChains(text: string, skip: readonly string[]): HostForwardChain[] {
  const out: HostForwardChain[] = []
  for (const item of (JSON.parse(text) as { nftables?: { chain?: Record<string, Json> }[] }).nftables ?? []) {
    const c = item.chain
    if (c?.hook !== 'forward' || c.type !== 'filter') continue
    const family = String(c.family)
    const table = String(c.table)
    const chain = String(c.name)
    if (skip.includes(`${family} ${table}`)) continue
    if (!FAMILIES.has(family) || !NAME.test(table) || !NAME.test(chain)) continue
    out.push({
      family,
      table,
      chain,
      policy: String(c.policy ?? 'accept'),
      jumps: [],
      hasAcceptChain: false,
      accepts: new Map(),
      dockerBridges: [],
      returns: new Map(),
    })
  }
  return out
}

function jumpTarget(expr: Json[]): string | undefined {
  const last = expr[expr.length - 1] as { jump?: { target?: string } } | undefined
  return expr.length === 1 ? last?.jump?.target : undefined
}

/** `iifname "br" accept` / `oifname "br" accept`: the direction and bridge, else undefined. */
function acceptOf(expr: Json[]): { dir: 'iif' | 'oif'; bridge: string } | undefined {
  const [match, verdict] = expr as [
    { match?: { op?: string; left?: { meta?: { key?: string } }; right?: Json } },
    Record<string, Json>,
  ]
  if (expr.length !== 2 || !verdict || !('accept' in verdict)) return undefined
  const key = match?.match?.left?.meta?.key
  const bridge = match?.match?.right
  if (match?.match?.op !== '==' || typeof bridge !== 'string') return undefined
  if (key === 'iifname') return { dir: 'iif', bridge }
  if (key === 'oifname') return { dir: 'oif', bridge }
  return undefined
}

/** The interface of a positive `oifname == "X"` match with a plain name (no wildcard), else undefined. */
function oifnameOf(e: Json): string | undefined {
  const m = (e as { match?: { op?: string; left?: { meta?: { key?: string } }; right?: Json } } | undefined)?.match
  if (m?.op !== '==' || m.left?.meta?.key !== 'oifname' || typeof m.right !== 'string') return undefined
  return NAME.test(m.right) && m.right.length <= 15 ? m.right : undefined
}

const isCounter = (e: Json): boolean => typeof e === 'object' && e !== null && 'counter' in e

/** The interface of a positive `iifname == "X"` match with a plain name (no wildcard), else undefined. */
function iifnameOf(e: Json): string | undefined {
  const m = (e as { match?: { op?: string; left?: { meta?: { key?: string } }; right?: Json } } | undefined)?.match
  if (m?.op !== '==' || m.left?.meta?.key !== 'iifname' || typeof m.right !== 'string') return undefined
  return NAME.test(m.right) && m.right.length <= 15 ? m.right : undefined
}

/**
 * Whether a chain is one of dockerd's own (DOCKER, DOCKER-ISOLATION-STAGE-1/2, DOCKER-INTERNAL,
 * DOCKER-BRIDGE, DOCKER-CT, DOCKER-FORWARD…): every interface its rules name is a bridge of
 * Docker's. Not DOCKER-USER, the user's.
 */
export const isDockerChain = (chain: string | undefined): boolean =>
  chain !== undefined && /^DOCKER(?:-|$)/u.test(chain) && chain !== 'DOCKER-USER'

/**
 * Docker's marks on its bridges in one rule: the `oifname == "X"` of a rule whose verdict is
 * `jump DOCKER` (iptables-nft's `-o X -j DOCKER`, counter included), and every interface a rule of
 * one of Docker's own chains names positively (`-o`/`-i`: an `--internal` network has no
 * `-j DOCKER`, only its isolation drops, `! -s <subnet> -o X -j DROP`).
 */
function dockerMarksOf(expr: Json[], chain: string | undefined): string[] {
  const last = expr[expr.length - 1] as { jump?: { target?: string } } | undefined
  const names = new Set<string>()
  for (const e of expr) {
    const o = oifnameOf(e)
    if (o !== undefined && (last?.jump?.target === DOCKER_CHAIN || isDockerChain(chain))) names.add(o)
    const i = iifnameOf(e)
    if (i !== undefined && isDockerChain(chain)) names.add(i)
  }
  return [...names]
}

/** `oifname "X" return` (a counter allowed: iptables' `-o X -j RETURN`): X, else undefined. */
function returnOf(expr: Json[]): string | undefined {
  const rest = expr.filter((e) => !isCounter(e))
  const verdict = rest[1] as Record<string, Json> | undefined
  if (rest.length !== 2 || !verdict || !('return' in verdict)) return undefined
  return oifnameOf(rest[0])
}

/** Fills `chains` (of one table) from `nft -j list table <family> <table>`. */
export function readHostTable(chains: HostForwardChain[], text: string): void {
  for (const item of (JSON.parse(text) as { nftables?: Record<string, Json>[] }).nftables ?? []) {
    const c = item.chain as { name?: string } | undefined
    if (c?.name === HOST_ACCEPT_CHAIN) for (const h of chains) h.hasAcceptChain = true
    const r = item.rule as { chain?: string; handle?: number; expr?: Json[] } | undefined
    if (!r || typeof r.handle !== 'number' || !Array.isArray(r.expr)) continue
    const docker = dockerMarksOf(r.expr, r.chain)
    const ret = r.chain === HOST_ACCEPT_CHAIN ? returnOf(r.expr) : undefined
    for (const h of chains) {
      for (const x of docker) if (!h.dockerBridges.includes(x)) h.dockerBridges.push(x)
      if (ret !== undefined) h.returns.set(ret, [...(h.returns.get(ret) ?? []), r.handle])
      if (r.chain === h.chain && jumpTarget(r.expr) === HOST_ACCEPT_CHAIN) h.jumps.push(r.handle)
      if (r.chain !== HOST_ACCEPT_CHAIN) continue
      const a = acceptOf(r.expr)
      if (!a) continue
      const entry = h.accepts.get(a.bridge) ?? { iif: [], oif: [] }
      entry[a.dir].push(r.handle)
      h.accepts.set(a.bridge, entry)
    }
  }
}

const where = (h: HostForwardChain): string => `${h.family} ${h.table}`

/** What one script line programs, for error messages. */
export type ScriptLine = [line: string, about?: string]

/**
 * The Docker bridges of `h`'s table that cnm's traffic must be returned for: every interface the
 * table sends to {@link DOCKER_CHAIN} but cnm's own bridges (`bridge`, those in `own`, and every
 * bridge with an accept rule in {@link HOST_ACCEPT_CHAIN}). A cnm bridge never has Docker's mark:
 * this is a guard.
 */
export function dockerBridgesOf(h: HostForwardChain, bridge: string, own: readonly string[] = []): string[] {
  return h.dockerBridges.filter((x) => x !== bridge && !own.includes(x) && !h.accepts.has(x))
}

/**
 * Lines that let `bridge`'s traffic through every host forward chain (what is there is kept): the
 * chain, a return for each Docker bridge ahead of the accepts (inserted at its top), the bridge's
 * accepts, the jump. A return naming `bridge` itself (it would send cnm's own traffic to the host's
 * policy) is deleted. A return whose Docker bridge is no longer marked is left: it can only send
 * cnm's traffic to that interface to the host's own rules, and Docker rewriting its chains (a
 * restart) would otherwise open the bypass until the next repair; it goes with the chain.
 */
export function hostAcceptLines(
  chains: readonly HostForwardChain[],
  bridge: string,
  own: readonly string[] = [],
): ScriptLine[] {
  const lines: ScriptLine[] = []
  const tables = new Set<string>()
  for (const h of chains) {
    const t = where(h)
    const what = `accept rules for bridge ${bridge} in ${t} ${h.chain}`
    if (!tables.has(t)) {
      tables.add(t)
      if (!h.hasAcceptChain) lines.push([`add chain ${t} ${HOST_ACCEPT_CHAIN}`, what])
      for (const x of dockerBridgesOf(h, bridge, own)) {
        if (h.returns.has(x)) continue
        lines.push([
          `insert rule ${t} ${HOST_ACCEPT_CHAIN} oifname "${x}" return`,
          `return to Docker bridge ${x} in ${t}`,
        ])
      }
      for (const handle of h.returns.get(bridge) ?? []) {
        lines.push([
          `delete rule ${t} ${HOST_ACCEPT_CHAIN} handle ${handle}`,
          `return for cnm bridge ${bridge} in ${t}`,
        ])
      }
      const have = h.accepts.get(bridge)
      if (!have?.iif.length) lines.push([`add rule ${t} ${HOST_ACCEPT_CHAIN} iifname "${bridge}" accept`, what])
      if (!have?.oif.length) lines.push([`add rule ${t} ${HOST_ACCEPT_CHAIN} oifname "${bridge}" accept`, what])
    }
    if (h.jumps.length === 0) lines.push([`insert rule ${t} ${h.chain} jump ${HOST_ACCEPT_CHAIN}`, what])
  }
  return lines
}

/** Lines that remove `bridge`'s accept rules (nothing else). */
export function hostRemoveLines(chains: readonly HostForwardChain[], bridge: string): ScriptLine[] {
  const lines: ScriptLine[] = []
  const tables = new Set<string>()
  for (const h of chains) {
    const t = where(h)
    if (tables.has(t)) continue
    tables.add(t)
    const have = h.accepts.get(bridge)
    for (const handle of [...(have?.iif ?? []), ...(have?.oif ?? [])]) {
      lines.push([
        `delete rule ${t} ${HOST_ACCEPT_CHAIN} handle ${handle}`,
        `accept rules for bridge ${bridge} in ${t}`,
      ])
    }
  }
  return lines
}

/** Lines that remove everything cnm keeps in other tables: the jumps, then the chains. */
export function hostFlushLines(chains: readonly HostForwardChain[]): ScriptLine[] {
  const lines: ScriptLine[] = []
  for (const h of chains) {
    for (const handle of h.jumps) lines.push([`delete rule ${where(h)} ${h.chain} handle ${handle}`])
  }
  const tables = new Set(chains.filter((h) => h.hasAcceptChain).map(where))
  for (const t of tables)
    lines.push([`flush chain ${t} ${HOST_ACCEPT_CHAIN}`], [`delete chain ${t} ${HOST_ACCEPT_CHAIN}`])
  return lines
}

/** Inventory objects: `nft ip filter FORWARD jump CNM-ACCEPT`, `nft ip filter CNM-ACCEPT`. */
export function hostObjects(chains: readonly HostForwardChain[]): string[] {
  const out = new Set<string>()
  for (const h of chains) {
    if (h.jumps.length > 0) out.add(`nft ${where(h)} ${h.chain} jump ${HOST_ACCEPT_CHAIN}`)
    if (h.hasAcceptChain) out.add(`nft ${where(h)} ${HOST_ACCEPT_CHAIN}`)
  }
  return [...out]
}

/**
 * What `bridge` lacks in the host's forward chains (empty: its traffic passes them all, and none of
 * it reaches a Docker bridge past Docker's own rules).
 */
export function hostMissing(
  chains: readonly HostForwardChain[],
  bridge: string,
  own: readonly string[] = [],
): string[] {
  const out: string[] = []
  const tables = new Set<string>()
  for (const h of chains) {
    const have = h.accepts.get(bridge)
    if (h.jumps.length === 0 || !have?.iif.length || !have?.oif.length) {
      out.push(`accept in ${where(h)} ${h.chain} (policy ${h.policy})`)
    }
    if (tables.has(where(h))) continue
    tables.add(where(h))
    for (const x of dockerBridgesOf(h, bridge, own)) {
      if (!h.returns.has(x)) out.push(`return to Docker bridge ${x} in ${where(h)} ${HOST_ACCEPT_CHAIN}`)
    }
    if (h.returns.has(bridge)) out.push(`no return for its own bridge in ${where(h)} ${HOST_ACCEPT_CHAIN}`)
  }
  return out
}
