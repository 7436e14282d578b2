import { ERR_INVALID_CONFIG, FirewallError } from './errors.js'

/** The firewall backends cnm knows. */
export const FIREWALL_BACKENDS = ['nftables', 'iptables', 'none'] as const
/**
 * A firewall backend: `nftables` (cnm's one table `inet cnm`, one `nft -f -` transaction per
 * operation; the default when `nft` works), `iptables` (cnm's chains in iptables and ip6tables, one
 * `iptables-restore --noflush` per operation) or `none` (validates like the others but programs
 * nothing: NAT, isolation and published ports are left to someone else).
 */
export type FirewallBackendName = (typeof FIREWALL_BACKENDS)[number]

/** Validated firewall options. `backend` undefined means "choose: nftables when `nft` works". */
export interface FirewallConfig {
  backend: FirewallBackendName | undefined
}

function isBackendName(name: unknown): name is FirewallBackendName {
  return typeof name === 'string' && (FIREWALL_BACKENDS as readonly string[]).includes(name)
}

/** Parses raw options into a {@link FirewallConfig}; an unknown backend is `ERR_INVALID_CONFIG` naming it. */
export function parseFirewallOptions(raw: unknown = {}): FirewallConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new FirewallError(ERR_INVALID_CONFIG, 'firewall options must be an object')
  }
  const { backend, ...rest } = raw as { backend?: unknown }
  const unknown = Object.keys(rest)
  if (unknown.length > 0) {
    throw new FirewallError(ERR_INVALID_CONFIG, `unknown firewall option ${JSON.stringify(unknown[0])}`)
  }
  if (backend !== undefined && !isBackendName(backend)) {
    throw new FirewallError(
      ERR_INVALID_CONFIG,
      `unknown firewall backend ${JSON.stringify(backend)}: expected one of ${FIREWALL_BACKENDS.join(', ')}`,
    )
  }
  return { backend }
}
