import { randomBytes } from 'node:crypto'
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import path from 'node:path'
import { CliError } from '../errors.js'

export const ERR_RESOLVER_DIR = 'ERR_RESOLVER_DIR'

/** A sandbox id as the controller makes them (hex): the only thing that becomes a directory name here. */
const SANDBOX_ID = /^[0-9a-f]{8,64}$/u

function refuse(message: string): CliError {
  return new CliError(ERR_RESOLVER_DIR, message, { kind: 'conflict' })
}

/**
 * A directory cnm owns: created (mode 0755) when missing, else it must be a real directory (not a
 * symbolic link) owned by root (or by this process's user) and writable by nobody else.
 */
function ownDirectory(dir: string): void {
  try {
    mkdirSync(dir, { mode: 0o755 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  const st = lstatSync(dir)
  if (!st.isDirectory())
    throw refuse(`${dir} is not a directory (a symbolic link?): refusing to write resolver files there`)
  const uid = process.geteuid?.() ?? 0
  if (st.uid !== uid && st.uid !== 0)
    throw refuse(`${dir} is owned by uid ${st.uid}, not by cnm: refusing to write there`)
  if ((st.mode & 0o022) !== 0) throw refuse(`${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)})`)
}

/**
 * Writes `text` to `file` without ever following a link: a fresh temporary file beside it
 * (O_CREAT|O_EXCL|O_NOFOLLOW), then renamed over it (rename replaces a link, never writes through it).
 */
function writeFresh(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644)
  try {
    writeSync(fd, text)
  } catch (err) {
    closeSync(fd)
    unlinkSync(tmp)
    throw err
  }
  closeSync(fd)
  try {
    renameSync(tmp, file)
  } catch (err) {
    unlinkSync(tmp)
    throw err
  }
}

/**
 * Whether `file` already holds exactly `text`: a regular file of ours (this process's user or
 * root) writable by nobody else, read without following a link (a link, or anything else, is "no": it is
 * replaced). A read is cheaper than a write, and an unchanged file keeps its inode and mtime, so a
 * bind mount of it in a running sandbox and anything watching it see no change.
 */
function holds(file: string, text: string): boolean {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return false
  }
  try {
    const st = fstatSync(fd)
    const uid = process.geteuid?.() ?? 0
    const want = Buffer.from(text)
    if (!st.isFile() || (st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) return false
    if (st.size !== want.length) return false
    const got = Buffer.alloc(want.length + 1) // one more byte: a file that grew meanwhile is not equal
    let n = 0
    for (let r = 1; r > 0 && n < got.length; n += r) r = readSync(fd, got, n, got.length - n, n)
    return n === want.length && got.subarray(0, n).equals(want)
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
}

/** Writes `text` to `file` (as {@link writeFresh}) unless it holds that already; true when written. */
function writeIfChanged(file: string, text: string): boolean {
  if (holds(file, text)) return false
  writeFresh(file, text)
  return true
}

/** Each sandbox's resolver files, in a directory cnm owns. */
export interface ResolverFiles {
  readonly dir: string
  /**
   * Writes (replaces) a sandbox's files whose content changed, leaving the others untouched;
   * returns their paths and how many were written.
   */
  write(
    sandboxId: string,
    files: { resolvConf: string; hosts: string },
  ): { resolvConf: string; hosts: string; written: number }
  /** Removes a sandbox's files (nothing if none). */
  remove(sandboxId: string): void
  /** The sandbox ids that have files. */
  list(): string[]
}

export function createResolverFiles(dir: string): ResolverFiles {
  if (!path.isAbsolute(dir)) throw refuse(`the resolver directory ${dir} must be an absolute path`)
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o755 })
  ownDirectory(dir)
  const sandboxDir = (id: string): string => {
    if (!SANDBOX_ID.test(id)) throw refuse(`sandbox id ${JSON.stringify(id)} cannot name a resolver directory`)
    return path.join(dir, id)
  }
  return {
    dir,
    write(id, files) {
      const d = sandboxDir(id)
      ownDirectory(d)
      const resolvConf = path.join(d, 'resolv.conf')
      const hosts = path.join(d, 'hosts')
      const written = Number(writeIfChanged(resolvConf, files.resolvConf)) + Number(writeIfChanged(hosts, files.hosts))
      return { resolvConf, hosts, written }
    },
    remove(id) {
      const d = sandboxDir(id)
      let st: ReturnType<typeof lstatSync>
      try {
        st = lstatSync(d)
      } catch {
        return
      }
      // Only a real directory of ours is removed, its files by name (a link is not followed).
      if (!st.isDirectory()) return
      for (const f of ['resolv.conf', 'hosts']) rmSync(path.join(d, f), { force: true })
      rmSync(d, { recursive: true, force: true })
    },
    list() {
      try {
        return readdirSync(dir).filter((n) => SANDBOX_ID.test(n))
      } catch {
        return []
      }
    },
  }
}
