import type { IPFamily } from './address.js'
import type { ExpectedRules, FirewallDamage } from './damage.js'
import {
  IPT_TABLES,
  iptDockerBridges,
  iptInventory,
  jumpSpec,
  LOCALNET_GUARD,
  masqPublishedHeld,
  masqPublishedSpec,
  networkRules,
  SKELETON,
} from './iptables-rules.js'
import { hasChain, renderTokens, rulesOf, type SavedRuleset, sameSpec } from './iptables-save.js'
import { expandMapping, type ParsedPortMapping } from './port-mapping.js'

const has = (saved: SavedRuleset, table: string, chain: string, spec: readonly string[]): boolean =>
  rulesOf(saved, table, chain).some((r) => sameSpec(r, spec))

function skeletonDamage(saved: SavedRuleset, family: IPFamily, prog: string): string[] {
  const out: string[] = []
  for (const table of IPT_TABLES) {
    for (const chain of SKELETON[table].chains) {
      if (!hasChain(saved, table, chain)) out.push(`${prog} ${table} chain ${chain} missing`)
    }
    for (const jump of SKELETON[table].jumps) {
      if (!has(saved, table, jump.builtin, jumpSpec(jump, family))) {
        out.push(`${prog} ${table} ${jump.builtin} -j ${jump.target} missing`)
      }
    }
  }
  if (family === 4 && !has(saved, 'filter', 'CNM-INPUT', LOCALNET_GUARD))
    out.push(`${prog} filter loopback guard missing`)
  return out
}

/**
 * Compares `iptables-save`/`ip6tables-save` with what the caller says cnm wrote: the `CNM-*` base
 * chains and the jumps into them, every rule of each network (in each family it has a subnet of;
 * among them the returns to Docker's bridges there now), and each published port's DNAT rule and
 * its masquerade remap (`CNM-MASQ-PUBLISHED`).
 */
export function iptDamage(saved: Map<IPFamily, SavedRuleset>, expected: ExpectedRules): FirewallDamage {
  const damage: FirewallDamage = { skeleton: [], networks: [], ports: [] }
  const families = new Set<IPFamily>([
    ...expected.networks.flatMap((n) => n.subnets.map((s) => s.family)),
    ...expected.ports.map((m) => m.family),
  ])
  const held = new Set<string>()
  const unremapped = new Set<ParsedPortMapping>()
  for (const family of families) {
    const s = saved.get(family) ?? new Map()
    const prog = family === 4 ? 'iptables' : 'ip6tables'
    damage.skeleton.push(...skeletonDamage(s, family, prog))
    // Each mapping needs its own masquerade remap rule (two host addresses of one port: two rules).
    const remaps = masqPublishedHeld(s)
    for (const m of expected.ports.filter((p) => p.family === family)) {
      const key = renderTokens(masqPublishedSpec(m))
      const left = remaps.get(key) ?? 0
      if (left === 0) unremapped.add(m)
      else remaps.set(key, left - 1)
    }
    for (const p of iptInventory(s, family).ports) {
      held.add(`${p.proto}|${p.hostIP ?? '*'}|${p.hostPort}|${p.containerIP}|${p.containerPort}`)
    }
    const own = expected.networks.map((n) => n.bridge)
    const docker = iptDockerBridges(s, own)
    for (const net of expected.networks.filter((n) => n.subnets.some((x) => x.family === family))) {
      const rules = networkRules(net, family, docker)
      const missing = (['filter', 'nat', 'raw'] as const).flatMap((table) =>
        rules[table]
          .filter((r) => !has(s, table, r[1] ?? '', r.slice(2)))
          .map((r) => `${prog} ${table} rule ${r.slice(1).join(' ')} missing`),
      )
      if (missing.length === 0) continue
      const known = damage.networks.find((n) => n.bridge === net.bridge)
      if (known) known.missing.push(...missing)
      else damage.networks.push({ bridge: net.bridge, missing })
    }
  }
  damage.ports = expected.ports.filter(
    (m) =>
      unremapped.has(m) ||
      expandMapping(m).some(
        (r) => !held.has(`${r.proto}|${r.hostIP ?? '*'}|${r.hostPort}|${r.containerIP}|${r.containerPort}`),
      ),
  )
  return damage
}
