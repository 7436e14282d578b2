import { DnsError, ERR_INVALID_DNS_NAME } from './errors.js'

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/u

/**
 * The form a name is stored and looked up in: lower case, without a trailing dot. Undefined when
 * it is not a name this server can hold: 1–253 characters, dot-separated labels of 1–63 characters
 * from `a-z`, `0-9`, `_` and `-` (not first or last), any case (Docker's container names, plus
 * dots).
 */
export function tryNormalizeName(text: unknown): string | undefined {
  if (typeof text !== 'string') return undefined
  const name = (text.endsWith('.') ? text.slice(0, -1) : text).toLowerCase()
  if (name.length === 0 || name.length > 253) return undefined
  for (const label of name.split('.')) if (!LABEL.test(label)) return undefined
  return name
}

/** As {@link tryNormalizeName}, but throws `ERR_INVALID_DNS_NAME` naming the text. */
export function normalizeName(text: string, what = 'name'): string {
  const name = tryNormalizeName(text)
  if (name === undefined) {
    throw new DnsError(
      ERR_INVALID_DNS_NAME,
      `invalid DNS ${what} ${JSON.stringify(text)}: 1–253 characters, labels of 1–63 of a-z 0-9 _ - (not first or last)`,
    )
  }
  return name
}

/**
 * A name as it arrives in a question, in the stored form: lower case, no trailing dot. No
 * validation (any question may be asked; it simply finds nothing).
 */
export function questionKey(name: string): string {
  const lower = name.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}
