import { ControllerError, ERR_INVALID_NAME } from './errors.js'

/** At most this many aliases per endpoint. */
export const MAX_ALIASES = 64

/** A DNS name: labels of 1–63 letters, digits, `_` or `-` (not first: `-`), 253 characters in all. */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*$/u

/** Whether `name` can be looked up as a DNS name (an alias, a container name). */
export function isDnsName(name: unknown): name is string {
  return typeof name === 'string' && DNS_NAME.test(name)
}

/**
 * An endpoint's aliases, checked (each a DNS name, case kept; duplicates removed in order) before
 * anything changes: `ERR_INVALID_NAME` naming the bad one.
 */
export function parseAliases(aliases: unknown): string[] {
  if (aliases === undefined) return []
  if (!Array.isArray(aliases)) {
    throw new ControllerError(ERR_INVALID_NAME, `aliases must be a list of names, not ${JSON.stringify(aliases)}`)
  }
  if (aliases.length > MAX_ALIASES) {
    throw new ControllerError(ERR_INVALID_NAME, `${aliases.length} aliases: at most ${MAX_ALIASES}`)
  }
  const out: string[] = []
  for (const alias of aliases) {
    if (!isDnsName(alias)) {
      throw new ControllerError(
        ERR_INVALID_NAME,
        `invalid alias ${JSON.stringify(alias)}: a DNS name (labels of letters, digits, "_" or "-", joined by ".")`,
      )
    }
    if (!out.some((a) => a.toLowerCase() === alias.toLowerCase())) out.push(alias)
  }
  return out
}

/** A sandbox's container name (Docker's rule), checked; undefined when none is given. */
export function parseContainerName(name: unknown): string | undefined {
  if (name === undefined) return undefined
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u.test(name)) {
    throw new ControllerError(
      ERR_INVALID_NAME,
      `invalid container name ${JSON.stringify(name)}: use letters, digits, "_", "." or "-"`,
    )
  }
  return name
}
