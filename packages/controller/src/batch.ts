import type { Core } from './core.js'

/** How deep each controller is in `inBatch` (calls nest: a reconcile's sync runs inside its batch). */
const depth = new WeakMap<Core, number>()

/**
 * Runs `fn` with every persistent driver in a batch (`DriverPersistence.beginBatch`): the many
 * restores and liveness checks of a start-up, a sync or a reconcile share one look at the kernel
 * per driver instead of one request per object. Nested calls join the outer batch; every driver
 * that began one ends it, also when `fn` fails.
 */
export async function inBatch<T>(core: Core, fn: () => Promise<T>): Promise<T> {
  const level = depth.get(core) ?? 0
  if (level > 0) {
    depth.set(core, level + 1)
    try {
      return await fn()
    } finally {
      depth.set(core, level)
    }
  }
  const began = [...core.drivers.values()].filter((d) => d.persistence?.beginBatch !== undefined)
  for (const d of began) d.persistence?.beginBatch?.()
  depth.set(core, 1)
  try {
    return await fn()
  } finally {
    depth.set(core, 0)
    for (const d of began) d.persistence?.endBatch?.()
  }
}
