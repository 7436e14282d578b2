import type { ExpectedRules, FirewallDamage } from './damage.js'
import { type NftScript, networkChains, networkLines, nftAddPorts, preamble, script } from './nft-script.js'
import { describeMapping } from './port-mapping.js'

/**
 * The scripts that put back what `damage` found missing: one for the skeleton and the damaged
 * networks (their chains rewritten whatever is left of them, their map entries added where
 * missing: a repair never fails on what is already there), and one per missing published port
 * (an element added; EEXIST only when that host port now goes elsewhere).
 */
export function nftRepair(
  damage: FirewallDamage,
  expected: ExpectedRules,
): { network: NftScript; ports: { what: string; script: NftScript }[] } {
  const network = script()
  const damaged = new Set(damage.networks.map((n) => n.bridge))
  const nets = expected.networks.filter((n) => damaged.has(n.bridge))
  if (damage.skeleton.length > 0 || nets.length > 0) {
    preamble(
      network,
      nets.flatMap((n) => Object.values(networkChains(n.bridge))),
    )
    for (const net of nets) networkLines(network, net, true)
  }
  const ports = damage.ports.map((m) => ({ what: `publish ${describeMapping(m)}`, script: nftAddPorts([m], false) }))
  return { network, ports }
}
