import { readFileSync, statSync } from 'node:fs'
import { errorCode } from '@cnm/driverapi'
import { type Handle, isNetnsMounted, openHandle } from '@cnm/netlink'

/** `\040` and the other octal escapes mountinfo writes for spaces, tabs, newlines and backslashes. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/gu, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
}

/**
 * Every network namespace bound at a path (an `nsfs` mount whose root is `net:[…]`), read from
 * `/proc/self/mountinfo`: sandboxes, `ip netns` namespaces, other runtimes' namespaces.
 */
export function boundNetnsPaths(mountinfo?: string): string[] {
  let text = mountinfo
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8')
    } catch {
      return []
    }
  }
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!left || !right?.startsWith('nsfs ')) continue
    const fields = left.split(' ')
    if (!fields[3]?.startsWith('net:[') || !fields[4]) continue
    out.add(unescapeMountPath(fields[4]))
  }
  return [...out]
}

/** Codes that mean "no namespace there (any more)": not an error when looking for a link. */
const GONE = new Set(['ENOENT', 'EINVAL', 'ENOTDIR', 'ERR_INVALID_NETNS_PATH'])

/** A handle on the namespace bound at `key`, or undefined when none is bound there (any more). */
export async function openNamespace(key: string): Promise<Handle | undefined> {
  if (!isNetnsMounted(key)) return undefined
  try {
    return await openHandle({ netns: key })
  } catch (err) {
    if (GONE.has(errorCode(err) ?? '')) return undefined
    throw err
  }
}

function inodeOf(key: string): number | undefined {
  try {
    return statSync(key).ino
  } catch {
    return undefined
  }
}

/**
 * Visits namespaces in the order of `keys` (`''` is the host's namespace, the driver's own handle)
 * until `fn` returns a value, then — with `scan` — every other bound network namespace. Each
 * namespace is visited once (by inode); handles opened here are closed after `fn`.
 */
export async function visitNamespaces<T>(
  host: Handle,
  keys: readonly string[],
  scan: boolean,
  fn: (handle: Handle, key: string) => Promise<T | undefined>,
): Promise<T | undefined> {
  const seen = new Set<number>()
  const visit = async (key: string): Promise<T | undefined> => {
    const ino = key === '' ? host.inode : inodeOf(key)
    if (ino === undefined || seen.has(ino)) return undefined
    seen.add(ino)
    if (ino === host.inode) return fn(host, '')
    const handle = await openNamespace(key)
    if (!handle) return undefined
    try {
      return await fn(handle, key)
    } finally {
      handle.close()
    }
  }
  for (const key of scan ? [...keys, '', ...boundNetnsPaths()] : keys) {
    const found = await visit(key)
    if (found !== undefined) return found
  }
  return undefined
}
