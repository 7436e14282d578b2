import type { ConntrackMatch } from '@cnm/netlink'

/** Conntrack flushes run in batches (see {@link createFlushQueue}). */
export interface FlushQueue {
  /** Queues `matches`: resolves once a flush that applied them is done (rejects with its error). */
  add(matches: readonly ConntrackMatch[]): Promise<void>
}

interface Batch {
  matches: ConntrackMatch[]
  done: Promise<void>
}

/**
 * A queue of conntrack flushes that runs one at a time and merges what was asked meanwhile: every
 * flush queued while one runs goes into the next, as one dump of the table. A dump walks the
 * kernel's whole conntrack hash table (262,144 buckets here, ~13 ms on the thread pool) whatever
 * it matches, so ten containers removed at once cost two walks, not ten.
 */
export function createFlushQueue(run: (matches: readonly ConntrackMatch[]) => Promise<void>): FlushQueue {
  /** The batch that has not started yet, which a new flush joins. */
  let next: Batch | undefined
  let last: Promise<unknown> = Promise.resolve()
  return {
    add(matches) {
      if (matches.length === 0) return Promise.resolve()
      if (!next) {
        const batch: Batch = { matches: [], done: Promise.resolve() }
        batch.done = last.then(() => {
          if (next === batch) next = undefined // closed: later flushes make the next batch
          return run(batch.matches)
        })
        last = batch.done.catch(() => undefined)
        next = batch
      }
      next.matches.push(...matches)
      return next.done
    },
  }
}
