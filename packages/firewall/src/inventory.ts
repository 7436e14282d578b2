import type { FirewallBackendName } from './options.js'
import type { PortProtocol } from './port-mapping.js'

/** A network whose rules cnm holds in the kernel. */
export interface InventoryNetwork {
  /** The network id recorded with the rules (undefined when it could not be read back). */
  id: string | undefined
  bridge: string
  /** Canonical subnets. */
  subnets: string[]
  /**
   * nftables: what the host's own forward chains (another table's filter chain on the forward hook,
   * such as iptables-nft's `ip filter FORWARD`) lack to let this bridge's traffic through, or to
   * return its traffic to a Docker bridge to Docker's rules; absent when nothing is missing.
   */
  hostForwardMissing?: string[]
}

/** A published host port as the kernel holds it (ranges are listed port by port). */
export interface InventoryPort {
  proto: PortProtocol
  /** undefined: every local address of the container IP's family. */
  hostIP?: string
  hostPort: number
  containerIP: string
  containerPort: number
  bridge?: string
}

/** What cnm owns in the kernel, read from the kernel (not from memory). */
export interface Inventory {
  backend: FirewallBackendName
  /**
   * Every kernel object cnm owns: `table inet cnm` for nftables; `<iptables|ip6tables> <table>
   * <chain>` and `… <table> <builtin> -j <chain>` (the jumps) for iptables. Empty after `flush()`.
   */
  objects: string[]
  networks: InventoryNetwork[]
  ports: InventoryPort[]
}

/** Sorts an inventory's lists so two reads compare equal. */
export function sortInventory(inv: Inventory): Inventory {
  const portKey = (p: InventoryPort): string =>
    `${p.proto}|${p.hostIP ?? ''}|${String(p.hostPort).padStart(5, '0')}|${p.containerIP}`
  return {
    backend: inv.backend,
    objects: [...inv.objects].sort(),
    networks: [...inv.networks]
      .map((n) => ({ ...n, subnets: [...n.subnets].sort() }))
      .sort((a, b) => a.bridge.localeCompare(b.bridge)),
    ports: [...inv.ports].sort((a, b) => portKey(a).localeCompare(portKey(b))),
  }
}
