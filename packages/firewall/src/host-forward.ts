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
 */

/** The chain cnm owns in another table's forward path. */
export const HOST_ACCEPT_CHAIN = 'CNM-ACCEPT'

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

/** Fills `chains` (of one table) from `nft -j list table <family> <table>`. */
export function readHostTable(chains: HostForwardChain[], text: string): void {
  for (const item of (JSON.parse(text) as { nftables?: Record<string, Json>[] }).nftables ?? []) {
    const c = item.chain as { name?: string } | undefined
    if (c?.name === HOST_ACCEPT_CHAIN) for (const h of chains) h.hasAcceptChain = true
    const r = item.rule as { chain?: string; handle?: number; expr?: Json[] } | undefined
    if (!r || typeof r.handle !== 'number' || !Array.isArray(r.expr)) continue
    for (const h of chains) {
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

/** Lines that let `bridge`'s traffic through every host forward chain (what is there is kept). */
export function hostAcceptLines(chains: readonly HostForwardChain[], bridge: string): ScriptLine[] {
  const lines: ScriptLine[] = []
  const tables = new Set<string>()
  for (const h of chains) {
    const t = where(h)
    const what = `accept rules for bridge ${bridge} in ${t} ${h.chain}`
    if (!tables.has(t)) {
      tables.add(t)
      if (!h.hasAcceptChain) lines.push([`add chain ${t} ${HOST_ACCEPT_CHAIN}`, what])
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

/** What `bridge` lacks in the host's forward chains (empty: its traffic passes them all). */
export function hostMissing(chains: readonly HostForwardChain[], bridge: string): string[] {
  const out: string[] = []
  for (const h of chains) {
    const have = h.accepts.get(bridge)
    if (h.jumps.length === 0 || !have?.iif.length || !have?.oif.length) {
      out.push(`accept in ${where(h)} ${h.chain} (policy ${h.policy})`)
    }
  }
  return out
}
