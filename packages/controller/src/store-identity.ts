import { closeSync, constants, openSync, readSync, statSync, writeSync } from 'node:fs'

/**
 * A store's identity, kept twice: inside the database (`meta.store_id`) and in a small file beside
 * it (`<store>.id`, created once with O_EXCL|O_NOFOLLOW). When the database comes back empty — a
 * truncated file, a removed WAL — its new id differs from the file's, and the controller refuses
 * to go on (`ERR_STORE_MISMATCH`) instead of silently orphaning every kernel object marked with the
 * old id.
 */
export function identityPath(file: string): string {
  return `${file}.id`
}

/** The id recorded beside the store, or undefined (none yet, or unreadable). */
export function readIdentity(file: string): string | undefined {
  let fd: number
  try {
    fd = openSync(identityPath(file), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const buf = Buffer.alloc(64)
    const id = buf
      .subarray(0, readSync(fd, buf, 0, buf.length, 0))
      .toString('utf8')
      .trim()
    return /^[0-9a-f]{16}$/u.test(id) ? id : undefined
  } finally {
    closeSync(fd)
  }
}

/** Records `id` beside the store, unless a file is already there. */
export function writeIdentity(file: string, id: string): void {
  let fd: number
  try {
    fd = openSync(
      identityPath(file),
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    )
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return
    throw err
  }
  try {
    writeSync(fd, `${id}\n`)
  } finally {
    closeSync(fd)
  }
}

/** The file's device and inode, or undefined when it is gone. */
export function fileIdentity(file: string): string | undefined {
  try {
    const st = statSync(file)
    return `${st.dev}:${st.ino}`
  } catch {
    return undefined
  }
}

/** The file's size in bytes (0 when it is gone). */
export function fileSize(file: string): number {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}
