import { CnmError } from './cnm-error.js'
import { DriverError, ERR_INVALID_INTERFACE_NAME } from './errors.js'

/**
 * The endpoint option (and join option) naming the container's interface: `interfaceName`.
 * A driver whose capabilities say `namesInterfaces` takes it in `createEndpoint`'s options.
 */
export const INTERFACE_NAME_OPTION = 'interfaceName'

/** The interface name asked for is already a link in the sandbox's namespace. */
export const ERR_INTERFACE_EXISTS = 'ERR_INTERFACE_EXISTS'

/** Linux's limit: IFNAMSIZ is 16 bytes including the terminating NUL. */
const MAX_BYTES = 15

/** A name asked for a container's interface that the namespace already has (kind `conflict`). */
export class InterfaceExistsError extends DriverError {
  readonly interfaceName: string
  constructor(interfaceName: string, where: string) {
    super(ERR_INTERFACE_EXISTS, 'conflict', `interface ${interfaceName} already exists in ${where}`)
    this.interfaceName = interfaceName
  }
}

/**
 * An `interfaceName` option: undefined when absent, else a name the kernel takes for a link
 * (1–15 bytes, no `/`, `:`, whitespace or control character, not `.` or `..`); anything else is
 * refused with `ERR_INVALID_INTERFACE_NAME` (kind `invalid`) before anything changes.
 */
export function parseInterfaceName(value: unknown, what = INTERFACE_NAME_OPTION): string | undefined {
  if (value === undefined) return undefined
  const fail = (why: string): never => {
    throw new CnmError(
      ERR_INVALID_INTERFACE_NAME,
      'invalid',
      `${what} ${JSON.stringify(value)} is not an interface name: ${why}`,
    )
  }
  if (typeof value !== 'string') return fail('not a string')
  const bytes = new TextEncoder().encode(value).length
  if (bytes === 0) fail('empty')
  if (bytes > MAX_BYTES) fail(`${bytes} bytes, at most ${MAX_BYTES}`)
  if (value === '.' || value === '..') fail('reserved')
  if (value.includes('/') || value.includes(':')) fail('contains "/" or ":"')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\s\u0000-\u001f\u007f]/u.test(value)) fail('contains whitespace or a control character')
  return value
}

/**
 * The name a container's interface gets in a namespace whose links are `taken`: the one asked for
 * (refused with {@link InterfaceExistsError} when the namespace has it), else the first free `ethN`.
 */
export function pickInterfaceName(taken: Iterable<string>, wanted: string | undefined, where: string): string {
  const names = new Set(taken)
  if (wanted !== undefined) {
    if (names.has(wanted)) throw new InterfaceExistsError(wanted, where)
    return wanted
  }
  for (let i = 0; ; i++) if (!names.has(`eth${i}`)) return `eth${i}`
}
