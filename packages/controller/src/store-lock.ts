import { lstatSync, readFileSync, unlinkSync } from 'node:fs'
import { ControllerError, ERR_STORE_LOCKED } from './errors.js'
import { createExclusive, readSmall } from './small-file.js'

/** Who holds a store's one-writer lock (what `<store>.lock` says). */
export interface StoreLockHolder {
  pid: number
  /** The holder's start time (`/proc/<pid>/stat`, field 22): a reused pid is not the holder. */
  start: string
  /** The holder's API socket, when it serves one (the daemon's `--socket`). */
  socket?: string
}

/** The lock file beside a store: `<store>.lock`. */
export function lockPath(file: string): string {
  return `${file}.lock`
}

/** A process's start time (clock ticks since boot), or undefined when it does not run. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** The lock file's holder as written (never following a symlink), or undefined (none, or unreadable). */
export function readLock(file: string): StoreLockHolder | undefined {
  const text = readSmall(lockPath(file), 4096)
  if (text === undefined) return undefined
  try {
    const raw = JSON.parse(text) as StoreLockHolder
    if (!Number.isInteger(raw?.pid) || typeof raw.start !== 'string') return undefined
    return { pid: raw.pid, start: raw.start, ...(typeof raw.socket === 'string' ? { socket: raw.socket } : {}) }
  } catch {
    return undefined
  }
}

/** Another live process holding the store's lock (its pid runs, started when the lock says), or undefined. */
export function lockHolder(file: string): StoreLockHolder | undefined {
  const holder = readLock(file)
  if (!holder || holder.pid === process.pid) return undefined
  return startTime(holder.pid) === holder.start ? holder : undefined
}

/** The error for a store another process (the daemon) holds: it names that process and its socket. */
export function storeLocked(file: string, holder: StoreLockHolder): ControllerError {
  const via = holder.socket
    ? `; go through it (cnm -H unix://${holder.socket} …, which the cnm command does when it finds this lock)`
    : ''
  const err = new ControllerError(
    ERR_STORE_LOCKED,
    `the store ${file} is held by the cnm daemon (pid ${holder.pid}${holder.socket ? `, socket ${holder.socket}` : ''}): one store has one writer while a daemon runs${via}`,
  )
  return Object.assign(err, { holder })
}

function create(file: string, holder: StoreLockHolder): boolean {
  return createExclusive(lockPath(file), `${JSON.stringify(holder)}\n`)
}

/**
 * Takes the store's one-writer lock for this process (the daemon): `<store>.lock`, created
 * exclusively (O_EXCL, O_NOFOLLOW, 0600) in the store's directory, naming this process (pid and
 * start time) and its socket. A lock another live process holds is `ERR_STORE_LOCKED`; one left by
 * a process that is gone (killed) is taken over (`tookOver`: the store's last writer stopped without
 * closing it). Returns the release (the file goes only while it still names this process).
 */
export function takeStoreLock(file: string, socket: string | undefined): { release: () => void; tookOver: boolean } {
  const me: StoreLockHolder = { pid: process.pid, start: startTime(process.pid) ?? '', ...(socket ? { socket } : {}) }
  let tookOver = false
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file, me)) {
      const written = readLock(file)
      if (written?.pid === me.pid && written.start === me.start) {
        const release = (): void => {
          const now = readLock(file)
          if (now?.pid === me.pid && now.start === me.start) unlinkSync(lockPath(file))
        }
        return { release, tookOver }
      }
      continue // another process replaced it meanwhile: look again
    }
    const holder = lockHolder(file)
    if (holder) throw storeLocked(file, holder)
    // Stale (its process is gone) or unreadable: a regular file of ours to remove, never a link.
    try {
      if (lstatSync(lockPath(file)).isFile()) {
        unlinkSync(lockPath(file))
        tookOver = true
      } else throw new ControllerError(ERR_STORE_LOCKED, `${lockPath(file)} is not a regular file: refusing to use it`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  throw new ControllerError(ERR_STORE_LOCKED, `the store ${file}: could not take its lock ${lockPath(file)}`)
}
