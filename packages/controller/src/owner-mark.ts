import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'

/**
 * A sandbox the controller creates gets a small marker file beside it (`.<name>.cnm-owner`, holding
 * the store's id), written before the namespace is made. Reconcile removes an unrecorded namespace
 * only when the marker says it is this store's: another store's sandboxes, and sandboxes a user
 * made with @cnm/sandbox directly, are never taken for strays.
 */
export function ownerMarkPath(key: string): string {
  return path.join(path.dirname(key), `.${path.basename(key)}.cnm-owner`)
}

export function writeOwnerMark(key: string, owner: string): void {
  writeFileSync(ownerMarkPath(key), `${owner}\n`, { mode: 0o600 })
}

export function readOwnerMark(key: string): string | undefined {
  try {
    return readFileSync(ownerMarkPath(key), 'utf8').trim()
  } catch {
    return undefined
  }
}

export function removeOwnerMark(key: string): void {
  rmSync(ownerMarkPath(key), { force: true })
}
