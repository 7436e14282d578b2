import { closeSync, constants, openSync, statSync, unlinkSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { hasErrorCode } from '@cnm/driverapi'
import { ERR_INVALID_NETNS_PATH, kernelError, NetlinkError } from './errors.js'
import { CLONE_NEWNET, MNT_DETACH, MS_BIND, mount, setns, umount2, unshare } from './syscalls.js'
import { ensureThreadPool } from './thread-pool.js'

/** The calling thread's own network namespace. */
export const CURRENT_NETNS_PATH = '/proc/thread-self/ns/net'

/**
 * Switches the main thread back to its own namespace. If that fails the process would go on in
 * another namespace — every later socket, sysctl and child process in the wrong place — so it stops.
 */
function switchBack(home: number): void {
  try {
    setns(home, CLONE_NEWNET)
  } catch (err) {
    process.stderr.write(`@cnm/netlink: cannot switch back to the process's own network namespace: ${String(err)}\n`)
    process.abort()
  }
}

/** Throws `ERR_INVALID_NETNS_PATH` unless `p` is an absolute, normalised path to a file. */
export function validateNetnsPath(p: unknown): asserts p is string {
  if (typeof p !== 'string' || p.length === 0 || !path.isAbsolute(p) || path.normalize(p) !== p || p.endsWith('/')) {
    throw new NetlinkError(
      ERR_INVALID_NETNS_PATH,
      `invalid namespace path ${JSON.stringify(p)}: must be absolute and normalised`,
    )
  }
  if (p.includes('\0')) throw new NetlinkError(ERR_INVALID_NETNS_PATH, 'invalid namespace path: contains NUL')
}

/** The inode that identifies a network namespace (of a bound file, or of `/proc/.../ns/net`). */
export function netnsInode(nsPath: string = CURRENT_NETNS_PATH): number {
  try {
    return statSync(nsPath).ino
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException
    throw kernelError(-(err.errno ?? -2), `stat namespace ${nsPath}`, cause)
  }
}

/**
 * Runs `fn` with the calling (main) thread switched into the namespace at `nsPath`, then switches
 * back. `fn` must be synchronous: nothing asynchronous may run during a switch.
 */
export function withNetnsSync<T>(nsPath: string, fn: () => T): T {
  const target = openSync(nsPath, constants.O_RDONLY)
  try {
    return withNetnsFdSync(target, fn)
  } finally {
    closeSync(target)
  }
}

/** {@link withNetnsSync} for a namespace given by an open fd. */
export function withNetnsFdSync<T>(nsFd: number, fn: () => T): T {
  const home = openSync(CURRENT_NETNS_PATH, constants.O_RDONLY)
  try {
    setns(nsFd, CLONE_NEWNET)
    try {
      return fn()
    } finally {
      switchBack(home)
    }
  } finally {
    closeSync(home)
  }
}

/**
 * Creates a new, empty network namespace and binds it at `nsPath` so it outlives every process.
 * The file must not exist (EEXIST otherwise); its directory is created. The caller's namespace is
 * unchanged afterwards.
 */
export async function createNetns(nsPath: string): Promise<number> {
  validateNetnsPath(nsPath)
  await ensureThreadPool()
  await mkdir(path.dirname(nsPath), { recursive: true })
  let fd: number
  try {
    fd = openSync(nsPath, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, 0o444)
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException
    throw kernelError(-(err.errno ?? -17), `create namespace file ${nsPath}`, cause)
  }
  closeSync(fd)
  const home = openSync(CURRENT_NETNS_PATH, constants.O_RDONLY)
  try {
    try {
      unshare(CLONE_NEWNET)
      mount(CURRENT_NETNS_PATH, nsPath, 'none', MS_BIND)
    } finally {
      switchBack(home)
    }
  } catch (err) {
    unlinkSync(nsPath)
    throw err
  } finally {
    closeSync(home)
  }
  return netnsInode(nsPath)
}

/**
 * Removes a namespace bound at `nsPath`: detaches the bind mount and unlinks the file. The
 * namespace itself is freed by the kernel once no process or socket holds it.
 */
export function deleteNetns(nsPath: string): void {
  validateNetnsPath(nsPath)
  try {
    umount2(nsPath, MNT_DETACH)
  } catch (err) {
    if (!hasErrorCode(err, 'EINVAL')) throw err // EINVAL: not a mount point
  }
  try {
    unlinkSync(nsPath)
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException
    throw kernelError(-(err.errno ?? -2), `remove namespace file ${nsPath}`, cause)
  }
}

/** True when `nsPath` is a bound network namespace (its inode differs from the plain file's). */
export function isNetnsMounted(nsPath: string): boolean {
  try {
    return statSync(nsPath).dev !== statSync(path.dirname(nsPath)).dev
  } catch {
    return false
  }
}
