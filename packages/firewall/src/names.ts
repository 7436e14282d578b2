import { ERR_INVALID_CONFIG, ERR_INVALID_INTERFACE_NAME, FirewallError } from './errors.js'

/**
 * Bridge names cnm programs rules for: 1–15 bytes of letters, digits, `_`, `.` and `-`, starting
 * with a letter or digit. Stricter than the kernel on purpose: the name becomes part of nftables and
 * iptables chain names, and `+` would be an iptables wildcard.
 */
const BRIDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/u

/** Network ids: 1–128 of letters, digits, `_`, `.`, `-` (a 64-hex libnetwork id fits). */
const NETWORK_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u

/** Returns `name` or throws `ERR_INVALID_INTERFACE_NAME` naming it. */
export function validateBridgeName(name: unknown): string {
  if (typeof name !== 'string' || !BRIDGE_NAME.test(name)) {
    throw new FirewallError(
      ERR_INVALID_INTERFACE_NAME,
      `invalid bridge name ${JSON.stringify(name)}: expected 1-15 of A-Z a-z 0-9 _ . - starting with a letter or digit`,
    )
  }
  return name
}

/** Returns `id` or throws `ERR_INVALID_CONFIG` naming it. */
export function validateNetworkId(id: unknown): string {
  if (typeof id !== 'string' || !NETWORK_ID.test(id)) {
    throw new FirewallError(
      ERR_INVALID_CONFIG,
      `invalid network id ${JSON.stringify(id)}: expected 1-128 of A-Z a-z 0-9 _ . - starting with a letter or digit`,
    )
  }
  return id
}
