export { ERR_INVALID_CONFIG, ERR_NOT_SUPPORTED, FirewallError } from './errors.js'
export { FIREWALL_BACKENDS, type FirewallBackendName, type FirewallConfig, parseFirewallOptions } from './options.js'
