import {
  CnmError,
  ERR_INVALID_CONFIG,
  ERR_INVALID_INTERFACE_NAME,
  ERR_NOT_SUPPORTED,
  type ErrorKind,
  errnoKind,
} from '@cnm/driverapi'
import { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR } from '@cnm/ip'

/**
 * Options that are not a valid firewall configuration (unknown backend or option, bad shape);
 * something this kernel or machine lacks (a protocol such as sctp, or the tool a backend needs);
 * a bridge name that is not a usable interface name (1–15 of `A-Z a-z 0-9 _ . -`, not `+`, `/`,
 * …). Declared in `@cnm/driverapi`, shared with the drivers and netlink.
 */
/**
 * A subnet that is not a valid IPv4 or IPv6 CIDR (`ERR_INVALID_CIDR`); an IP address that is not
 * valid where it is used: not an address, wrong family, a wildcard (`ERR_INVALID_ADDRESS`).
 * Declared in `@cnm/ip`, which parses them.
 */
export { ERR_INVALID_ADDRESS, ERR_INVALID_CIDR, ERR_INVALID_CONFIG, ERR_INVALID_INTERFACE_NAME, ERR_NOT_SUPPORTED }
/** A port or port range that is not integers in 1–65535, reversed, or of mismatched sizes. */
export const ERR_INVALID_PORT = 'ERR_INVALID_PORT'
/** A protocol other than `tcp`, `udp` or `sctp`. */
export const ERR_UNKNOWN_PROTOCOL = 'ERR_UNKNOWN_PROTOCOL'
/** A firewall program (`nft`, `iptables-restore`, …) failed for a reason with no errno name. */
export const ERR_COMMAND_FAILED = 'ERR_COMMAND_FAILED'

/** The kind of each of this package's codes; an errno name's kind is {@link errnoKind}'s. */
const KINDS: Readonly<Record<string, ErrorKind>> = {
  [ERR_INVALID_CONFIG]: 'invalid',
  [ERR_INVALID_INTERFACE_NAME]: 'invalid',
  [ERR_INVALID_CIDR]: 'invalid',
  [ERR_INVALID_ADDRESS]: 'invalid',
  [ERR_INVALID_PORT]: 'invalid',
  [ERR_UNKNOWN_PROTOCOL]: 'invalid',
  [ERR_NOT_SUPPORTED]: 'unsupported',
  [ERR_COMMAND_FAILED]: 'kernel',
}

/**
 * Every error this package throws; check `code` (or `kind`). Besides the `ERR_*` codes above, a
 * failure the kernel reported with an errno carries its name (`EEXIST` for a network or published
 * port that already exists with other rules, or a subnet that overlaps: kind `conflict`; `ENOENT`:
 * `not-found`; `EPERM` and the rest: `kernel`).
 */
export class FirewallError extends CnmError {
  constructor(code: string, message: string, options?: { cause?: unknown; kind?: ErrorKind }) {
    super(
      code,
      options?.kind ?? (Object.hasOwn(KINDS, code) ? (KINDS[code] as ErrorKind) : errnoKind(code)),
      message,
      options,
    )
  }
}
