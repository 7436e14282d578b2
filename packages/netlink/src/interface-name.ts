import { ERR_INVALID_INTERFACE_NAME, NetlinkError } from './errors.js'

/** Linux's limit: IFNAMSIZ is 16 bytes including the terminating NUL. */
export const MAX_INTERFACE_NAME_BYTES = 15

/**
 * Throws `ERR_INVALID_INTERFACE_NAME` unless `name` is a name the kernel accepts for a link:
 * 1–15 bytes, no `/`, no `:`, no whitespace or control characters, not `.` or `..`.
 */
export function validateInterfaceName(name: unknown): asserts name is string {
  const fail = (why: string): never => {
    throw new NetlinkError(ERR_INVALID_INTERFACE_NAME, `invalid interface name ${JSON.stringify(name)}: ${why}`)
  }
  if (typeof name !== 'string') return fail('not a string')
  const bytes = Buffer.byteLength(name)
  if (bytes === 0) fail('empty')
  if (bytes > MAX_INTERFACE_NAME_BYTES) fail(`${bytes} bytes, at most ${MAX_INTERFACE_NAME_BYTES}`)
  if (name === '.' || name === '..') fail('reserved')
  if (name.includes('/')) fail('contains "/"')
  if (name.includes(':')) fail('contains ":"')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\s\u0000-\u001f\u007f]/u.test(name)) fail('contains whitespace or a control character')
}

/** True when `name` passes {@link validateInterfaceName}. */
export function isValidInterfaceName(name: unknown): name is string {
  try {
    validateInterfaceName(name)
    return true
  } catch {
    return false
  }
}
