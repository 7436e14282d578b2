import type { ExpectedRules, FirewallDamage } from './damage.js'
import type { Inventory } from './inventory.js'
import type { ParsedNetworkRules } from './network-rules.js'
import type { FirewallBackendName } from './options.js'
import type { ParsedPortMapping } from './port-mapping.js'

/** What each backend implements, on validated input. `createFirewall` adds validation and ordering. */
export interface Backend {
  readonly name: FirewallBackendName
  addNetwork(net: ParsedNetworkRules): Promise<void>
  deleteNetwork(bridge: string): Promise<void>
  addPorts(maps: ParsedPortMapping[]): Promise<void>
  deletePorts(maps: ParsedPortMapping[]): Promise<void>
  inventory(): Promise<Inventory>
  verify(expected: ExpectedRules): Promise<FirewallDamage>
  /** Puts back what `verify` finds missing; returns what it found. */
  repair(expected: ExpectedRules): Promise<FirewallDamage>
  flush(): Promise<void>
  /** Optional: reads until `endBatch` may share one look at the kernel (see `Firewall.beginBatch`). */
  beginBatch?(): void
  endBatch?(): void
  /** Optional: someone else changed the rules; a batch's earlier reads are dropped (see `Firewall.kernelChanged`). */
  kernelChanged?(): void
}
