import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

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
 * `/proc/<pid>/fd`: what `ss -p` shows. A socket whose holder runs in another PID namespace, or that
 * was closed meanwhile, has none. Reads every process's descriptors: for the rare report, not for a
 * request's path.
 */
export function socketHolders(inodes: ReadonlySet<number>): Map<number, SocketHolder[]> {
  const found = new Map<number, SocketHolder[]>()
  if (inodes.size === 0) return found
  for (const name of entries('/proc')) {
    if (!/^[0-9]+$/u.test(name)) continue
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
        // Any process may name itself (prctl): no control characters reach a log or a terminal.
        command = readFileSync(`/proc/${name}/comm`, 'utf8')
          .trim()
          .replace(/\p{Cc}/gu, '?')
      } catch {}
      const at = found.get(inode) ?? []
      if (!at.some((h) => h.pid === pid)) at.push({ pid, command })
      found.set(inode, at)
    }
  }
  return found
}
