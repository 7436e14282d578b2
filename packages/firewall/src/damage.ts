import type { ParsedNetworkRules } from './network-rules.js'
import type { ParsedPortMapping } from './port-mapping.js'

/**
 * What of cnm's rules the kernel lacks, compared with what the caller says it holds
 * ({@link Firewall.verify}). Empty lists: everything is there.
 */
export interface FirewallDamage {
  /** The table, its base chains, maps and their constant rules: each missing or damaged part, named. */
  skeleton: string[]
  /** Networks (by bridge) with something missing (a chain, its rules, a map element), and what. */
  networks: { bridge: string; missing: string[] }[]
  /** Published ports (as given) whose rule is missing or sends the host port elsewhere. */
  ports: ParsedPortMapping[]
}

/** What `verify` compares the kernel with. */
export interface ExpectedRules {
  networks: ParsedNetworkRules[]
  ports: ParsedPortMapping[]
}

/** True when nothing is missing. */
export function isIntact(d: FirewallDamage): boolean {
  return d.skeleton.length === 0 && d.networks.length === 0 && d.ports.length === 0
}
