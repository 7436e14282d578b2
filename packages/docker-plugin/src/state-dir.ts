import { randomBytes } from 'node:crypto'
import { fstatSync, lstatSync, mkdirSync, readdirSync, type Stats, unlinkSync } from 'node:fs'
import path from 'node:path'
import { DockerPluginError, ERR_DOCKER_STATE } from './errors.js'

const me = (): number => process.geteuid?.() ?? 0

/** Why a file or directory's mode lets someone else change it, or undefined. */
const writableByOthers = (mode: number): string | undefined =>
  (mode & 0o022) !== 0 ? `is writable by group or others (mode ${(mode & 0o777).toString(8)})` : undefined

/**
 * Checks (and, when missing, creates 0700) the directory the state file lies in, as `@cnm/cni`'s
 * `ensureCniDir` does: a directory (not a symbolic link), owned by root or the daemon's uid, that
 * neither group nor others can write; so nobody else can plant, replace or pre-create the state
 * file, its journal or its temporary files there.
 */
export function checkStateDir(dir: string): void {
  let st: Stats
  try {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    st = lstatSync(dir)
  } catch (err) {
    throw new DockerPluginError(ERR_DOCKER_STATE, `state directory ${dir}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  const problem = !st.isDirectory()
    ? 'is not a directory (or is a link)'
    : st.uid !== 0 && st.uid !== me()
      ? `is owned by uid ${st.uid}`
      : writableByOthers(st.mode)
  if (problem) {
    throw new DockerPluginError(ERR_DOCKER_STATE, `refusing the state directory ${dir}: it ${problem}`, {
      kind: 'invalid',
    })
  }
}

/**
 * Checks a state file cnm opened (`fd`, never through a link): a regular file owned by the
 * daemon's uid that neither group nor others can write; else it was not cnm's writing, and is
 * refused.
 */
export function checkOwnFile(fd: number, what: string): void {
  const st = fstatSync(fd)
  const problem = !st.isFile()
    ? 'is not a regular file'
    : st.uid !== me()
      ? `is owned by uid ${st.uid}, not the daemon's (${me()})`
      : writableByOthers(st.mode)
  if (problem) throw new DockerPluginError(ERR_DOCKER_STATE, `refusing ${what}: it ${problem}`, { kind: 'invalid' })
}

/** A new temporary name beside `file` that nobody can guess beforehand (64 random bits). */
export function tempName(file: string): string {
  return `${file}.${randomBytes(8).toString('hex')}.tmp`
}

/** The part between `<file>.` and `.tmp` of a temporary name: {@link tempName}'s, or an old pid. */
const TEMP_MIDDLE = /^(?:[0-9a-f]{16}|[0-9]{1,10})$/u

/**
 * Removes the temporary files a crash left beside `file` (its own random names, and the
 * `<file>.<pid>.tmp` of older versions): only cnm can create files in the checked directory.
 */
export function removeStaleTemps(file: string): void {
  const dir = path.dirname(file)
  const prefix = `${path.basename(file)}.`
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue
    if (!TEMP_MIDDLE.test(name.slice(prefix.length, -'.tmp'.length))) continue
    try {
      unlinkSync(path.join(dir, name)) // a link itself, never what it names
    } catch {} // gone meanwhile, or not removable: it only takes room
  }
}
