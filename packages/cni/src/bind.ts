import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  statfsSync,
  statSync,
  unlinkSync,
} from 'node:fs'
import path from 'node:path'
import { hasErrorCode } from '@cnm/driverapi'
import { isNetnsMounted, MNT_DETACH, MS_BIND, mount, umount2, withNetnsFdSync } from '@cnm/netlink'
import { CNI_ERROR, CniError, ERR_CNI_NETNS, ERR_CNI_UNSAFE_DIR } from './errors.js'

/**
 * The directory where cnm binds attachments' namespaces: created (mode 0700) when missing, and
 * refused unless it is a real directory owned by root (or this user) that nobody else can write,
 * so no one can put a link where cnm creates a file.
 */
export function ensureCniDir(dir: string): void {
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 })
  try {
    mkdirSync(dir, { mode: 0o700 })
  } catch (err) {
    if (!hasErrorCode(err, 'EEXIST')) throw err
  }
  const st = lstatSync(dir)
  const me = process.geteuid?.() ?? 0
  const problem = !st.isDirectory()
    ? 'is not a directory (or is a link)'
    : st.uid !== 0 && st.uid !== me
      ? `is owned by uid ${st.uid}`
      : (st.mode & 0o022) !== 0
        ? `is writable by others (mode ${(st.mode & 0o777).toString(8)})`
        : undefined
  if (problem) {
    throw new CniError(
      ERR_CNI_UNSAFE_DIR,
      'invalid',
      CNI_ERROR.IO_FAILURE,
      `refusing the CNI state directory ${dir}: it ${problem}`,
    )
  }
}

/** Linux's O_PATH (not in Node's constants): names a file without opening it for reading. */
const O_PATH = 0o10000000
/** statfs type of the namespace file system (`/proc/<pid>/ns/*`, and binds of those). */
const NSFS_MAGIC = 0x6e736673

/**
 * Opens `runtimePath` (`/run/netns/…`, `/proc/<pid>/ns/net`, …) once and checks that what it names
 * is a network namespace now: the path is first only named (O_PATH) and must be a namespace file,
 * so a FIFO, socket or device there is refused without being opened (a FIFO's open would block
 * the daemon's thread for good); then that very file is opened through its fd and the thread
 * enters it for an instant (setns with CLONE_NEWNET refuses anything else) and comes back. The fd
 * pins the very object checked, so a path swapped meanwhile cannot substitute another file. The
 * caller closes it.
 */
export function openNetns(runtimePath: string): { fd: number; ino: number } {
  let fd: number | undefined
  let named: number | undefined
  try {
    named = openSync(runtimePath, O_PATH) // libuv opens every fd close-on-exec
    if (statfsSync(`/proc/self/fd/${named}`).type !== NSFS_MAGIC) throw new Error('not a namespace file')
    fd = openSync(`/proc/self/fd/${named}`, constants.O_RDONLY)
    const opened = fd
    withNetnsFdSync(opened, () => undefined)
    return { fd: opened, ino: fstatSync(opened).ino }
  } catch (cause) {
    if (fd !== undefined) closeSync(fd)
    throw new CniError(
      ERR_CNI_NETNS,
      'not-found',
      CNI_ERROR.UNKNOWN_CONTAINER,
      `CNI_NETNS ${runtimePath} is not a network namespace (${(cause as Error).message})`,
      { cause },
    )
  } finally {
    if (named !== undefined) closeSync(named)
  }
}

/** The inode of the network namespace at `runtimePath` (checked as {@link openNetns} does). */
export function checkNetns(runtimePath: string): number {
  const { fd, ino } = openNetns(runtimePath)
  closeSync(fd)
  return ino
}

/**
 * Binds the runtime's namespace at `key`, so the container's attachments are tied to that very
 * namespace (a `/proc/<pid>/ns/net` path may name another one once the process is gone). The file is
 * created with O_EXCL|O_NOFOLLOW. A bind already there for the same namespace (another attachment of
 * the container) is kept, and its undo does nothing; one of another namespace is a conflict.
 */
export function bindNetns(runtimePath: string, key: string): () => void {
  const ns = openNetns(runtimePath)
  try {
    // A container's namespace is never the host's own (where cnm's bridges, routes and rules live).
    if (ns.ino === statSync('/proc/self/ns/net').ino) {
      throw new CniError(
        ERR_CNI_NETNS,
        'invalid',
        CNI_ERROR.INVALID_ENVIRONMENT,
        `CNI_NETNS ${runtimePath} is the host's own network namespace: refusing to attach a container there`,
      )
    }
    if (isNetnsMounted(key)) {
      if (statSync(key).ino === ns.ino) return () => undefined
      throw new CniError(
        ERR_CNI_NETNS,
        'conflict',
        CNI_ERROR.CONFLICT,
        `the container's attachments are bound at ${key} to another namespace than ${runtimePath}`,
      )
    }
    let fd: number
    try {
      fd = openSync(key, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o444)
    } catch (cause) {
      if (!hasErrorCode(cause, 'EEXIST')) throw cause
      // A plain empty file from a cut-short bind: cnm's own, in its own directory.
      const st = lstatSync(key)
      if (!st.isFile() || st.size !== 0)
        throw new CniError(ERR_CNI_NETNS, 'conflict', CNI_ERROR.CONFLICT, `${key} exists and is not cnm's`)
      fd = openSync(key, constants.O_RDONLY | constants.O_NOFOLLOW)
    }
    closeSync(fd)
    try {
      // The namespace checked above, through its fd: never the path again.
      mount(`/proc/self/fd/${ns.fd}`, key, 'none', MS_BIND)
    } catch (err) {
      unlinkSync(key)
      throw err
    }
    return () => unbindNetns(key)
  } finally {
    closeSync(ns.fd)
  }
}

/** Removes an attachment's bind (nothing when it is not there). */
export function unbindNetns(key: string): void {
  try {
    umount2(key, MNT_DETACH)
  } catch (err) {
    if (!hasErrorCode(err, 'EINVAL') && !hasErrorCode(err, 'ENOENT')) throw err
  }
  try {
    if (lstatSync(key).isFile()) unlinkSync(key)
  } catch (err) {
    if (!hasErrorCode(err, 'ENOENT')) throw err
  }
}
