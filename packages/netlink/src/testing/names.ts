import { randomBytes } from 'node:crypto'

/**
 * A name unique to this test run, at most 15 bytes so it is a valid interface name:
 * `prefix` (up to 7 characters) followed by 8 random base-32 characters.
 */
export function uniqueName(prefix = 't'): string {
  if (!/^[a-z][a-z0-9-]{0,6}$/u.test(prefix)) throw new Error(`uniqueName: bad prefix ${JSON.stringify(prefix)}`)
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let suffix = ''
  for (const b of randomBytes(8)) suffix += alphabet[b & 31]
  return `${prefix}${suffix}`
}

/** The directory under which kernel tests bind their namespaces; each file gets its own below it. */
export const TEST_NETNS_ROOT = '/run/cnm-test'
