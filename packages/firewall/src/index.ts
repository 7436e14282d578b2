export type { IPFamily, ParsedCIDR } from './address.js'
export type { FirewallDamage } from './damage.js'
export {
  ERR_COMMAND_FAILED,
  ERR_INVALID_ADDRESS,
  ERR_INVALID_CIDR,
  ERR_INVALID_CONFIG,
  ERR_INVALID_INTERFACE_NAME,
  ERR_INVALID_PORT,
  ERR_NOT_SUPPORTED,
  ERR_UNKNOWN_PROTOCOL,
  FirewallError,
} from './errors.js'
export { createFirewall, type Expected, type Firewall, type FirewallOptions } from './firewall.js'
export type { Inventory, InventoryNetwork, InventoryPort } from './inventory.js'
export { kernelProtocols } from './kernel-features.js'
export { type NetworkRules, type ParsedNetworkRules, parseNetworkRules } from './network-rules.js'
export { FIREWALL_BACKENDS, type FirewallBackendName, type FirewallConfig, parseFirewallOptions } from './options.js'
export {
  describeMapping,
  type ParsedPortMapping,
  PORT_PROTOCOLS,
  type PortMapping,
  type PortProtocol,
  parsePortMapping,
} from './port-mapping.js'
