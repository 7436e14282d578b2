import type { Backend } from './backend.js'
import type { ExpectedRules, FirewallDamage } from './damage.js'
import { ERR_INVALID_CONFIG, ERR_NOT_SUPPORTED, FirewallError } from './errors.js'
import { type Inventory, sortInventory } from './inventory.js'
import { createIptablesBackend, iptablesWorks } from './iptables-backend.js'
import { kernelProtocols } from './kernel-features.js'
import { type NetworkRules, parseNetworkRef, parseNetworkRules } from './network-rules.js'
import { createNftablesBackend, nftWorks } from './nftables-backend.js'
import { createNoneBackend } from './none-backend.js'
import { type FirewallBackendName, parseFirewallOptions } from './options.js'
import {
  describeMapping,
  type ParsedPortMapping,
  PORT_PROTOCOLS,
  type PortMapping,
  type PortProtocol,
  parsePortMappings,
} from './port-mapping.js'

/** Options of {@link createFirewall}. */
export interface FirewallOptions {
  /** `nftables`, `iptables` or `none`. Default: nftables when `nft` works here, else iptables. */
  backend?: FirewallBackendName
}

/**
 * NAT, isolation and published-port rules for cnm networks, in rules cnm owns. Every verb is one
 * atomic transaction (per IP family for iptables), validates its input first, and has its inverse.
 * Calls on one firewall run one at a time, in call order. Everything acts on the network namespace
 * of the calling thread.
 */
export interface Firewall {
  /** The backend in use (same as `backend`). */
  readonly name: FirewallBackendName
  readonly backend: FirewallBackendName
  /** The protocols whose ports can be published here (`sctp` only when the kernel has SCTP). */
  readonly protocols: readonly PortProtocol[]
  /**
   * Masquerade, forwarding, ICC, isolation and internal-network rules for a bridge network. EEXIST
   * when a network on that bridge is already there. Rules only: `127.0.0.1` reaches published
   * ports once the bridge's owner sets `route_localnet=1` on the bridge (the bridge driver does).
   */
  addNetwork(net: NetworkRules): Promise<void>
  /**
   * Removes a network's rules (found by its bridge; a missing one is a no-op). When no network and
   * no published port is left, cnm's tables and chains go too (callers in several processes
   * serialise their calls, as the controller's store does).
   */
  deleteNetwork(net: Pick<NetworkRules, 'bridge'>): Promise<void>
  /** Publishes ports (DNAT). EEXIST when a host port is already published to another destination. */
  addPorts(maps: readonly PortMapping[]): Promise<void>
  /** Unpublishes ports. A mapping that is not there is a no-op; another destination's is EEXIST. */
  deletePorts(maps: readonly PortMapping[]): Promise<void>
  /** What cnm owns in the kernel, read from the kernel. */
  inventory(): Promise<Inventory>
  /**
   * What of the given networks' and ports' rules the kernel lacks (a table deleted or flushed, a
   * chain flushed, a rule or a map element deleted), read from the kernel. Nothing is changed.
   */
  verify(expected: Expected): Promise<FirewallDamage>
  /**
   * Puts back what {@link verify} finds missing of the given networks and ports, whatever is left
   * of them (a repair never fails on what is still there), and returns what it found. A host port
   * that now goes to another destination is EEXIST (every other part is still repaired).
   */
  repair(expected: Expected): Promise<FirewallDamage>
  /** Removes every rule, table and chain cnm owns. */
  flush(): Promise<void>
  /**
   * Until `endBatch`, reads of cnm's rules (inventory, verify, repair, a network's deletion) share
   * one look at the kernel, which this firewall's own writes keep current, and `addPorts` of a
   * mapping the kernel already holds exactly so writes nothing: a start-up restoring hundreds of
   * networks and thousands of published ports reads the ruleset once, not once per object. Rules
   * changed by someone else during a batch are seen by the next one, or at once after
   * {@link kernelChanged}.
   */
  beginBatch(): void
  /**
   * Ends what {@link beginBatch} began: the shared look at the kernel is dropped and later reads go to
   * the kernel again. Call it in a `finally`, after a failure too; without a batch it does nothing.
   */
  endBatch(): void
  /**
   * Someone else changed the ruleset (an nf_tables change event that was not this process's): reads
   * inside a batch go to the kernel again, so the repair that follows finds what was taken.
   */
  kernelChanged(): void
}

async function chooseBackend(name: FirewallBackendName | undefined): Promise<Backend> {
  if (name === 'none') return createNoneBackend()
  if (name === 'nftables' || name === undefined) {
    const why = await nftWorks()
    if (why === undefined) return createNftablesBackend()
    if (name === 'nftables') throw new FirewallError(ERR_NOT_SUPPORTED, `firewall backend nftables unavailable: ${why}`)
    const why4 = await iptablesWorks()
    if (why4 === undefined) return createIptablesBackend()
    throw new FirewallError(ERR_NOT_SUPPORTED, `no firewall backend works here: ${why}; ${why4}`)
  }
  const why = await iptablesWorks()
  if (why !== undefined) throw new FirewallError(ERR_NOT_SUPPORTED, `firewall backend iptables unavailable: ${why}`)
  return createIptablesBackend()
}

function checkProtocols(maps: ParsedPortMapping[], protocols: readonly PortProtocol[]): void {
  const bad = maps.find((m) => !protocols.includes(m.proto))
  if (bad) {
    throw new FirewallError(
      ERR_NOT_SUPPORTED,
      `publish ${describeMapping(bad)}: ${bad.proto} is not supported by this kernel (it has no ${bad.proto.toUpperCase()})`,
    )
  }
}

/** What {@link Firewall.verify} and {@link Firewall.repair} compare the kernel with. */
export interface Expected {
  networks?: readonly NetworkRules[]
  ports?: readonly PortMapping[]
}

function parseExpected(raw: Expected): ExpectedRules {
  if (raw === null || typeof raw !== 'object')
    throw new FirewallError(ERR_INVALID_CONFIG, 'expected rules must be an object')
  return { networks: (raw.networks ?? []).map(parseNetworkRules), ports: parsePortMappings(raw.ports ?? []) }
}

/** Wraps a backend: validation first, one call at a time. */
export function wrapBackend(backend: Backend, protocols: readonly PortProtocol[]): Firewall {
  let tail: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn)
    tail = next.catch(() => {})
    return next
  }
  return Object.freeze({
    name: backend.name,
    backend: backend.name,
    protocols,
    addNetwork(raw: NetworkRules) {
      return serial(async () => {
        await backend.addNetwork(parseNetworkRules(raw))
      })
    },
    deleteNetwork(raw: Pick<NetworkRules, 'bridge'>) {
      return serial(async () => {
        const bridge = parseNetworkRef(raw)
        await backend.deleteNetwork(bridge)
        // The last network takes cnm's tables and chains with it: nothing is left behind.
        const left = await backend.inventory()
        if (left.networks.length === 0 && left.ports.length === 0 && left.objects.length > 0) await backend.flush()
      })
    },
    addPorts(raw: readonly PortMapping[]) {
      return serial(async () => {
        const maps = parsePortMappings(raw)
        checkProtocols(maps, protocols)
        if (maps.length > 0) await backend.addPorts(maps)
      })
    },
    deletePorts(raw: readonly PortMapping[]) {
      return serial(async () => {
        const maps = parsePortMappings(raw)
        checkProtocols(maps, protocols)
        if (maps.length > 0) await backend.deletePorts(maps)
      })
    },
    inventory() {
      return serial(async () => sortInventory(await backend.inventory()))
    },
    verify(raw: Expected) {
      const expected = parseExpected(raw)
      return serial(() => backend.verify(expected))
    },
    repair(raw: Expected) {
      const expected = parseExpected(raw)
      checkProtocols(expected.ports, protocols)
      return serial(() => backend.repair(expected))
    },
    flush() {
      return serial(async () => {
        await backend.flush()
      })
    },
    beginBatch: () => backend.beginBatch?.(),
    endBatch: () => backend.endBatch?.(),
    kernelChanged: () => backend.kernelChanged?.(),
  })
}

/**
 * Makes a firewall for the calling thread's network namespace. An explicit backend wins (and must
 * work here: ERR_NOT_SUPPORTED otherwise); without one, nftables when `nft` works, else iptables.
 * An unknown backend or option is ERR_INVALID_CONFIG naming it.
 */
export async function createFirewall(options: FirewallOptions = {}): Promise<Firewall> {
  const config = parseFirewallOptions(options)
  const backend = await chooseBackend(config.backend)
  return wrapBackend(backend, backend.name === 'none' ? PORT_PROTOCOLS : kernelProtocols())
}
