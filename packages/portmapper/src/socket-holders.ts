import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs'

/** A process that has a socket open (one of its descriptors links to `socket:[inode]`). */
export interface SocketHolder {
  pid: number
  /** Its command name (`/proc/<pid>/comm`). */
  command: string
}

/** The entries of a directory, or none (a process that exited meanwhile, or no permission). */
function entries(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The processes holding each of `inodes` (socket inodes, as sock_diag reports them), found through
 * `/proc/<pid>/fd`: what `ss -p` shows. With `uids` (the sockets' owners), only processes of those
 * users are read: a user cannot make the scan slower by opening descriptors in processes of its
 * own unless it owns one of the sockets. A kernel socket, one whose holder runs in another PID
 * namespace, or one closed meanwhile has none. For the rare report, not for a request's path.
 */
export function socketHolders(inodes: ReadonlySet<number>, uids?: ReadonlySet<number>): Map<number, SocketHolder[]> {
  const found = new Map<number, SocketHolder[]>()
  if (inodes.size === 0) return found
  for (const name of entries('/proc')) {
    if (!/^[0-9]+$/u.test(name)) continue
    if (uids) {
      try {
        if (!uids.has(statSync(`/proc/${name}`).uid)) continue
      } catch {
        continue // gone
      }
    }
    const pid = Number(name)
    for (const fd of entries(`/proc/${name}/fd`)) {
      let link: string
      try {
        link = readlinkSync(`/proc/${name}/fd/${fd}`)
      } catch {
        continue
      }
      const m = /^socket:\[([0-9]+)\]$/u.exec(link)
      const inode = m ? Number(m[1]) : undefined
      if (inode === undefined || !inodes.has(inode)) continue
      let command = ''
      try {
        // Any process may name itself (prctl): no control or format characters (a right-to-left
        // override) reach a log or a terminal.
        command = readFileSync(`/proc/${name}/comm`, 'utf8')
          .trim()
          .replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '?')
      } catch {}
      const at = found.get(inode) ?? []
      if (!at.some((h) => h.pid === pid)) at.push({ pid, command })
      found.set(inode, at)
    }
  }
  return found
}
