/** Options that are not a valid firewall configuration (unknown backend or option, bad shape). */
export const ERR_INVALID_CONFIG = 'ERR_INVALID_CONFIG'
/** Something this kernel or machine lacks: a protocol (sctp), or the tool a backend needs. */
export const ERR_NOT_SUPPORTED = 'ERR_NOT_SUPPORTED'
/** A subnet that is not a valid IPv4 or IPv6 CIDR. */
export const ERR_INVALID_CIDR = 'ERR_INVALID_CIDR'
/** An IP address that is not valid where it is used (not an address, wrong family, a wildcard). */
export const ERR_INVALID_ADDRESS = 'ERR_INVALID_ADDRESS'
/** A port or port range that is not integers in 1–65535, reversed, or of mismatched sizes. */
export const ERR_INVALID_PORT = 'ERR_INVALID_PORT'
/** A protocol other than `tcp`, `udp` or `sctp`. */
export const ERR_UNKNOWN_PROTOCOL = 'ERR_UNKNOWN_PROTOCOL'
/** A bridge name that is not a usable interface name (1–15 of `A-Z a-z 0-9 _ . -`, not `+`, `/`, …). */
export const ERR_INVALID_INTERFACE_NAME = 'ERR_INVALID_INTERFACE_NAME'
/** A firewall program (`nft`, `iptables-restore`, …) failed for a reason with no errno name. */
export const ERR_COMMAND_FAILED = 'ERR_COMMAND_FAILED'

/**
 * Every error this package throws; check `code`. Besides the `ERR_*` codes above, a failure the
 * kernel reported with an errno carries its name (`EEXIST` for a network or published port that
 * already exists with other rules, `ENOENT`, `EPERM`, …).
 */
export class FirewallError extends Error {
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'FirewallError'
    this.code = code
  }
}
