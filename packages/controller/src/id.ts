import { randomBytes } from 'node:crypto'

/** A new random id: 64 lowercase hex characters, as Docker's. */
export function generateID(): string {
  return randomBytes(32).toString('hex')
}

/** True for a 64-hex-character id. */
export function isValidID(id: unknown): id is string {
  return typeof id === 'string' && /^[0-9a-f]{64}$/u.test(id)
}
