import type { Driver } from '@cnm/driverapi'
import type { Core } from './core.js'

/** How deep each controller is in `inBatch` (calls nest: a reconcile's sync runs inside its batch). */
const depth = new WeakMap<Core, number>()
/** The drivers each controller's current batch has begun one for (ended when the outermost call ends). */
const begun = new WeakMap<Core, Set<Driver>>()

/** Begins a batch for every persistent driver registered now that is not in this batch yet. */
function beginNew(core: Core, inBatchNow: Set<Driver>): void {
  for (const d of core.drivers.values()) {
    if (d.persistence?.beginBatch === undefined || inBatchNow.has(d)) continue
    inBatchNow.add(d)
    d.persistence.beginBatch()
  }
}

/**
 * Runs `fn` with every persistent driver in a batch (`DriverPersistence.beginBatch`): the many
 * restores and liveness checks of a start-up, a sync or a reconcile share one look at the kernel
 * per driver instead of one request per object. Nested calls join the outer batch, and bring into
 * it the drivers made since it began (a start-up's reconcile begins before its sync has made the
 * store's drivers); every driver that began one ends it when the outermost call ends, also when
 * `fn` fails.
 */
export async function inBatch<T>(core: Core, fn: () => Promise<T>): Promise<T> {
  const level = depth.get(core) ?? 0
  if (level > 0) {
    beginNew(core, begun.get(core) ?? new Set())
    depth.set(core, level + 1)
    try {
      return await fn()
    } finally {
      depth.set(core, level)
    }
  }
  const inBatchNow = new Set<Driver>()
  begun.set(core, inBatchNow)
  beginNew(core, inBatchNow)
  depth.set(core, 1)
  try {
    return await fn()
  } finally {
    depth.set(core, 0)
    begun.delete(core)
    for (const d of inBatchNow) d.persistence?.endBatch?.()
  }
}
