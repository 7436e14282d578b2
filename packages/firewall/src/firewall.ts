import type { Backend } from './backend.js'
import { ERR_NOT_SUPPORTED, FirewallError } from './errors.js'
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
  /** Removes every rule, table and chain cnm owns. */
  flush(): Promise<void>
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
    flush() {
      return serial(async () => {
        await backend.flush()
      })
    },
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
