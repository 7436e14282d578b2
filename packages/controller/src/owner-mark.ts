import { lstatSync, unlinkSync } from 'node:fs'
import path from 'node:path'
import { createExclusive, readSmall } from './small-file.js'

/**
 * A sandbox the controller creates gets a small marker file beside it (`.<name>.cnm-owner`, holding
 * the store's id), written before the namespace is made. Reconcile removes an unrecorded namespace
 * only when the marker says it is this store's: another store's sandboxes, and sandboxes a user
 * made with @cnm/sandbox directly, are never taken for strays.
 *
 * Marks are created with O_CREAT|O_EXCL|O_NOFOLLOW (never through a link, never over a file that is
 * there), read with O_NOFOLLOW, and removed only when they are a regular file holding this store's
 * id: cnm never deletes or overwrites a file it did not make.
 */
export function ownerMarkPath(key: string): string {
  return path.join(path.dirname(key), `.${path.basename(key)}.cnm-owner`)
}

/** Creates the mark; false when a file (or link) is already there (nothing is written then). */
export function writeOwnerMark(key: string, owner: string): boolean {
  return createExclusive(ownerMarkPath(key), `${owner}\n`)
}

/** The store id in a mark, or undefined (no mark, not a regular file, or unreadable). */
export function readOwnerMark(key: string): string | undefined {
  return readSmall(ownerMarkPath(key), 128)?.trim()
}

/** Removes the mark if it is a regular file holding `owner`'s id; anything else is left alone. */
export function removeOwnerMark(key: string, owner: string): void {
  const p = ownerMarkPath(key)
  try {
    if (!lstatSync(p).isFile() || readOwnerMark(key) !== owner) return
    unlinkSync(p)
  } catch {
    // Gone already: nothing to remove.
  }
}
