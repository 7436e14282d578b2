import { randomFillSync } from 'node:crypto'

/**
 * A copy of an encoded DNS message with another 16-bit id. This is the one place the package
 * writes message bytes itself: an answer from the cache, or an upstream's answer on its way back
 * to the client, differs from the dns-packet encoding only in the id, and re-encoding an upstream's
 * answer would undo its name compression (it could then exceed the client's size).
 */
export function withId(message: Buffer, id: number): Buffer {
  const out = Buffer.from(message)
  out.writeUInt16BE(id & 0xffff, 0)
  return out
}

const pool = new Uint16Array(512)
let next = pool.length

/** A random 16-bit query id (from the system's CSPRNG, drawn in batches). */
export function randomId(): number {
  if (next === pool.length) {
    randomFillSync(pool)
    next = 0
  }
  return pool[next++] as number
}
