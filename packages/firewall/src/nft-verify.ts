import type { ExpectedRules, FirewallDamage } from './damage.js'
import type { NftTableState } from './nft-inventory.js'
import { nftPorts, nftPublishedPorts, publishedPortId } from './nft-inventory.js'
import { BASE_CHAINS, BASE_RULES, MAPS, NFT_FAMILY, NFT_TABLE, networkChainRules, networkChains } from './nft-script.js'
import { expandMapping } from './port-mapping.js'

type Element = { key: unknown; value: unknown }

const jumpsTo = (e: Element, chain: string): boolean =>
  (e.value as { jump?: { target?: string } } | null)?.jump?.target === chain

const prefixOf = (key: unknown): string | undefined => {
  const p = (key as { prefix?: { addr: string; len: number } } | null)?.prefix
  return p ? `${p.addr}/${p.len}` : undefined
}

/** A chain missing, or holding fewer or more rules than cnm wrote into it (flushed, a rule deleted). */
function chainProblem(state: NftTableState, chain: string, rules: number): string | undefined {
  if (!state.chains.includes(chain)) return `chain ${chain} missing`
  const held = state.rules.get(chain) ?? 0
  return held === rules ? undefined : `chain ${chain} holds ${held} of its ${rules} rules`
}

function skeletonDamage(state: NftTableState): string[] {
  if (!state.exists) return [`table ${NFT_FAMILY} ${NFT_TABLE} missing`]
  const out: string[] = []
  for (const [name] of BASE_CHAINS) if (!state.chains.includes(name)) out.push(`chain ${name} missing`)
  for (const [kind, name] of MAPS) if (!state.sets.has(name)) out.push(`${kind} ${name} missing`)
  for (const [chain, rules] of BASE_RULES) {
    const problem = chainProblem(state, chain, rules.length)
    if (problem && !out.includes(`chain ${chain} missing`)) out.push(problem)
  }
  return out
}

function networkDamage(state: NftTableState, net: ExpectedRules['networks'][number]): string[] {
  const out: string[] = []
  for (const [chain, rules] of networkChainRules(net)) {
    const problem = chainProblem(state, chain, rules.length)
    if (problem) out.push(problem)
  }
  const c = networkChains(net.bridge)
  const elems = (set: string): Element[] => state.sets.get(set) ?? []
  const has = (set: string, pick: (e: Element) => boolean): void => {
    if (!elems(set).some(pick)) out.push(`element ${net.bridge} of ${set} missing`)
  }
  has('fwd_in', (e) => e.key === net.bridge && jumpsTo(e, c.fwd))
  has('fwd_out', (e) => e.key === net.bridge && jumpsTo(e, c.in))
  has('bridges', (e) => e.key === net.bridge)
  for (const s of net.subnets) {
    if (!elems(`post${s.family}`).some((e) => prefixOf(e.key) === s.cidr && jumpsTo(e, c.post))) {
      out.push(`element ${s.cidr} of post${s.family} missing`)
    }
    if (!elems(`subnets${s.family}`).some((e) => prefixOf(e.key) === s.cidr)) {
      out.push(`element ${s.cidr} of subnets${s.family} missing`)
    }
  }
  return out
}

/**
 * Compares what the kernel holds of `table inet cnm` with what the caller says cnm wrote: the
 * skeleton (base chains, maps, their constant rules), each network's chains (by rule count), map
 * and set elements, and each published port's DNAT element and its element in `pubports` or
 * `pubports_ip` (its masquerade remap).
 */
export function nftDamage(state: NftTableState, expected: ExpectedRules): FirewallDamage {
  const skeleton = skeletonDamage(state)
  const networks = expected.networks
    .map((net) => ({ bridge: net.bridge, missing: state.exists ? networkDamage(state, net) : ['all of it'] }))
    .filter((n) => n.missing.length > 0)
  if (expected.ports.length === 0) return { skeleton, networks, ports: [] } // a network's repair: no port read
  const held = new Set(
    nftPorts(state).map((p) => `${p.proto}|${p.hostIP ?? '*'}|${p.hostPort}|${p.containerIP}|${p.containerPort}`),
  )
  const remapped = nftPublishedPorts(state)
  const ports = expected.ports.filter((m) =>
    expandMapping(m).some(
      (r) =>
        !held.has(`${r.proto}|${r.hostIP ?? '*'}|${r.hostPort}|${r.containerIP}|${r.containerPort}`) ||
        !remapped.has(publishedPortId(r)),
    ),
  )
  return { skeleton, networks, ports }
}
