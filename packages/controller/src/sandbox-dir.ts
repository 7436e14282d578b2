import { lstatSync, mkdirSync } from 'node:fs'
import path from 'node:path'
import { ControllerError } from './errors.js'

export const ERR_UNSAFE_SANDBOX_DIR = 'ERR_UNSAFE_SANDBOX_DIR'
export const ERR_SANDBOX_KEY_OUTSIDE = 'ERR_SANDBOX_KEY_OUTSIDE'

/** Whether `key` lies directly or deeper inside `dir`. */
export function isInside(dir: string, key: string): boolean {
  const rel = path.relative(dir, key)
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel)
}

/**
 * Makes sure files can be created safely in the directory that will hold a sandbox key: it must be
 * a real directory (not a link), owned by root or by this process's user, and writable by nobody
 * else (no group or other write bit) — otherwise another user could put a link where cnm is about
 * to create a file. The sandbox directory itself (and its missing parents) is created, mode 0755.
 */
export function checkSandboxParent(dir: string, create: boolean): void {
  if (create) mkdirSync(dir, { recursive: true, mode: 0o755 })
  let st: ReturnType<typeof lstatSync>
  try {
    st = lstatSync(dir)
  } catch (cause) {
    throw new ControllerError(ERR_UNSAFE_SANDBOX_DIR, `sandbox directory ${dir} does not exist`, {
      cause,
      kind: 'invalid',
    })
  }
  const me = process.geteuid?.() ?? 0
  const problem = !st.isDirectory()
    ? 'is not a directory (or is a link)'
    : st.uid !== 0 && st.uid !== me
      ? `is owned by uid ${st.uid}`
      : (st.mode & 0o022) !== 0
        ? `is writable by others (mode ${(st.mode & 0o777).toString(8)})`
        : undefined
  if (problem) {
    throw new ControllerError(
      ERR_UNSAFE_SANDBOX_DIR,
      `refusing to create a sandbox in ${dir}: it ${problem}, so another user could redirect cnm's files`,
      { kind: 'invalid' },
    )
  }
}
