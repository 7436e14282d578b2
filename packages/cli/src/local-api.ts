import type { CnmApi } from '@cnm/client'
import { type GlobalOptions, withController } from './context.js'
import { mergeReports } from './reconcile-report.js'
import { createServiceApi } from './service/api.js'

/**
 * Runs `fn` on the API done in this process: the controller opened on the store (restored and
 * reconciled), the same operations as the daemon's routes, closed afterwards. `reconcile` reports
 * what opening the store found too.
 */
export function withLocalApi<T>(g: GlobalOptions, fn: (api: CnmApi) => Promise<T>): Promise<T> {
  return withController(g, async (controller) => {
    const api = createServiceApi({
      controller,
      emit: () => undefined,
      info: {
        mode: 'in-process',
        store: g.store,
        sandboxDir: g.sandboxDir,
        listeners: () => [],
        heldPorts: () => 0,
      },
    })
    return fn({ ...api, reconcile: async () => mergeReports(controller.lastReconcile, await controller.reconcile()) })
  })
}
