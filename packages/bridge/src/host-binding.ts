import type { PortBinding } from '@cnm/driverapi'
import type { NetworkConfig } from './network-config.js'

/**
 * The bindings as published on this network: one that names no host address (`-p 8080:80`) gets
 * the network's `hostBindingIPv4` (Docker's `com.docker.network.bridge.host_binding_ipv4`) when it
 * has one, and is then published on that address only — `0.0.0.0` means every IPv4 address and no
 * IPv6 one, as in Docker. A binding with its own host address keeps it.
 */
export function withHostBinding(bindings: readonly PortBinding[], config: NetworkConfig): readonly PortBinding[] {
  const ip = config.hostBindingIPv4
  if (!ip) return bindings
  return bindings.map((b) => (b.hostIP === undefined ? { ...b, hostIP: ip.text } : b))
}
