import type { NetworkController } from '@cnm/controller'
import type { LazySandbox } from './lazy-sandbox.js'

/** What every CNI operation works with: an open controller and cnm's attachment directory. */
export interface CniContext {
  controller: NetworkController
  /** Where attachments' namespaces are bound (default `/run/cnm/cni`). */
  cniDir: string
  /** Namespaces lent to the controller's joins, by key: released after each operation. */
  lent: Map<string, LazySandbox>
}

/**
 * The state one CNI call runs with: the controller (opened in process, or the daemon's) and the
 * directory `cniDir` where attachments' namespaces are bound (`/run/cnm/cni` unless `CNM_CNI_DIR`
 * says otherwise, see `localPaths`), with no lent namespaces yet.
 */
export function createCniContext(controller: NetworkController, cniDir: string): CniContext {
  return { controller, cniDir, lent: new Map() }
}
