/**
 * True when `err`, or an error in its `cause` chain, carries `code`. Works across duplicate
 * installs of a package (where `instanceof` fails) because it looks only at the `code` property.
 */
export function hasErrorCode(err: unknown, code: string): boolean {
  const seen = new Set<unknown>()
  let cur: unknown = err
  while (typeof cur === 'object' && cur !== null && !seen.has(cur)) {
    seen.add(cur)
    if ((cur as { code?: unknown }).code === code) return true
    cur = (cur as { cause?: unknown }).cause
  }
  return false
}

/** The `code` of an error-like value, or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}
