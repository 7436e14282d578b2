import { closeSync, constants, lstatSync, openSync } from 'node:fs'
import { CliError } from '../errors.js'

/** From <sched.h> and <sys/mount.h>. */
const CLONE_NEWNS = 0x00020000
const MS_REC = 0x4000
const MS_SLAVE = 0x80000

export const ERR_EXEC_SETUP = 'ERR_EXEC_SETUP'

/** Files bind-mounted over the sandbox's view of `/etc` (`target` → `source`). */
export interface EtcFiles {
  resolvConf?: string
  hosts?: string
}

/** A file the daemon wrote: a regular file, not a link (checked before it is mounted). */
function regularFile(file: string): boolean {
  try {
    return lstatSync(file).isFile()
  } catch {
    return false
  }
}

/**
 * Moves this process's main thread into a sandbox, as `ip netns exec` does: a private mount
 * namespace (mounts of the host still propagate in, none go out) where the sandbox's resolv.conf
 * and hosts are bind-mounted over `/etc/resolv.conf` and `/etc/hosts`, then the sandbox's network
 * namespace. A program spawned afterwards (from this thread) starts inside both. For a process that
 * only execs a program (`cnm exec`): it never comes back.
 */
export async function enterSandbox(key: string, files: EtcFiles): Promise<void> {
  const { CLONE_NEWNET, MS_BIND, mount, setns, unshare } = await import('@cnm/netlink/syscalls')
  let fd: number
  try {
    fd = openSync(key, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (cause) {
    throw new CliError(ERR_EXEC_SETUP, `sandbox ${key}: cannot open its namespace: ${(cause as Error).message}`, {
      cause,
      kind: 'not-found',
    })
  }
  try {
    const mounts: [source: string, target: string][] = []
    if (files.resolvConf !== undefined) mounts.push([files.resolvConf, '/etc/resolv.conf'])
    if (files.hosts !== undefined) mounts.push([files.hosts, '/etc/hosts'])
    if (mounts.length > 0) {
      unshare(CLONE_NEWNS)
      mount(null, '/', null, MS_REC | MS_SLAVE)
      for (const [source, target] of mounts) {
        if (!regularFile(source)) {
          throw new CliError(ERR_EXEC_SETUP, `${source} is not a regular file: not mounted over ${target}`, {
            kind: 'conflict',
          })
        }
        mount(source, target, null, MS_BIND)
      }
    }
    setns(fd, CLONE_NEWNET)
  } finally {
    closeSync(fd)
  }
}
