import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs'

/**
 * The two ways the controller touches its small marker files (owner marks, the store's lock):
 * create one exclusively and read one back, never through a symbolic link, never over a file that
 * is already there, never blocking on a FIFO someone put in its place.
 */

/** Creates `file` (0600) holding `text`; false when anything (a file, a link) is already there. */
export function createExclusive(file: string, text: string): boolean {
  let fd: number
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    writeSync(fd, text)
  } finally {
    closeSync(fd)
  }
  return true
}

/** The first `max` bytes of `file` as text, or undefined (missing, a link, unreadable). */
export function readSmall(file: string, max: number): string | undefined {
  let fd: number
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.alloc(max)
    return buf.subarray(0, readSync(fd, buf, 0, max, 0)).toString('utf8')
  } catch {
    return undefined
  } finally {
    closeSync(fd)
  }
}
